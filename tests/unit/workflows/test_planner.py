"""Planning: definition + parameters + inventory -> a pending run with concrete targets."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from workflows.definition import Definition, parse_definition
from workflows.errors import InvalidParameters
from workflows.model import RunStatus, StepStatus
from workflows.planner import Inventory, check_params, plan_run, usage

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Node:
    name: str
    roles: set[str] = field(default_factory=set)
    canary: bool = False


@dataclass
class StaticInventory:
    """The planner's input: environments with their nodes (in config order) and waves."""

    nodes: dict[str, list[Node]]
    wave_plan: dict[str, list[tuple[int, list[str]]]] = field(default_factory=dict)

    def has_environment(self, environment: str) -> bool:
        return environment in self.nodes

    def select(self, environment: str, select: str) -> list[str]:
        nodes = self.nodes[environment]
        if select == "all":
            return [n.name for n in nodes]
        if select == "canary":
            return [n.name for n in nodes if n.canary]
        if select == "non-canary":
            return [n.name for n in nodes if not n.canary]
        if select == "first":
            return [n.name for n in nodes[:1]]
        if select.startswith("role:"):
            return [n.name for n in nodes if select[5:] in n.roles]
        raise AssertionError(f"unexpected selection {select}")

    def waves(self, environment: str) -> list[tuple[int, list[str]]]:
        return self.wave_plan.get(environment, [])


def inventory() -> StaticInventory:
    return StaticInventory(
        nodes={
            "staging": [
                Node("stg-1", {"validator"}, canary=True),
                Node("stg-2", {"validator"}),
                Node("stg-3", {"rpc"}),
            ],
            "production": [
                Node("prod-1", {"validator"}, canary=True),
                Node("prod-2", {"validator"}),
                Node("prod-3", {"miner"}),
                Node("prod-4", {"rpc"}),
            ],
        },
        wave_plan={
            "production": [(25, ["prod-1"]), (50, ["prod-2"]), (100, ["prod-3", "prod-4"])],
            "staging": [(100, ["stg-1", "stg-2", "stg-3"])],
        },
    )


def test_static_inventory_is_an_inventory() -> None:
    """The in-test inventory satisfies the planner's Protocol (checked by the type checker too)."""
    inv: Inventory = inventory()
    assert inv.has_environment("staging")


def definition(text: str) -> Definition:
    return parse_definition(yaml.safe_load(textwrap.dedent(text)), "test.yaml")


PROMOTE = definition(
    """
    name: promote
    title: Promote
    parameters:
      - name: version
        help: "a release tag like v1.4.2"
        pattern: 'v\\d+\\.\\d+\\.\\d+'
        max_length: 20
      - name: environment
        choices: [staging, production]
      - name: mode
        required: false
        default: gradual
      - name: note
        required: false
    steps:
      - id: gate
        title: "Approve {{ version }}"
        kind: approval
        approval: {groups: [release]}
      - id: canary
        title: Canary health
        kind: health
        targets: {select: canary}
      - id: prod-only
        title: Production only
        kind: manual
        environments: [production]
      - id: rollback
        title: Rollback
        kind: manual
        on_success: done
        max_visits: 2
      - group: wave
        title: Waves
        foreach: waves
        steps:
          - id: deploy
            title: "Deploy wave {{ wave.index }} ({{ wave.percent }}%)"
            kind: webhook
            targets: {select: wave}
            with:
              nodes: "{{ wave.nodes }}"
              index: "{{ wave.index }}"
              text: "wave {{ wave.index }} of {{ version }}: {{ wave.nodes }}"
          - id: check
            title: "Check {{ wave.cumulative }}"
            kind: health
            targets: {select: wave-cumulative}
            on_failure: deploy
            max_visits: 3
          - id: gate
            title: Wave gate
            kind: manual
            on_failure: rollback
      - id: done
        title: Done
        kind: bot
    """
)

GOOD_PARAMS = {"version": "v1.4.2", "environment": "production"}


