"""Load-time validation of workflow definitions: bad YAML is refused naming file and step."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from workflows.definition import Definition, load_definition, load_definitions
from workflows.definition_checks import template_names
from workflows.errors import DefinitionError
from workflows.step_models import GroupDef, StepDef, StepKind, TargetSpec, parse_duration

HEAD = """\
name: demo
title: Demo
parameters:
  - name: version
  - name: environment
steps:
"""


def write(tmp_path: Path, steps: str, *, head: str = HEAD, name: str = "demo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(head + textwrap.indent(textwrap.dedent(steps), "  "), encoding="utf-8")
    return path


REFUSED = [
    pytest.param(
        """
        - id: a
          title: A
          kind: ssh
        """,
        ["step a", "kind"],
        id="unknown-kind",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: manual
        - group: wave
          foreach: waves
          steps:
            - id: deploy
              title: Deploy
              kind: teleport
        """,
        ["step wave.deploy", "kind"],
        id="unknown-kind-in-group",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: manual
        - id: a
          title: A again
          kind: manual
        """,
        ["step a", "duplicate"],
        id="duplicate-top-level",
    ),
    pytest.param(
        """
        - group: wave
          foreach: waves
          steps:
            - id: deploy
              title: Deploy
              kind: manual
            - id: deploy
              title: Deploy again
              kind: manual
        """,
        ["step wave.deploy", "duplicate"],
        id="duplicate-in-group",
    ),
    pytest.param(
        """
        - id: wave
          title: A
          kind: manual
        - group: wave
          foreach: waves
          steps:
            - id: deploy
              title: Deploy
              kind: manual
        """,
        ["'wave'", "duplicate"],
        id="group-named-like-a-step",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: rpc
          with: {height: "{{ lkg_height }}"}
        """,
        ["step a", "lkg_height"],
        id="reference-never-captured",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: rpc
          with: {height: "{{ lkg_height }}"}
        - id: b
          title: B
          kind: rpc
          capture: {lkg_height: result.height}
        """,
        ["step a", "lkg_height"],
        id="reference-captured-later",
    ),
    pytest.param(
        """
        - id: a
          title: "Check height {{ lkg.height }}"
          kind: manual
        """,
        ["step a", "lkg"],
        id="reference-in-title",
    ),
    pytest.param(
        """
        - group: wave
          foreach: waves
          steps:
            - id: deploy
              title: Deploy
              kind: rpc
              with: {hash: "{{ tip_hash }}"}
            - id: check
              title: Check
              kind: rpc
              capture: {tip_hash: result.hash}
        """,
        ["step wave.deploy", "tip_hash"],
        id="reference-captured-later-in-group",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: manual
          on_success: nowhere
        """,
        ["step a", "on_success", "nowhere"],
        id="on-success-to-missing-step",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: manual
          on_failure: nowhere
        """,
        ["step a", "on_failure", "nowhere"],
        id="on-failure-to-missing-step",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: manual
          on_success: abort
        """,
        ["step a", "on_success"],
        id="on-success-abort",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: manual
          on_failure: next
        """,
        ["step a", "on_failure"],
        id="on-failure-next",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: manual
        - group: wave
          foreach: waves
          steps:
            - id: deploy
              title: Deploy
              kind: manual
        - id: b
          title: B
          kind: manual
          on_failure: deploy
        """,
        ["step b", "on_failure", "deploy"],
        id="goto-into-a-group-from-outside",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: manual
          on_success: a
        """,
        ["a", "loop", "max_visits"],
        id="self-loop-unbounded",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: manual
        - id: b
          title: B
          kind: manual
          on_failure: a
        - id: c
          title: C
          kind: manual
          on_success: b
        """,
        ["a, b, c", "loop", "max_visits"],
        id="cycle-unbounded",
    ),
    pytest.param(
        """
        - group: wave
          foreach: waves
          steps:
            - id: deploy
              title: Deploy
              kind: manual
            - id: check
              title: Check
              kind: manual
              on_failure: deploy
        """,
        ["wave.deploy, wave.check", "loop"],
        id="cycle-in-group-unbounded",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: approval
        """,
        ["step a", "approval"],
        id="approval-without-policy",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: approval
          approval: {groups: []}
        """,
        ["step a", "groups"],
        id="approval-without-groups",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: approval
          approval: {groups: [release], quorum: 0}
        """,
        ["step a", "quorum"],
        id="approval-quorum-zero",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: rpc
          targets: {select: some}
        """,
        ["step a", "some"],
        id="target-select-unknown",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: rpc
          targets: {select: "role:"}
        """,
        ["step a", "role:"],
        id="target-select-empty-role",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: rpc
          targets: {select: all, extra: 1}
        """,
        ["step a", "extra"],
        id="target-unknown-field",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: rpc
          targets: {select: wave}
        """,
        ["step a", "wave"],
        id="wave-targets-outside-a-group",
    ),
    pytest.param(
        """
        - id: a
          title: "Wave {{ wave.index }}"
          kind: manual
        """,
        ["step a", "wave"],
        id="wave-template-outside-a-group",
    ),
    pytest.param(
        """
        - id: A_Step
          title: A
          kind: manual
        """,
        ["step A_Step", "id"],
        id="step-id-form",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: manual
          inputs:
            - {name: checksum, label: Checksum, pattern: "[0-9a-f{64}"}
        """,
        ["step a", "regular expression"],
        id="input-pattern-not-a-regex",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: manual
          retries: 21
        """,
        ["step a", "retries"],
        id="too-many-retries",
    ),
]


@pytest.mark.parametrize(("steps", "expected"), REFUSED)
def test_bad_definition_is_refused_naming_file_and_step(
    tmp_path: Path, steps: str, expected: list[str]
) -> None:
    """Each kind of bad definition is refused at load with the file and the step in the message."""
    path = write(tmp_path, steps)
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    message = str(caught.value)
    assert message.startswith("demo.yaml: ")
    for part in expected:
        assert part in message
    assert caught.value.code == "definition_invalid"


BAD_DURATIONS = ["5 minutes", "-5s", "-5", "abc", "true", ".inf", ".nan", "99999999999d", "5w"]


@pytest.mark.parametrize("value", BAD_DURATIONS)
@pytest.mark.parametrize("field", ["timeout", "retry_delay"])
def test_bad_step_duration_is_refused(tmp_path: Path, field: str, value: str) -> None:
    """A duration that is not a non-negative time is refused naming the step and the field."""
    path = write(tmp_path, f"- {{id: a, title: A, kind: manual, {field}: {value}}}\n")
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    assert "demo.yaml" in str(caught.value)
    assert "step a" in str(caught.value)
    assert field in str(caught.value)


@pytest.mark.parametrize("field", ["expires_after", "remind_every"])
@pytest.mark.parametrize("value", ["-1h", "-30", "soon"])
def test_bad_approval_duration_is_refused(tmp_path: Path, field: str, value: str) -> None:
    """A negative or malformed expiry or reminder interval is refused (it would fire at once)."""
    path = write(
        tmp_path,
        f"- {{id: a, title: A, kind: approval, approval: {{groups: [g], {field}: {value}}}}}\n",
    )
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    assert "step a" in str(caught.value)
    assert field in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("250ms", timedelta(milliseconds=250)),
        ("1.5h", timedelta(minutes=90)),
        (" 10 ", timedelta(seconds=10)),
        (30, timedelta(seconds=30)),
        (0, timedelta(0)),
        (2.5, timedelta(seconds=2.5)),
        (timedelta(minutes=1), timedelta(minutes=1)),
    ],
)
def test_duration_forms(value: object, expected: timedelta) -> None:
    """Durations are written as '90s', '5m', '2h', '1d', '250ms' or a number of seconds."""
    assert parse_duration(value) == expected


def test_iso_duration_round_trips_through_the_model() -> None:
    """A definition dumped to JSON (ISO 8601 durations) validates back to the same model."""
    step = StepDef.model_validate({"id": "a", "title": "A", "kind": "manual", "timeout": "5m"})
    again = StepDef.model_validate_json(step.model_dump_json(by_alias=True))
    assert again.timeout == timedelta(minutes=5)


GOOD = [
    pytest.param(
        """
        - id: a
          title: A
          kind: rpc
          capture: {lkg_height: result.height}
        - id: b
          title: "Restore to {{ lkg_height }}"
          kind: rpc
          with: {height: "{{ lkg_height }}", nested: ["{{ lkg_height.x }}"]}
        """,
        id="captured-earlier",
    ),
    pytest.param(
        """
        - id: a
          title: "Promote {{ version }} on {{ environment }}"
          kind: rpc
          with: {run: "{{ run_id }}", by: "{{ initiator }}", hash: "{{ plan_hash }}"}
        """,
        id="parameters-and-builtins",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: manual
          max_visits: 3
        - id: b
          title: B
          kind: manual
          on_failure: a
        """,
        id="bounded-loop",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: manual
          on_success: a
          max_visits: 2
        """,
        id="bounded-self-loop",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: manual
          on_success: c
        - id: b
          title: B
          kind: manual
        - id: c
          title: C
          kind: manual
          on_failure: abort
        """,
        id="forward-goto-is-no-loop",
    ),
    pytest.param(
        """
        - id: rollback
          title: Rollback
          kind: manual
          on_success: done
        - group: wave
          foreach: waves
          steps:
            - id: deploy
              title: "Deploy wave {{ wave.index }}"
              kind: rpc
              targets: {select: wave}
              capture: {tip: result.hash}
            - id: check
              title: Check
              kind: health
              with: {tip: "{{ tip }}"}
              targets: {select: wave-cumulative}
              on_failure: rollback
        - id: done
          title: Done
          kind: bot
        """,
        id="group-with-gotos-out",
    ),
    pytest.param(
        """
        - id: a
          title: A
          kind: rpc
          targets: {select: "role:validator", environment: staging}
        - id: b
          title: B
          kind: rpc
          targets: {nodes: [n1, n2]}
        """,
        id="role-and-explicit-targets",
    ),
]


