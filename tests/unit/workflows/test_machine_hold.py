"""A promotion freeze holds a run: it pauses before its next write step, never in the middle of
one; lifting the freeze resumes what the hold paused and leaves what a person paused; an
incident's command is handed over."""

from __future__ import annotations

import pytest

from tests.unit.workflows.runs import (
    INITIATOR,
    NOW,
    apply,
    begin,
    current_id,
    fail,
    finish,
    go,
    make_run,
    ok,
    started,
    state,
    step,
    wait_for,
)
from workflows.errors import InvalidCommand, WorkflowError
from workflows.machine import next_action, transition
from workflows.model import (
    Approve,
    HandOver,
    HoldRun,
    Pause,
    ReleaseHold,
    Resume,
    Retry,
    Run,
    RunStatus,
    StepBegan,
    StepStatus,
)

BOT = "parthenon-bot"


def hold(freeze: str = "manual:*") -> HoldRun:
    return HoldRun(actor=BOT, freeze_id=freeze, reason="promotions to devnet are frozen")


def release(freeze: str = "manual:*") -> ReleaseHold:
    return ReleaseHold(actor=BOT, freeze_id=freeze)


def promotion() -> Run:
    """read, an approval, then a write step, then another read."""
    return started(make_run(
        step("look"),
        step("gate", "approval", approval={"groups": ["release"], "quorum": 1}),
        step("deploy", "rpc", effect="write"),
        step("verify"),
    ))


def refused(run: Run, event: object) -> str:
    before = run.model_dump()
    with pytest.raises(WorkflowError) as caught:
        transition(run, event, NOW)  # type: ignore[arg-type]
    assert type(caught.value) is InvalidCommand
    assert run.model_dump() == before
    return str(caught.value)


def test_a_held_run_goes_on_through_read_steps_and_pauses_before_the_write_step() -> None:
    run, effects = apply(promotion(), hold())
    assert run.status is RunStatus.RUNNING  # at a read step: it goes on
    assert [e.kind for e in effects] == ["run_held"]
    assert "pauses before its next write step" in effects[0].text
    run, _ = finish(begin(run), ok())
    run, _ = finish(begin(run), wait_for("approval"))
    assert run.status is RunStatus.WAITING
    run, effects = apply(run, Approve(actor="U9", groups=["release"], step_id="gate",
                                      plan_hash=run.plan_hash))
    assert current_id(run) == "deploy"
    assert state(run).status is StepStatus.READY
    assert run.status is RunStatus.PAUSED
    assert run.hold is not None
    assert run.hold.paused
    assert next_action(run, NOW) is None  # no worker begins the write step
    held = [e for e in effects if e.kind == "run_held"]
    assert held
    assert "Paused before Deploy (a write step)" in held[0].text


def test_a_write_step_in_flight_is_never_interrupted() -> None:
    run = go(promotion(), Pause(actor=INITIATOR), Resume(actor=INITIATOR))
    run, _ = finish(begin(run), ok())
    run, _ = finish(begin(run), wait_for("approval"))
    run = go(run, Approve(actor="U9", groups=["release"], step_id="gate",
                          plan_hash=run.plan_hash))
    run = begin(run)  # the write step is in flight
    run, _ = apply(run, hold())
    assert run.status is RunStatus.RUNNING
    assert state(run).status is StepStatus.RUNNING
    run, _ = finish(run, ok())  # it finishes; the run moves to a read step and goes on
    assert state(run, "deploy").status is StepStatus.SUCCEEDED
    assert current_id(run) == "verify"
    assert run.status is RunStatus.RUNNING


def test_a_hold_on_a_run_ready_at_a_write_step_pauses_it_at_once() -> None:
    run = started(make_run(step("deploy", "rpc", effect="write"), step("after")))
    run, effects = apply(run, hold())
    assert run.status is RunStatus.PAUSED
    assert [e.kind for e in effects] == ["run_held"]
    assert "Resume" not in effects[0].text


def test_no_worker_may_begin_the_write_step_of_a_held_run() -> None:
    """Whichever replica's engine looks, the commit of a step's beginning is refused."""
    run = go(started(make_run(step("deploy", "rpc", effect="write"))), hold())
    assert "no step may begin" in refused(run, StepBegan(step_id="deploy", attempt=1))


def test_resume_is_refused_while_the_freeze_holds_it_and_lifting_resumes() -> None:
    run = go(started(make_run(step("deploy", "rpc", effect="write"))), hold())
    message = refused(run, Resume(actor="UOP"))
    assert "promotions are frozen" in message
    assert "/parthenon unfreeze" in message
    run, effects = apply(run, release())
    assert run.status is RunStatus.RUNNING
    assert run.hold is None
    assert [e.kind for e in effects] == ["hold_released"]
    assert "resumes" in effects[0].text
    assert next_action(run, NOW) == "execute"


def test_lifting_leaves_a_run_paused_by_hand_paused() -> None:
    run = go(started(make_run(step("deploy", "rpc", effect="write"))),
             Pause(actor="UOP", reason="waiting for the vendor"), hold())
    assert run.hold is not None
    assert not run.hold.paused
    run, effects = apply(run, release())
    assert run.status is RunStatus.PAUSED
    assert run.hold is None
    assert "stays paused" in effects[0].text


def test_two_freezes_hold_until_both_are_lifted() -> None:
    run = go(started(make_run(step("deploy", "rpc", effect="write"))),
             hold("manual:*"), hold("run:r9:devnet"))
    run = go(run, release("manual:*"))
    assert run.status is RunStatus.PAUSED
    assert run.hold is not None
    run = go(run, release("run:r9:devnet"))
    assert run.status is RunStatus.RUNNING
    assert run.hold is None


def test_hold_and_release_refusals() -> None:
    run = go(started(make_run(step("deploy", "rpc", effect="write"))), hold())
    assert "already holds" in refused(run, hold())
    assert "no such freeze" in refused(run, release("manual:mainnet"))


def test_a_retry_of_a_blocked_write_step_pauses_while_held() -> None:
    run = started(make_run(step("deploy", "rpc", effect="write")))
    run, _ = finish(begin(run), fail(transient=False))
    assert run.status is RunStatus.BLOCKED
    run = go(run, hold(), Retry(actor="UOP", step_id="deploy"))
    assert run.status is RunStatus.PAUSED
    assert state(run).status is StepStatus.READY


def test_command_of_an_incident_is_handed_over_once_per_person() -> None:
    run = make_run(step("a", "manual"))
    run = started(run.model_copy(update={"category": "incident"}))
    run, effects = apply(run, HandOver(actor=INITIATOR, to="U0NEW"))
    assert run.commander == "U0NEW"
    assert effects[0].kind == "commander_changed"
    assert effects[0].users == ["U0NEW"]
    assert "is already the commander" in refused(run, HandOver(actor="U1", to="U0NEW"))
    plain = started(make_run(step("a")))
    assert "only an incident" in refused(plain, HandOver(actor=INITIATOR, to="U0NEW"))