def plan(params: dict[str, str] | None = None, inv: StaticInventory | None = None, **kw: Any):
    return plan_run(
        PROMOTE,
        GOOD_PARAMS if params is None else params,
        inventory=inv or inventory(),
        run_id=kw.pop("run_id", "r1"),
        initiator=kw.pop("initiator", "U1"),
        now=kw.pop("now", NOW),
        **kw,
    )


def test_usage_form() -> None:
    """The usage line shows required parameters in <>, optional in [], and choices with |."""
    assert usage(PROMOTE) == "promote <version> <staging|production> [mode] [note]"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"environment": "staging"}, "missing version", id="missing"),
        pytest.param({"version": "", "environment": "staging"}, "missing version", id="empty"),
        pytest.param({**GOOD_PARAMS, "colour": "red"}, "unknown parameter colour", id="unknown"),
        pytest.param(
            {"version": "1.4", "environment": "staging"},
            "version '1.4' is not valid (a release tag like v1.4.2)",
            id="pattern",
        ),
        pytest.param(
            {"version": "v1.4.2x", "environment": "staging"},
            "version 'v1.4.2x' is not valid",
            id="pattern-is-a-full-match",
        ),
        pytest.param(
            {"version": "v1.4.2", "environment": "dev"},
            "environment must be one of staging, production, not 'dev'",
            id="choices",
        ),
        pytest.param(
            {"version": "v1." + "1" * 30 + ".2", "environment": "staging"},
            "version is longer than 20 characters",
            id="too-long",
        ),
    ],
)
def test_bad_parameters_are_refused_with_the_usage(params: dict[str, str], expected: str) -> None:
    """Each bad parameter is refused with what was wrong and the right form of the command."""
    with pytest.raises(InvalidParameters) as caught:
        check_params(PROMOTE, params)
    assert expected in str(caught.value)
    assert "Usage: promote <version> <staging|production> [mode] [note]" in str(caught.value)
    assert caught.value.code == "invalid_parameters"


def test_defaults_are_filled_and_absent_optionals_omitted() -> None:
    """A missing parameter with a default gets it; an optional one without a default is absent."""
    assert check_params(PROMOTE, GOOD_PARAMS) == {**GOOD_PARAMS, "mode": "gradual"}
    assert check_params(PROMOTE, {**GOOD_PARAMS, "mode": "fast", "note": "hi"}) == {
        **GOOD_PARAMS,
        "mode": "fast",
        "note": "hi",
    }


def test_bad_parameters_refuse_planning() -> None:
    """plan_run checks the parameters before building anything."""
    with pytest.raises(InvalidParameters, match="missing version"):
        plan({"environment": "production"})


def test_new_run_is_pending_with_one_state_per_planned_step() -> None:
    """A planned run is pending, at no step, version 0, with the typed parameters (not the
    defaults) in its title."""
    run = plan(channel="C1", parent_run_id="r0")
    assert run.status is RunStatus.PENDING
    assert run.cursor is None
    assert run.version == 0
    assert run.initiator == "U1"
    assert run.channel == "C1"
    assert run.parent_run_id == "r0"
    assert run.environment == "production"
    assert run.definition_version == PROMOTE.version
    assert run.title == "Promote: v1.4.2 production"
    assert [s.id for s in run.steps] == [p.id for p in run.plan]
    assert all(s.status is StepStatus.PENDING for s in run.steps)
    assert run.created_at == run.updated_at == NOW


def test_unknown_environment_is_refused() -> None:
    """A parameter naming an environment the configuration lacks is refused with the usage."""
    inv = inventory()
    del inv.nodes["production"]
    with pytest.raises(InvalidParameters, match="'production' is not in the configuration") as c:
        plan(inv=inv)
    assert "Usage: promote" in str(c.value)


def test_fixed_environment_ignores_parameters() -> None:
    """A definition with a fixed environment always plans on it."""
    defn = definition(
        """
        name: drill
        title: Drill
        fixed_environment: staging
        environment_param: null
        steps:
          - {id: a, title: A, kind: rpc}
        """
    )
    run = plan_run(defn, {}, inventory=inventory(), run_id="r", initiator="U", now=NOW)
    assert run.environment == "staging"
    assert run.plan[0].targets == ["stg-1", "stg-2", "stg-3"]
    assert run.title == "Drill"


