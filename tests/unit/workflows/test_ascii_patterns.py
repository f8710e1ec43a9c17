"""Look-alike digits never pass as digits: every pattern of every shipped workflow (parameters and
manual-step inputs), the durations, and the checks that use them (planner, machine, offers)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.runtime import DEFINITIONS_DIR
from workflows.definition import Definition, ParameterSpec, load_definitions
from workflows.errors import InvalidParameters
from workflows.patterns import fullmatch
from workflows.planner import check_params
from workflows.step_models import GroupDef, InputSpec, parse_duration

SHIPPED = load_definitions(DEFINITIONS_DIR)
# One look-alike per ASCII digit, from several scripts: mathematical bold, Arabic-Indic,
# fullwidth, Devanagari.
LOOK_ALIKES = {
    "bold": {str(d): chr(0x1D7CE + d) for d in range(10)},
    "arabic-indic": {str(d): chr(0x0660 + d) for d in range(10)},
    "fullwidth": {str(d): chr(0xFF10 + d) for d in range(10)},
    "devanagari": {str(d): chr(0x0966 + d) for d in range(10)},
}


def specs(defn: Definition) -> list[ParameterSpec | InputSpec]:
    found: list[ParameterSpec | InputSpec] = list(defn.parameters)
    for item in defn.steps:
        steps = item.steps if isinstance(item, GroupDef) else [item]
        for step in steps:
            found.extend(step.inputs)
    return found


PATTERNS = sorted({(name, s.name, s.pattern) for name, d in SHIPPED.items() for s in specs(d)
                   if s.pattern})


def test_the_shipped_workflows_have_digit_patterns_to_check() -> None:
    """Not vacuous: the shipped versions, heights and windows are matched by \\d."""
    assert sum(1 for *_, p in PATTERNS if "\\d" in p) >= 5


@pytest.mark.parametrize(("workflow", "field", "pattern"), PATTERNS,
                         ids=[f"{w}.{f}" for w, f, _ in PATTERNS])
@settings(max_examples=12, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_no_pattern_takes_a_look_alike_digit_for_a_digit(
    workflow: str, field: str, pattern: str, data: st.DataObject
) -> None:
    """A value the pattern accepts, with one of its digits swapped for a look-alike, is
    accepted only where the pattern takes any character there (a letter that is no digit is
    accepted too): never as a digit."""
    value = data.draw(st.from_regex(re.compile(pattern, re.ASCII), fullmatch=True)
                      .filter(lambda v: v.isascii() and any(c.isdigit() for c in v)))
    assert fullmatch(pattern, value)
    script = data.draw(st.sampled_from(sorted(LOOK_ALIKES)))
    at = data.draw(st.sampled_from([i for i, c in enumerate(value) if c.isdigit()]))
    swapped = value[:at] + LOOK_ALIKES[script][value[at]] + value[at + 1:]
    if fullmatch(pattern, swapped):
        assert fullmatch(pattern, value[:at] + "\u00e9" + value[at + 1:]), (swapped, pattern)


@pytest.mark.parametrize("script", sorted(LOOK_ALIKES))
def test_a_look_alike_version_height_or_window_is_refused_when_a_run_is_planned(
    script: str
) -> None:
    """promote with a look-alike version, rollback with a look-alike height, and any workflow
    with a look-alike window: InvalidParameters naming the parameter."""
    digits = LOOK_ALIKES[script]

    def fake(text: str) -> str:
        return "".join(digits.get(c, c) for c in text)

    promote = {"version": "v1.4.2", "git_sha": "3f9c2ab", "environment": "testnet"}
    check_params(SHIPPED["promote"], promote)  # the ASCII original is fine
    cases = [
        ("promote", {**promote, "version": fake("v1.4.2")}, "version"),
        ("promote", {**promote, "canary_window": fake("3h")}, "canary_window"),
        ("promote", {**promote, "wave_window": fake("20m")}, "wave_window"),
        ("rollback", {"environment": "testnet", "version": "v1.4.3",
                      "lkg_height": fake("1200")}, "lkg_height"),
        ("rollback", {"environment": "testnet", "version": fake("v1.4.3")}, "version"),
    ]
    for workflow, params, name in cases:
        if SHIPPED[workflow].parameter(name) is None:
            continue
        with pytest.raises(InvalidParameters) as refused:
            check_params(SHIPPED[workflow], params)
        assert refused.value.parameter == name


@pytest.mark.parametrize("text", ["\u0663s", "\U0001D7CF\U0001D7CEm", "\uff11h",
                                  "1\u0665s", "\u0969.5m"])
def test_a_duration_in_look_alike_digits_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_an_ascii_duration_still_is() -> None:
    assert parse_duration("3s") == timedelta(seconds=3)
    assert parse_duration("1.5m") == timedelta(seconds=90)
