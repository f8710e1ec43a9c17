"""Skip authority, table-driven over every step of every shipped workflow, on every environment
it can run on: the one who asks can never skip alone; the groups that could complete the step
(or, for a check the bot makes, the environment's skip approvers) can approve the skip, with the
step's own quorum; any other group cannot. And a definition that makes skipping easier than
completing is refused at load, naming file and step."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from workflows.definition import Definition, load_definitions, parse_definition
from workflows.errors import DefinitionError, InvalidCommand, NotAuthorized
from workflows.machine import transition
from workflows.model import Approve, PlannedStep, Run, RunStatus, Skip, StepStatus
from workflows.planner import plan_run
from workflows.policy import DefaultPolicies, EnvironmentPolicy
from workflows.step_models import StepKind
from workflows.testing import StaticInventory

DEFINITIONS_DIR = Path(__file__).resolve().parents[3] / "workflows" / "definitions"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
INITIATOR = "UINIT01"
ASKER = "UASK001"
KNOWN_GROUPS = ("security", "operators", "release-managers")
INVENTORY = StaticInventory({
    "regtest": [("reg-1", "miner", False)],
    "testnet": [("test-1", "miner", True), ("test-2", "validator", False)],
    "mainnet": [("main-1", "miner", True), ("main-2", "validator", False),
                ("main-3", "rpc", False)],
})
SAMPLES = {"version": "v1.4.2", "git_sha": "abc1234", "severity": "sev1", "reason": "patching",
           "source": "mainnet"}
DEFINITIONS = load_definitions(DEFINITIONS_DIR)


def environments_of(defn: Definition) -> list[str]:
    if defn.fixed_environment:
        return [defn.fixed_environment]
    spec = defn.parameter(defn.environment_param or "")
    return list(spec.choices) if spec and spec.choices else ["regtest", "testnet", "mainnet"]


def plan(defn: Definition, environment: str) -> Run:
    params = {p.name: SAMPLES.get(p.name, "x") for p in defn.parameters if p.default is None}
    if defn.environment_param:
        params[defn.environment_param] = environment
    return plan_run(
        defn, params, inventory=INVENTORY, run_id="r1", initiator=INITIATOR, now=NOW,
        skip_approvers=DefaultPolicies().skip_approvers(environment, defn.name),
    )


def expected_authority(step: PlannedStep, environment: str) -> tuple[list[str], int] | None:
    """Who must approve a skip, worked out from the definition by the rule in the docs."""
    if step.id == "restore-drill-gate":  # promote.yaml names its own skip approvers
        return ["security"], 1
    if step.id == "no-freeze":  # promote.yaml: never skipped
        return None
    if step.kind is StepKind.APPROVAL and step.approval is not None:
        return list(step.approval.groups), step.approval.quorum
    if step.responders:
        return list(step.responders), 1
    return (["security"] if environment == "mainnet" else ["operators"]), 1


CASES = [
    pytest.param(name, environment, index, id=f"{name}:{environment}:{step.id}")
    for name, defn in sorted(DEFINITIONS.items())
    for environment in environments_of(defn)
    for index, step in enumerate(plan(defn, environment).plan)
]


def blocked_at(run: Run, index: int) -> Run:
    """The run halted at step ``index`` (input data: the state a failed step leaves)."""
    steps = list(run.steps)
    steps[index] = steps[index].model_copy(update={"status": StepStatus.BLOCKED,
                                                  "error": "failed", "attempt": 1})
    return run.model_copy(update={"status": RunStatus.BLOCKED, "cursor": index, "steps": steps,
                                  "reason": "failed"})


def approve(run: Run, user: str, groups: list[str], step_id: str) -> Approve:
    return Approve(actor=user, groups=groups, step_id=step_id, plan_hash=run.plan_hash)


def test_every_shipped_workflow_has_steps_in_the_table() -> None:
    assert len(DEFINITIONS) >= 12
    assert len(CASES) > 100


@pytest.mark.parametrize(("name", "environment", "index"), CASES)
def test_skip_needs_the_authority_that_completes(name: str, environment: str, index: int) -> None:
    run = blocked_at(plan(DEFINITIONS[name], environment), index)
    step = run.plan[index]
    authority = expected_authority(step, environment)
    everyone = list(KNOWN_GROUPS)
    ask = Skip(actor=ASKER, groups=everyone, step_id=step.id, reason="done by hand")
    if authority is None:
        with pytest.raises(InvalidCommand, match="may not be skipped"):
            transition(run, ask, NOW)
        return
    groups, quorum = authority
    # The asker alone: the Skip only asks; nothing is skipped, and the asker cannot approve,
    # whatever groups they are in.
    asked, effects = transition(run, ask, NOW)
    state = asked.steps[index]
    assert state.status is StepStatus.WAITING
    assert state.waiting_for == "approval"
    assert state.approval is not None
    assert state.approval.purpose == "skip"
    assert sorted(state.approval.policy.groups) == sorted(groups)
    assert state.approval.policy.quorum == quorum
    assert [e.kind for e in effects] == ["skip_requested"]
    with pytest.raises(NotAuthorized):
        transition(asked, approve(asked, ASKER, everyone, step.id), NOW)
    # The wrong group: refused, nothing changes.
    for wrong in [g for g in KNOWN_GROUPS if g not in groups] + ["outsiders"]:
        with pytest.raises(NotAuthorized):
            transition(asked, approve(asked, "UWRONG1", [wrong], step.id), NOW)
    # The right group, as many distinct people as the step's quorum: skipped, on the record.
    current = asked
    for n in range(quorum):
        assert current.steps[index].status is StepStatus.WAITING
        current, effects = transition(current, approve(current, f"URIGHT{n}", [groups[-1]],
                                                       step.id), NOW)
    done = current.steps[index]
    assert done.status is StepStatus.SKIPPED
    assert done.note is not None
    assert f"<@{ASKER}>" in done.note
    assert "done by hand" in done.note
    assert all(f"<@URIGHT{n}>" in done.note for n in range(quorum))
    assert "step_skipped" in [e.kind for e in effects]


def test_the_initiator_cannot_approve_a_skip_either() -> None:
    """A run's initiator never approves a skip of its own run (no policy allows it)."""
    run = blocked_at(plan(DEFINITIONS["maintenance"], "testnet"), 1)
    step = run.plan[1]
    asked, _ = transition(run, Skip(actor=ASKER, step_id=step.id, reason="x"), NOW)
    with pytest.raises(NotAuthorized):
        transition(asked, approve(asked, INITIATOR, list(KNOWN_GROUPS), step.id), NOW)