@pytest.mark.parametrize("steps", GOOD)
def test_good_definition_loads(tmp_path: Path, steps: str) -> None:
    """Captures used after they are made, builtins, bounded loops and group gotos are accepted."""
    defn = load_definition(write(tmp_path, steps))
    assert isinstance(defn, Definition)
    assert defn.name == "demo"
    assert len(defn.version) == 12


def test_loaded_definition_fills_defaults() -> None:
    """rpc/health steps default to all targets, and webhook steps are always write steps."""
    rpc = StepDef.model_validate({"id": "a", "title": "A", "kind": "rpc"})
    webhook = StepDef.model_validate({"id": "b", "title": "B", "kind": "webhook"})
    manual = StepDef.model_validate({"id": "c", "title": "C", "kind": "manual"})
    assert rpc.targets == TargetSpec()
    assert webhook.effect.value == "write"
    assert manual.targets is None


def test_groups_are_parsed_as_groups(tmp_path: Path) -> None:
    """A `group:` item becomes a GroupDef whose steps are listed as '<group>.<id>'."""
    defn = load_definition(
        write(
            tmp_path,
            """
            - {id: a, title: A, kind: manual}
            - group: wave
              foreach: waves
              steps:
                - {id: deploy, title: D, kind: manual}
                - {id: check, title: C, kind: manual}
            """,
        )
    )
    assert isinstance(defn.steps[0], StepDef)
    assert isinstance(defn.steps[1], GroupDef)
    assert defn.steps[0].kind is StepKind.MANUAL
    assert defn.flat_ids() == ["a", "wave.deploy", "wave.check"]


