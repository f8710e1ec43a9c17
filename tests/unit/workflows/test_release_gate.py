"""Release gates re-planned per evidence source (pure): what each source makes of a `version`
step, and the machine's check of the version a person saw."""

from __future__ import annotations

import pytest

from tests.unit.workflows.runs import NOW, begin, finish, make_run, started, step, wait_for
from workflows.errors import InvalidCommand, InvalidParameters, NotAuthorized
from workflows.evidence_sources import ReleaseEvidence, ReleaseSource
from workflows.machine import transition
from workflows.model import Confirm, OutcomeFailed, PlannedStep, Run, StepStatus
from workflows.release_gate import is_release_gate, release_gate, resolve_release_gates
from workflows.step_models import StepKind
from workflows.steps.base import StepContext
from workflows.steps.release import verify_release

PARAMS = {"version": "v1.4.2", "environment": "testnet"}


def gate(version: str = "{{ version }}") -> PlannedStep:
    return PlannedStep(
        id="wave-1.version",
        title="Wave 1: the nodes run the release",
        kind=StepKind.RPC,
        environment="testnet",
        targets=["test-1", "test-2"],
        with_={"action": "version", "version": version, "ready_within": "30s"},
    )


def evidence(source: str, *confirmers: str) -> ReleaseEvidence:
    if confirmers:
        return ReleaseEvidence(source=ReleaseSource(source), confirmers=confirmers)
    return ReleaseEvidence(source=ReleaseSource(source))


def test_rpc_stays_an_rpc_step_marked_with_its_source() -> None:
    step = release_gate(gate(), evidence("rpc"), PARAMS)
    assert step.kind is StepKind.RPC
    assert step.with_["action"] == "version"
    assert step.with_["evidence"] == {"source": "rpc", "label": "node RPC (getinfo.version)"}
    assert not is_release_gate(step)  # planned once


def test_deploy_becomes_a_verify_version_call_without_the_guard() -> None:
    step = release_gate(gate(), evidence("deploy"), PARAMS)
    assert step.kind is StepKind.WEBHOOK
    assert step.with_ == {
        "action": "verify-version",
        "version": "{{ version }}",
        "evidence": {"source": "deploy", "label": "deploy system"},
        "guard": False,
    }
    assert step.targets == ["test-1", "test-2"]
    assert step.description.startswith("Deploy system:")


def test_person_becomes_a_confirmation_by_the_confirmers_with_the_release_to_type() -> None:
    step = release_gate(gate(), evidence("person", "release-managers"), PARAMS)
    assert step.kind is StepKind.MANUAL
    assert step.responders == ["release-managers"]
    [field] = step.inputs
    assert (field.name, field.release, field.required) == ("version_seen", "v1.4.2", True)
    assert "it must be v1.4.2" in step.with_["instructions"]
    assert step.description.startswith("Humans (release-managers):")


def test_person_needs_the_release_from_the_parameters() -> None:
    with pytest.raises(InvalidParameters, match="needs its version from the run's parameters"):
        release_gate(gate("{{ captured_release }}"), evidence("person"), PARAMS)


def test_an_inventory_without_an_evidence_policy_leaves_the_plan_alone() -> None:
    plan = [gate()]
    assert resolve_release_gates(plan, PARAMS, object()) == plan


class _Policy:
    def release_evidence(self, environment: str) -> ReleaseEvidence:
        return evidence("person")


def test_only_version_steps_are_re_planned() -> None:
    other = PlannedStep(id="tip", title="Tip", kind=StepKind.RPC, with_={"action": "tip"})
    plan = resolve_release_gates([other, gate()], PARAMS, _Policy())
    assert plan[0] == other
    assert plan[1].kind is StepKind.MANUAL


def waiting_person_run() -> Run:
    """A run whose one step is a person-confirmed release gate, waiting for the confirmation."""
    planned = release_gate(gate(), evidence("person", "release-managers"), PARAMS)
    run = make_run(step("version", "manual"))
    planned = planned.model_copy(update={"id": "version", "environment": None})
    run = run.model_copy(update={"plan": [planned]})
    run = begin(started(run))
    run, _ = finish(run, wait_for("confirmation"))
    return run


def confirm(user: str, groups: list[str], seen: str) -> Confirm:
    return Confirm(actor=user, groups=groups, step_id="version", inputs={"version_seen": seen})


def test_the_version_seen_must_be_the_release_and_the_confirmer_in_the_group() -> None:
    run = waiting_person_run()
    with pytest.raises(InvalidCommand, match=r"'v1\.4\.1' is not the release v1\.4\.2"):
        transition(run, confirm("URM1", ["release-managers"], "v1.4.1"), NOW)
    with pytest.raises(NotAuthorized):
        transition(run, confirm("UOP", ["operators"], "v1.4.2"), NOW)
    done, _ = transition(run, confirm("URM1", ["release-managers"], "1.4.2"), NOW)
    state = done.steps[0]
    assert state.status is StepStatus.SUCCEEDED
    assert state.result is not None
    assert state.result["evidence"] == {
        "source": "person",
        "label": "a person's confirmation",
        "by": "URM1",
        "value": {"version_seen": "1.4.2"},
    }


async def test_a_deploy_gate_without_targets_never_passes() -> None:
    """No nodes to judge is no evidence: the step fails, the deploy system is not even asked."""
    planned = release_gate(gate(), evidence("deploy"), PARAMS).model_copy(update={"targets": []})
    run = make_run(step("version", "manual")).model_copy(update={"plan": [planned]})

    async def ask(nodes: list[str]) -> tuple[int, object]:
        raise AssertionError("asked the deploy system")

    ctx = StepContext(
        run=run,
        step=planned,
        state=run.steps[0],
        args={"version": "v1.4.2"},
        now=NOW,
        attempt=1,
        idempotency_key="k",
    )
    outcome = await verify_release(ctx, ask)
    assert isinstance(outcome, OutcomeFailed)
    assert "has no target nodes" in outcome.error