def test_environments_filter_drops_steps() -> None:
    """A step listing environments is planned only when the run's environment is one of them."""
    production = [s.id for s in plan().plan]
    staging = [s.id for s in plan({"version": "v1.0.0", "environment": "staging"}).plan]
    assert "prod-only" in production
    assert "prod-only" not in staging


def test_goto_to_a_filtered_step_falls_back() -> None:
    """A goto to a step filtered out for this environment becomes next (success) / block."""
    defn = definition(
        """
        name: x
        title: X
        parameters: [{name: environment}]
        steps:
          - {id: a, title: A, kind: manual, on_success: c, on_failure: c}
          - {id: b, title: B, kind: manual}
          - {id: c, title: C, kind: manual, environments: [production]}
        """
    )
    run = plan_run(
        defn,
        {"environment": "staging"},
        inventory=inventory(),
        run_id="r",
        initiator="U",
        now=NOW,
    )
    assert [s.id for s in run.plan] == ["a", "b"]
    assert (run.plan[0].on_success, run.plan[0].on_failure) == ("next", "block")


TARGETS = [
    ("{select: all}", ["prod-1", "prod-2", "prod-3", "prod-4"]),
    ("{select: canary}", ["prod-1"]),
    ("{select: non-canary}", ["prod-2", "prod-3", "prod-4"]),
    ("{select: first}", ["prod-1"]),
    ("{select: 'role:validator'}", ["prod-1", "prod-2"]),
    ("{nodes: [prod-4, prod-2]}", ["prod-4", "prod-2"]),
    ("{select: canary, environment: staging}", ["stg-1"]),
]


def one_step(targets: str, kind: str = "rpc") -> Definition:
    return definition(
        f"""
        name: x
        title: X
        parameters: [{{name: environment}}]
        steps:
          - {{id: a, title: A, kind: {kind}, targets: {targets}}}
        """
    )


@pytest.mark.parametrize(("targets", "expected"), TARGETS)
def test_targets_resolve_to_node_names(targets: str, expected: list[str]) -> None:
    """Each selection resolves to node names in config order (explicit nodes: as given)."""
    run = plan_run(
        one_step(targets),
        {"environment": "production"},
        inventory=inventory(),
        run_id="r",
        initiator="U",
        now=NOW,
    )
    assert run.plan[0].targets == expected
    assert run.plan[0].environment == ("staging" if "staging" in targets else "production")


def test_steps_without_targets_have_none() -> None:
    """Approval, manual, wait and bot steps act on no node; rpc without targets means all."""
    run = plan()
    by_id = {s.id: s for s in run.plan}
    assert by_id["gate"].targets == []
    assert by_id["done"].targets == []
    assert by_id["canary"].targets == ["prod-1"]


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        pytest.param("{nodes: [prod-1, prod-9]}", "no node prod-9 in production", id="unknown"),
        pytest.param("{nodes: [stg-1]}", "no node stg-1 in production", id="other-env-node"),
        pytest.param("{select: 'role:archiver'}", "no role:archiver nodes", id="empty-role"),
        pytest.param("{select: all, environment: mars}", "'mars'", id="unknown-target-env"),
    ],
)
def test_bad_targets_are_refused(targets: str, expected: str) -> None:
    """Targets that resolve to nothing or to unknown nodes refuse the plan, naming the step."""
    with pytest.raises(InvalidParameters) as caught:
        plan_run(
            one_step(targets),
            {"environment": "production"},
            inventory=inventory(),
            run_id="r",
            initiator="U",
            now=NOW,
        )
    assert "step a" in str(caught.value)
    assert expected in str(caught.value)


def test_targets_need_an_environment() -> None:
    """A step with targets in a run without an environment is refused, not planned on nothing."""
    defn = definition(
        """
        name: x
        title: X
        environment_param: null
        steps:
          - {id: a, title: A, kind: rpc}
        """
    )
    with pytest.raises(InvalidParameters, match="step a acts on environment None"):
        plan_run(defn, {}, inventory=inventory(), run_id="r", initiator="U", now=NOW)