def test_version_is_a_hash_of_the_text(tmp_path: Path) -> None:
    """Two different texts give different versions; an explicit version is kept."""
    one = load_definition(write(tmp_path, "- {id: a, title: A, kind: manual}\n", name="a.yaml"))
    two = load_definition(write(tmp_path, "- {id: a, title: B, kind: manual}\n", name="b.yaml"))
    three = load_definition(
        write(
            tmp_path,
            "- {id: a, title: A, kind: manual}\n",
            head="version: v7\n" + HEAD,
            name="c.yaml",
        )
    )
    assert one.version != two.version
    assert three.version == "v7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("name: [unclosed\n", "cannot read", id="yaml-syntax"),
        pytest.param("- just\n- a list\n", "mapping", id="not-a-mapping"),
        pytest.param("name: demo\ntitle: Demo\nsteps: []\n", "steps", id="no-steps"),
        pytest.param(
            "name: demo\ntitle: Demo\nsurprise: 1\nsteps:\n  - {id: a, title: A, kind: manual}\n",
            "surprise",
            id="unknown-top-level-field",
        ),
        pytest.param(
            "name: demo\ntitle: Demo\nparameters:\n  - {name: v, pattern: '(['}\n"
            "steps:\n  - {id: a, title: A, kind: manual}\n",
            "regular expression",
            id="parameter-pattern-not-a-regex",
        ),
        pytest.param(
            "name: demo\ntitle: Demo\nparameters:\n  - {name: env, choices: [a, b], default: c}\n"
            "steps:\n  - {id: a, title: A, kind: manual}\n",
            "default 'c'",
            id="default-not-a-choice",
        ),
        pytest.param(
            "name: demo\ntitle: Demo\nparameters:\n  - {name: sha, pattern: '[0-9a-f]+', "
            "default: none}\nsteps:\n  - {id: a, title: A, kind: manual}\n",
            "default 'none'",
            id="default-not-matching-pattern",
        ),
    ],
)
def test_malformed_file_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    """A file that is not a definition at all is refused with its name, never a crash."""
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    assert str(caught.value).startswith("broken.yaml: ")
    assert expected in str(caught.value)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    """A path that cannot be read is a DefinitionError naming it."""
    with pytest.raises(DefinitionError, match=r"^gone\.yaml: cannot read"):
        load_definition(tmp_path / "gone.yaml")