def test_the_environment_policy_names_who_skips_checks() -> None:
    """`policy.skip_approvers` replaces the default for checks the bot makes."""
    policies = DefaultPolicies({"testnet": EnvironmentPolicy(skip_approvers=("release-managers",))})
    assert policies.skip_approvers("testnet", "promote") == ["release-managers"]
    assert DefaultPolicies().skip_approvers("mainnet", "promote") == ["security"]
    assert DefaultPolicies().skip_approvers("testnet", "promote") == ["operators"]


BASE = {"name": "t", "title": "T", "fixed_environment": "testnet", "environment_param": None}


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        pytest.param(
            {"id": "gate", "title": "Gate", "kind": "approval",
             "approval": {"groups": ["release-managers"], "quorum": 2},
             "skip": {"approval": {"groups": ["release-managers"], "quorum": 1}}},
            "quorum 1 is less than the 2", id="lower-quorum"),
        pytest.param(
            {"id": "rotate", "title": "Rotate", "kind": "manual", "responders": ["security"],
             "skip": {"approval": {"groups": ["operators"]}}},
            "names operators, who may not complete the step", id="other-group"),
        pytest.param(
            {"id": "check", "title": "Check", "kind": "rpc",
             "skip": {"approval": {"groups": ["operators"], "allow_initiator": True}}},
            "allow_initiator may not be true", id="asker-approves"),
    ],
)
def test_a_definition_cannot_make_skipping_easier(step: dict[str, object], expected: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition({**BASE, "steps": [step]}, "easy.yaml")
    assert str(caught.value).startswith(f"easy.yaml: step {step['id']}: skip.approval")
    assert expected in str(caught.value)