def test_wave_group_is_expanded_once_per_wave() -> None:
    """Each wave repeats the group's steps with ids '<group>-<n>.<step>', in wave order."""
    ids = [s.id for s in plan().plan]
    assert ids == [
        "gate",
        "canary",
        "prod-only",
        "rollback",
        "wave-1.deploy",
        "wave-1.check",
        "wave-1.gate",
        "wave-2.deploy",
        "wave-2.check",
        "wave-2.gate",
        "wave-3.deploy",
        "wave-3.check",
        "wave-3.gate",
        "done",
    ]


def test_wave_titles_targets_and_arguments() -> None:
    """Wave templates are resolved at plan time; wave targets its nodes, cumulative all so far."""
    by_id = {s.id: s for s in plan().plan}
    third = by_id["wave-3.deploy"]
    assert third.title == "Deploy wave 3 (100%)"
    assert third.targets == ["prod-3", "prod-4"]
    assert third.group == "wave-3"
    assert third.wave is not None
    assert third.wave["cumulative"] == ["prod-1", "prod-2", "prod-3", "prod-4"]
    assert by_id["wave-1.deploy"].title == "Deploy wave 1 (25%)"
    assert by_id["wave-2.check"].targets == ["prod-1", "prod-2"]
    assert by_id["wave-2.check"].title == "Check prod-1, prod-2"
    # a whole-template argument keeps its type; an embedded one becomes text; others stay for later
    assert third.with_["nodes"] == ["prod-3", "prod-4"]
    assert third.with_["index"] == 3
    assert third.with_["text"] == "wave 3 of {{ version }}: prod-3, prod-4"


def test_wave_gotos_stay_inside_their_wave() -> None:
    """A goto to a sibling is rewritten to the same wave's step; a goto out of the group is kept."""
    by_id = {s.id: s for s in plan().plan}
    assert by_id["wave-2.check"].on_failure == "wave-2.deploy"
    assert by_id["wave-3.check"].on_failure == "wave-3.deploy"
    assert by_id["wave-2.gate"].on_failure == "rollback"
    assert by_id["rollback"].on_success == "done"
    # the top-level 'gate' and the group's 'gate' do not collide
    assert by_id["gate"].kind.value == "approval"
    assert by_id["wave-1.gate"].kind.value == "manual"


def test_wave_group_without_waves_plans_nothing_for_it() -> None:
    """An environment with no waves configured gets no wave steps."""
    inv = inventory()
    inv.wave_plan["production"] = []
    assert not any(s.id.startswith("wave-") for s in plan(inv=inv).plan)


def test_plan_hash_is_stable_for_the_same_plan() -> None:
    """Run id, initiator, time and channel do not change what an approval approves."""
    first = plan()
    again = plan(run_id="r2", initiator="U9", now=NOW.replace(hour=13), channel="C7")
    assert first.plan_hash == again.plan_hash


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"params": {**GOOD_PARAMS, "version": "v1.4.3"}}, id="version"),
        pytest.param({"params": {**GOOD_PARAMS, "note": "x"}}, id="optional-parameter"),
        pytest.param({"params": {"version": "v1.4.2", "environment": "staging"}}, id="env"),
        pytest.param({"inv": "more-canaries"}, id="targets"),
        pytest.param({"inv": "other-waves"}, id="waves"),
    ],
)
def test_plan_hash_changes_with_params_or_targets(change: dict[str, Any]) -> None:
    """Different parameters, environment or target nodes make a different plan hash."""
    inv = inventory()
    if change.get("inv") == "more-canaries":
        inv.nodes["production"][1].canary = True
    elif change.get("inv") == "other-waves":
        inv.wave_plan["production"] = [(50, ["prod-1", "prod-2"]), (100, ["prod-3", "prod-4"])]
    changed = plan(change.get("params"), inv)
    assert changed.plan_hash != plan().plan_hash