def test_load_definitions_by_name(tmp_path: Path) -> None:
    """Every *.yaml in the directory is loaded under its workflow name; other files are ignored."""
    write(tmp_path, "- {id: a, title: A, kind: manual}\n", name="one.yaml")
    write(
        tmp_path,
        "- {id: a, title: A, kind: manual}\n",
        head=HEAD.replace("demo", "other"),
        name="two.yaml",
    )
    (tmp_path / "notes.txt").write_text("not a definition", encoding="utf-8")
    found = load_definitions(tmp_path)
    assert sorted(found) == ["demo", "other"]


def test_load_definitions_refuses_two_files_with_one_name(tmp_path: Path) -> None:
    """Two files defining the same workflow name are refused, naming the second file."""
    write(tmp_path, "- {id: a, title: A, kind: manual}\n", name="a.yaml")
    write(tmp_path, "- {id: b, title: B, kind: manual}\n", name="b.yaml")
    with pytest.raises(DefinitionError, match=r"^b\.yaml: workflow 'demo' is defined twice"):
        load_definitions(tmp_path)


def test_load_definitions_refuses_one_bad_file(tmp_path: Path) -> None:
    """One bad file in the directory fails the whole load (nothing half-loaded)."""
    write(tmp_path, "- {id: a, title: A, kind: manual}\n", name="a.yaml")
    write(
        tmp_path, "- {id: b, title: B, kind: nope}\n", head=HEAD.replace("demo", "z"), name="z.yaml"
    )
    with pytest.raises(DefinitionError, match=r"^z\.yaml: step b"):
        load_definitions(tmp_path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{ a }} and {{b.c}} and {{ d.0.e }}", {"a", "b", "d"}),
        ({"x": ["{{ a }}", {"y": "{{ b }}"}], "z": 3}, {"a", "b"}),
        ("{{ not a template", set()),
        ("{{ 1abc }}", set()),
        (None, set()),
    ],
)
def test_template_names(value: object, expected: set[str]) -> None:
    """Only well-formed `{{ name.path }}` references count, found anywhere in nested values."""
    assert template_names(value) == expected
