"""Safe templating of step arguments: lookups only, typed whole values, clear missing values."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.workflows.runs import make_run, step
from workflows.template import TemplateError, context_for, render

CONTEXT: dict[str, Any] = {
    "version": "v1.4.2",
    "lkg": {"height": 120, "hash": "ab12", "nodes": [{"name": "n1"}, {"name": "n2"}]},
    "zero": 0,
    "flag": False,
    "wave": {"index": 2, "nodes": ["n3", "n4"]},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ version }}", "v1.4.2"),
        ("{{lkg.height}}", 120),
        ("  {{ lkg.height }} ", 120),
        ("{{ lkg.nodes.1.name }}", "n2"),
        ("{{ wave.nodes }}", ["n3", "n4"]),
        ("{{ zero }}", 0),
        ("{{ flag }}", False),
        ("at {{ lkg.height }} ({{ lkg.hash }})", "at 120 (ab12)"),
        ("no template here", "no template here"),
        (
            {"a": ["{{ version }}", {"b": "{{ lkg.height }}"}], "n": 3},
            {"a": ["v1.4.2", {"b": 120}], "n": 3},
        ),
    ],
)
def test_render(template: Any, expected: Any) -> None:
    """A whole-string template keeps the value's type; embedded ones become text; nesting works."""
    assert render(template, CONTEXT) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{{ missing }}",
        "{{ lkg.depth }}",
        "{{ lkg.nodes.7.name }}",
        "x {{ nope }} y",
        "{{ __class__ }}",
    ],
)
def test_missing_value_is_a_template_error(template: str) -> None:
    """A value the run lacks raises TemplateError (names are dict keys, never attributes)."""
    with pytest.raises(TemplateError, match="no value for"):
        render(template, CONTEXT)


def test_no_code_is_evaluated() -> None:
    """Expressions are not templates: they are left as text, never evaluated."""
    text = "{{ 1 + 1 }} {{ version.upper() }} {% if x %}"
    assert render(text, CONTEXT) == text


def test_context_has_params_captures_and_builtins() -> None:
    """Steps see parameters, captured values and the run's builtins (builtins win on a clash)."""
    run = make_run(step("a"))
    run = run.model_copy(
        update={"params": {"version": "v1"}, "values": {"height": 7, "run_id": "spoofed"}}
    )
    context = context_for(run, run.plan[0], run.updated_at)
    assert context["version"] == "v1"
    assert context["height"] == 7
    assert context["run_id"] == run.id
    assert context["initiator"] == run.initiator
    assert context["environment"] == "devnet"
    assert context["plan_hash"] == run.plan_hash
    assert context["wave"] == {}
