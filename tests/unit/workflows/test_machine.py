"""The pure run state machine: every transition, every refusal, and when the run wants a worker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from pydantic import ValidationError

from tests.unit.workflows.runs import (
    GATE,
    INITIATOR,
    NOW,
    apply,
    approve,
    at,
    begin,
    blocked,
    fail,
    finish,
    go,
    make_run,
    ok,
    pending,
    ready,
    reschedule,
    running,
    started,
    state,
    step,
    wait_for,
    waiting_approval,
    waiting_confirmation,
    waiting_timer,
)
from workflows.errors import InvalidCommand, NotAuthorized, WorkflowError
from workflows.machine import next_action, transition, wake_at
from workflows.model import (
    Abort,
    Confirm,
    Event,
    OutcomeFailed,
    OutcomeSucceeded,
    Pause,
    Reject,
    Resume,
    Retry,
    Run,
    RunStarted,
    RunStatus,
    Skip,
    StepBegan,
    StepFinished,
    StepInDoubt,
    StepStatus,
    Tick,
)


def refuse(
    run: Run, event: Event, error: type[WorkflowError] = InvalidCommand, now: object = NOW
) -> str:
    """The event is refused with exactly ``error`` and the run is left exactly as it was."""
    before = run.model_dump()
    with pytest.raises(WorkflowError) as caught:
        transition(run, event, now)  # type: ignore[arg-type]
    assert type(caught.value) is error
    assert run.model_dump() == before
    return str(caught.value)


def kinds(effects: list) -> list[str]:  # type: ignore[type-arg]
    return [e.kind for e in effects]


# --- start ------------------------------------------------------------------------------------


def test_start_makes_the_first_step_ready() -> None:
    """Starting a pending run puts the cursor on the first step, ready now, first visit."""
    run, effects = apply(pending(), RunStarted())
    assert run.status is RunStatus.RUNNING
    assert run.cursor == 0
    first = state(run)
    assert (first.status, first.due_at, first.visits, first.tries) == (StepStatus.READY, NOW, 1, 0)
    assert effects == []
    assert next_action(run, NOW) == "execute"


def test_start_twice_is_refused() -> None:
    """A run starts once."""
    assert "already started" in refuse(ready(), RunStarted())


def test_start_with_an_empty_plan_succeeds_at_once() -> None:
    """A plan with no steps for this environment finishes as succeeded, saying so."""
    run = make_run(step("a", "manual", environments=["production"]))
    assert run.plan == []
    run, effects = apply(run, RunStarted())
    assert run.status is RunStatus.SUCCEEDED
    assert kinds(effects) == ["run_finished"]


# --- begin and finish -------------------------------------------------------------------------


def test_begin_marks_the_step_running() -> None:
    """A worker beginning the ready step records the attempt and the try."""
    run = begin(ready(), now=at(seconds=3))
    first = state(run)
    assert (first.status, first.attempt, first.tries) == (StepStatus.RUNNING, 1, 1)
    assert first.started_at == at(seconds=3)
    assert first.due_at is None


@pytest.mark.parametrize(
    ("build", "event", "expected"),
    [
        pytest.param(
            ready, StepBegan(step_id="b", attempt=1), "not the current step", id="not-cursor"
        ),
        pytest.param(ready, StepBegan(step_id="zz", attempt=1), "no step 'zz'", id="unknown-step"),
        pytest.param(
            running, StepBegan(step_id="a", attempt=1), "already begun", id="same-attempt"
        ),
        pytest.param(ready, StepBegan(step_id="a", attempt=0), "already begun", id="attempt-zero"),
        pytest.param(pending, StepBegan(step_id="a", attempt=1), "not the current", id="pending"),
        pytest.param(
            waiting_timer, StepBegan(step_id="soak", attempt=2), "may begin", id="step-waiting"
        ),
        pytest.param(
            lambda: go(ready(), Pause(actor="U1")),
            StepBegan(step_id="a", attempt=1),
            "no step may begin",
            id="paused",
        ),
        pytest.param(blocked, StepBegan(step_id="deploy", attempt=2), "may begin", id="blocked"),
    ],
)
def test_begin_refusals(build: Callable[[], Run], event: Event, expected: str) -> None:
    """A step begins only when it is the cursor's, ready, in a running run, with a new attempt."""
    assert expected in refuse(build(), event)


def test_success_advances_and_captures() -> None:
    """A step's success records its result, stores its captures and readies the next step."""
    run, effects = finish(running(), ok(lkg_height=120), now=at(seconds=5))
    first, second = run.steps
    assert (first.status, first.result, first.finished_at) == (
        StepStatus.SUCCEEDED,
        {"ok": True},
        at(seconds=5),
    )
    assert run.values == {"lkg_height": 120}
    assert run.cursor == 1
    assert (second.status, second.due_at, second.visits) == (StepStatus.READY, at(seconds=5), 1)
    assert effects == []


def test_last_success_finishes_the_run() -> None:
    """After the last step succeeds the run is succeeded, with no cursor and a finish time."""
    run = begin(finish(running(), ok())[0])
    run, effects = finish(run, ok(), now=at(minutes=1))
    assert run.status is RunStatus.SUCCEEDED
    assert run.cursor is None
    assert run.finished_at == at(minutes=1)
    assert kinds(effects) == ["run_finished"]
    assert next_action(run, at(hours=1)) is None


def test_success_goes_to_on_success_target() -> None:
    """on_success names the step to go to instead of the next one."""
    run = begin(started(make_run(step("a", on_success="c"), step("b"), step("c"))))
    run, _ = finish(run, ok())
    assert run.cursor == 2
    assert state(run, "b").status is StepStatus.PENDING
    assert state(run, "c").status is StepStatus.READY


@pytest.mark.parametrize(
    ("build", "event", "expected"),
    [
        pytest.param(
            running,
            StepFinished(step_id="a", attempt=2, outcome=OutcomeSucceeded()),
            "not in progress",
            id="wrong-attempt",
        ),
        pytest.param(
            ready,
            StepFinished(step_id="a", attempt=0, outcome=OutcomeSucceeded()),
            "not in progress",
            id="never-begun",
        ),
        pytest.param(
            running,
            StepFinished(step_id="zz", attempt=1, outcome=OutcomeSucceeded()),
            "no step 'zz'",
            id="unknown-step",
        ),
        pytest.param(
            waiting_approval,
            StepFinished(step_id="gate", attempt=1, outcome=OutcomeSucceeded()),
            "waits for people",
            id="waiting-for-approval",
        ),
        pytest.param(
            waiting_confirmation,
            StepFinished(step_id="fix", attempt=1, outcome=OutcomeSucceeded()),
            "waits for people",
            id="waiting-for-confirmation",
        ),
        pytest.param(
            blocked,
            StepFinished(step_id="deploy", attempt=1, outcome=OutcomeSucceeded()),
            "not in progress",
            id="blocked",
        ),
    ],
)
def test_finish_refusals(build: Callable[[], Run], event: Event, expected: str) -> None:
    """Only the in-progress attempt finishes a step; a worker cannot end a wait for people."""
    assert expected in refuse(build(), event)


# --- failure ----------------------------------------------------------------------------------


def retrying() -> Run:
    run = make_run(
        step("deploy", effect="write", retries=2, retry_delay="10s", offer_on_failure="rollback"),
        step("after"),
    )
    return begin(started(run))


def test_failure_with_retries_left_backs_off() -> None:
    """A failed try with retries left is ready again after retry_delay, doubling each time."""
    run, effects = finish(retrying(), fail())
    deploy = state(run)
    assert (deploy.status, deploy.due_at, deploy.error) == (
        StepStatus.READY,
        at(seconds=10),
        "boom",
    )
    assert run.status is RunStatus.RUNNING
    assert effects == []
    assert next_action(run, at(seconds=9)) is None
    assert next_action(run, at(seconds=10)) == "execute"
    assert wake_at(run, NOW) == at(seconds=10)

    run = begin(run, now=at(seconds=10))
    run, _ = finish(run, fail(), now=at(seconds=11))
    assert state(run).due_at == at(seconds=31)  # 20 s after the second failure
    assert state(run).tries == 2


def test_failure_after_the_last_retry_blocks() -> None:
    """With retries used up the step blocks the run, says why, and offers the named workflow."""
    run = retrying()
    for _ in range(2):
        run = begin(finish(run, fail())[0])
    run, effects = finish(run, fail("still refused"))
    assert state(run).tries == 3
    assert state(run).status is StepStatus.BLOCKED
    assert run.status is RunStatus.BLOCKED
    assert run.reason == "step deploy failed: still refused"
    assert run.offer == "rollback"
    assert kinds(effects) == ["run_blocked"]  # one message says what failed
    assert next_action(run, at(days=1)) is None
    assert wake_at(run, NOW) is None


def test_a_permanent_failure_is_not_retried() -> None:
    """A failure the executor says is not transient (wrong network, a failed gate) skips the
    retries and goes straight to the step's failure policy."""
    run, effects = finish(retrying(), fail("wrong network", transient=False))
    assert state(run).status is StepStatus.BLOCKED
    assert state(run).tries == 1
    assert run.reason == "step deploy failed: wrong network"
    assert kinds(effects) == ["run_blocked"]  # one message says what failed


def test_backoff_is_capped() -> None:
    """Backoff never grows past ten minutes."""
    run = begin(started(make_run(step("a", retries=5, retry_delay="8m"))))
    run = begin(finish(run, fail())[0])
    run, _ = finish(run, fail())
    assert state(run).due_at == at(minutes=10)


def test_failure_policy_abort_fails_the_run() -> None:
    """on_failure: abort ends the run as failed."""
    run = begin(started(make_run(step("a", on_failure="abort"), step("b"))))
    run, effects = finish(run, fail())
    assert run.status is RunStatus.FAILED
    assert state(run, "a").status is StepStatus.FAILED
    assert run.reason == "step a failed: boom"
    assert kinds(effects) == ["run_finished"]


def test_failure_policy_goto_enters_the_target() -> None:
    """on_failure: <step> marks the step failed and readies the named step."""
    run = begin(started(make_run(step("a", on_failure="c"), step("b"), step("c"))))
    run, effects = finish(run, fail())
    assert state(run, "a").status is StepStatus.FAILED
    assert run.cursor == 2
    assert state(run, "c").status is StepStatus.READY
    assert run.status is RunStatus.RUNNING
    assert kinds(effects) == ["step_failed"]


def test_failed_approval_expiry_is_not_retried() -> None:
    """An expired approval fails its step for good even when the step has retries."""
    gate = {**GATE, "retries": 3}
    run = begin(started(make_run(gate, step("after"))))
    run, _ = finish(run, wait_for("approval"))
    run, _ = apply(run, Tick(), at(hours=1))
    assert run.status is RunStatus.BLOCKED


# --- timers and monitors ----------------------------------------------------------------------


@pytest.mark.parametrize("waiting_for", ["timer", "monitor"])
def test_reschedule_waits_until_due_then_continues(waiting_for: str) -> None:
    """A rescheduled step waits until its time, then the engine is told to continue it."""
    run = waiting_timer(waiting_for)
    soak = state(run)
    assert (soak.status, soak.waiting_for, soak.due_at) == (
        StepStatus.WAITING,
        waiting_for,
        at(minutes=5),
    )
    assert run.status is RunStatus.WAITING
    assert next_action(run, at(minutes=4)) is None
    assert next_action(run, at(minutes=5)) == "continue"
    assert wake_at(run, NOW) == at(minutes=5)
    # the continuation reports on the same attempt
    run, _ = finish(run, ok(), now=at(minutes=5))
    assert state(run, "soak").status is StepStatus.SUCCEEDED
    assert state(run, "soak").waiting_for is None
    assert run.status is RunStatus.RUNNING
    assert run.cursor == 1


def test_reschedule_keeps_progress_and_data() -> None:
    """A monitor sample keeps its private data and progress for the next sample."""
    run = begin(started(make_run(step("soak", "health"))))
    outcome = reschedule(at(minutes=1), "monitor").model_copy(
        update={"data": {"samples": 1}, "progress": 0.25, "progress_text": "1/4"}
    )
    run, _ = finish(run, outcome)
    soak = state(run)
    assert (soak.data, soak.progress, soak.progress_text) == ({"samples": 1}, 0.25, "1/4")
    run, _ = finish(run, ok(), now=at(minutes=1))
    assert state(run, "soak").progress == 1.0


def test_failure_while_waiting_on_a_timer_retries() -> None:
    """A timer step that fails on continuation is retried like any other step."""
    run, _ = finish(waiting_timer(), fail(), now=at(minutes=5))
    assert state(run).status is StepStatus.READY
    assert run.status is RunStatus.RUNNING
    assert next_action(run, at(minutes=6)) == "execute"


# --- approvals --------------------------------------------------------------------------------


def test_approval_request_is_opened() -> None:
    """An approval step's wait opens a request with expiry and reminders and mentions the groups."""
    run = begin(started(make_run(GATE, step("after", "manual"))))
    run, effects = finish(run, wait_for("approval"))
    gate = state(run)
    assert gate.status is StepStatus.WAITING
    assert gate.waiting_for == "approval"
    assert gate.approval is not None
    assert (gate.approval.expires_at, gate.approval.remind_at) == (at(hours=1), at(minutes=20))
    assert run.status is RunStatus.WAITING
    assert kinds(effects) == ["approval_requested"]
    assert effects[0].groups == ["release"]


def test_quorum_of_distinct_approvers_passes_the_step() -> None:
    """Two distinct approvers are needed; the step records who approved on which plan."""
    run = waiting_approval()
    run, effects = apply(run, approve(run, "U1"))
    assert state(run).status is StepStatus.WAITING
    assert effects == []
    run, _ = apply(run, approve(run, "U2"), at(minutes=1))
    gate = state(run, "gate")
    assert gate.status is StepStatus.SUCCEEDED
    assert gate.result == {"approvers": ["U1", "U2"], "plan_hash": run.plan_hash}
    assert gate.finished_at == at(minutes=1)
    assert run.status is RunStatus.RUNNING
    assert run.cursor == 1
    assert state(run, "after").status is StepStatus.READY


def test_initiator_may_approve_when_the_policy_allows() -> None:
    """allow_initiator lets the person who started the run count toward the quorum."""
    run = waiting_approval(groups=["release"], allow_initiator=True)
    run, _ = apply(run, approve(run, INITIATOR))
    assert state(run, "gate").status is StepStatus.SUCCEEDED


APPROVE_REFUSALS = [
    pytest.param(
        lambda r: approve(r, INITIATOR), NotAuthorized, "started this run", id="initiator"
    ),
    pytest.param(lambda r: approve(r, "U9", groups=[]), NotAuthorized, "release", id="no-group"),
    pytest.param(
        lambda r: approve(r, "U9", groups=["ops"]), NotAuthorized, "release", id="other-group"
    ),
    pytest.param(
        lambda r: approve(r, "U1", plan_hash="0" * 16), InvalidCommand, "plan", id="plan-hash"
    ),
    pytest.param(
        lambda r: approve(r, "U1", step_id="after"), InvalidCommand, "not the current", id="step"
    ),
    pytest.param(lambda r: approve(r, "U1", step_id="zz"), InvalidCommand, "no step", id="unknown"),
]


@pytest.mark.parametrize(("make", "error", "expected"), APPROVE_REFUSALS)
def test_approval_refusals(
    make: Callable[[Run], Event], error: type[WorkflowError], expected: str
) -> None:
    """Self-approval, non-members, a changed plan and the wrong step are refused."""
    run = waiting_approval()
    assert expected in refuse(run, make(run), error)


def test_duplicate_approval_is_refused() -> None:
    """One person counts once toward the quorum."""
    run = waiting_approval()
    run, _ = apply(run, approve(run, "U1"))
    assert "already approved" in refuse(run, approve(run, "U1"))
    assert len(state(run).approval.votes) == 1  # type: ignore[union-attr]


def test_votes_and_reminders_leave_the_run_they_were_applied_to_unchanged() -> None:
    """A vote or a reminder changes the new run only: the request it was applied to keeps its
    votes and its next reminder (the request is copied, its votes list with it)."""
    run = waiting_approval()
    before = run.model_dump()
    voted, _ = apply(run, approve(run, "U1"))
    reminded, _ = apply(voted, Tick(), at(minutes=20))
    assert run.model_dump() == before
    assert [v.user for v in state(voted).approval.votes] == ["U1"]  # type: ignore[union-attr]
    assert state(voted).approval.remind_at == at(minutes=20)  # type: ignore[union-attr]
    assert state(reminded).approval.remind_at == at(minutes=40)  # type: ignore[union-attr]


def test_approval_after_expiry_is_refused_even_before_the_tick() -> None:
    """An approval arriving after the request expired does not count."""
    run = waiting_approval()
    assert "expired" in refuse(run, approve(run, "U1"), now=at(hours=1))


def test_approve_while_paused_is_refused() -> None:
    """A paused run takes no approvals until resumed."""
    run = go(waiting_approval(), Pause(actor="U1"))
    assert "paused" in refuse(run, approve(run, "U1"))


def test_approve_a_step_not_waiting_for_approval_is_refused() -> None:
    """Approving a manual step that waits for a confirmation is refused."""
    run = waiting_confirmation()
    assert "not waiting for an approval" in refuse(run, approve(run, "U1"))


def test_tick_expires_the_approval_and_blocks() -> None:
    """When the request expires unanswered the step fails and the run blocks for a human."""
    run, effects = apply(waiting_approval(), Tick(), at(hours=1))
    assert run.status is RunStatus.BLOCKED
    assert state(run).status is StepStatus.BLOCKED
    assert state(run).error == "approval expired"
    assert run.reason == "step gate failed: approval expired"
    assert kinds(effects) == ["approval_expired", "run_blocked"]


def test_tick_sends_reminders() -> None:
    """A tick at the reminder time reminds the approvers and schedules the next reminder."""
    run = waiting_approval(groups=["release"], expires_after="1d", remind_every="20m")
    assert wake_at(run, NOW) == at(minutes=20)
    assert next_action(run, at(minutes=19)) is None
    assert next_action(run, at(minutes=20)) == "tick"
    run, effects = apply(run, Tick(), at(minutes=20))
    assert kinds(effects) == ["approval_reminder"]
    assert effects[0].groups == ["release"]
    assert state(run).approval.remind_at == at(minutes=40)  # type: ignore[union-attr]
    # a late tick skips the missed reminders and sends one
    run, effects = apply(run, Tick(), at(minutes=65))
    assert kinds(effects) == ["approval_reminder"]
    assert state(run).approval.remind_at == at(minutes=80)  # type: ignore[union-attr]
    assert run.status is RunStatus.WAITING


def test_tick_before_anything_is_due_changes_only_the_version() -> None:
    """A tick with nothing due sends nothing and moves nothing."""
    before = waiting_approval()
    run, effects = apply(before, Tick(), at(minutes=5))
    assert effects == []
    assert run.model_dump(exclude={"version", "updated_at"}) == before.model_dump(
        exclude={"version", "updated_at"}
    )


def test_without_reminders_the_wake_is_the_expiry() -> None:
    """A policy without reminders wakes the run only to expire the request."""
    run = waiting_approval(groups=["release"], remind_every=None, expires_after="2h")
    assert wake_at(run, NOW) == at(hours=2)
    assert state(run).approval.remind_at is None  # type: ignore[union-attr]


def test_reject_with_a_reason_fails_the_run() -> None:
    """A rejection ends the run as failed, naming who rejected and why."""
    run = waiting_approval()
    event = Reject(actor="U3", groups=["release"], step_id="gate", reason="not during the freeze")
    run, effects = apply(run, event)
    assert run.status is RunStatus.FAILED
    assert state(run, "gate").status is StepStatus.FAILED
    assert run.reason is not None
    assert "<@U3>" in run.reason
    assert "not during the freeze" in run.reason
    assert kinds(effects) == ["run_finished"]


@pytest.mark.parametrize(
    ("policy", "groups", "accepted"),
    [
        ({"groups": ["release"]}, ["release"], True),
        ({"groups": ["release"]}, ["ops"], False),
        ({"groups": ["release"], "reject_groups": ["security"]}, ["security"], True),
        ({"groups": ["release"], "reject_groups": ["security"]}, ["release"], False),
    ],
)
def test_who_may_reject(policy: dict[str, object], groups: list[str], accepted: bool) -> None:
    """Rejecting needs the approving groups, or reject_groups when the policy names them."""
    run = waiting_approval(**policy)
    event = Reject(actor="U3", groups=groups, step_id="gate", reason="no")
    if accepted:
        assert apply(run, event)[0].status is RunStatus.FAILED
    else:
        refuse(run, event, NotAuthorized)


def test_reject_needs_a_reason() -> None:
    """A reject without a reason cannot even be built."""
    with pytest.raises(ValidationError):
        Reject(actor="U3", step_id="gate", reason="")


# --- confirmations ----------------------------------------------------------------------------


def test_confirmation_request_mentions_the_responders() -> None:
    """A manual step's wait asks its responder groups to confirm."""
    run = begin(started(make_run(step("fix", "manual", responders=["ops"]))))
    run, effects = finish(run, wait_for("confirmation"))
    assert kinds(effects) == ["confirmation_requested"]
    assert effects[0].groups == ["ops"]
    assert run.status is RunStatus.WAITING
    assert wake_at(run, NOW) is None
    assert next_action(run, at(days=30)) is None


def test_confirm_with_inputs_captures_them() -> None:
    """Confirming stores the (trimmed) inputs, who confirmed, and the captures made from them."""
    run = waiting_confirmation()
    event = Confirm(actor="U4", groups=["ops"], step_id="fix", inputs={"checksum": " deadbeef "})
    run, _ = apply(run, event)
    fix = state(run, "fix")
    assert fix.status is StepStatus.SUCCEEDED
    assert fix.inputs == {"checksum": "deadbeef"}
    assert fix.confirmed_by == "U4"
    assert run.values == {"checksum": "deadbeef", "who": "U4"}
    assert run.status is RunStatus.RUNNING
    assert run.cursor == 1


@pytest.mark.parametrize(
    ("inputs", "groups", "error", "expected"),
    [
        pytest.param({}, ["ops"], InvalidCommand, "Checksum is required", id="missing"),
        pytest.param({"checksum": "  "}, ["ops"], InvalidCommand, "required", id="blank"),
        pytest.param({"checksum": "zzzzzzzz"}, ["ops"], InvalidCommand, "form", id="pattern"),
        pytest.param({"checksum": "0123456789"}, ["ops"], InvalidCommand, "longer", id="length"),
        pytest.param(
            {"checksum": "deadbeef", "link": "x" * 21}, ["ops"], InvalidCommand, "Link", id="opt"
        ),
        pytest.param(
            {"checksum": "deadbeef", "host": "h"}, ["ops"], InvalidCommand, "host", id="unknown"
        ),
        pytest.param({"checksum": "deadbeef"}, ["release"], NotAuthorized, "ops", id="responder"),
    ],
)
def test_confirm_refusals(
    inputs: dict[str, str], groups: list[str], error: type[WorkflowError], expected: str
) -> None:
    """Missing, malformed, too long or unexpected inputs, and non-responders, are refused."""
    event = Confirm(actor="U4", groups=groups, step_id="fix", inputs=inputs)
    assert expected in refuse(waiting_confirmation(), event, error)


def test_confirm_when_not_waiting_for_a_confirmation_is_refused() -> None:
    """Confirming an approval step is refused."""
    run = waiting_approval()
    refuse(run, Confirm(actor="U1", groups=["release"], step_id="gate"))


def test_confirm_while_paused_is_refused() -> None:
    """A paused run takes no confirmations until resumed."""
    run = go(waiting_confirmation(), Pause(actor="U4"))
    event = Confirm(actor="U4", groups=["ops"], step_id="fix", inputs={"checksum": "deadbeef"})
    assert "paused" in refuse(run, event)


# --- pause and resume -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "status"),
    [
        (ready, RunStatus.RUNNING),
        (running, RunStatus.RUNNING),
        (waiting_approval, RunStatus.WAITING),
        (waiting_timer, RunStatus.WAITING),
        (blocked, RunStatus.BLOCKED),
    ],
)
def test_pause_and_resume(build: Callable[[], Run], status: RunStatus) -> None:
    """Pause stops a running, waiting or blocked run; resume puts it back where it was."""
    run = build()
    assert run.status is status
    paused, effects = apply(run, Pause(actor="U1", reason="investigating"))
    assert paused.status is RunStatus.PAUSED
    assert paused.paused_from is status
    assert kinds(effects) == ["run_paused"]
    assert "investigating" in effects[0].text
    assert next_action(paused, at(days=1)) is None
    assert wake_at(paused, NOW) is None
    resumed, effects = apply(paused, Resume(actor="U2"))
    assert resumed.status is status
    assert resumed.paused_from is None
    assert kinds(effects) == ["run_resumed"]


@pytest.mark.parametrize(
    ("build", "event", "expected"),
    [
        (pending, Pause(actor="U1"), "pending run cannot be paused"),
        (lambda: go(ready(), Pause(actor="U1")), Pause(actor="U1"), "already paused"),
        (ready, Resume(actor="U1"), "not paused"),
        (blocked, Resume(actor="U1"), "not paused"),
    ],
)
def test_pause_resume_refusals(build: Callable[[], Run], event: Event, expected: str) -> None:
    """Pausing twice, pausing a pending run and resuming a run that is not paused are refused."""
    assert expected in refuse(build(), event)


def test_step_finishing_while_paused_advances_but_stays_paused() -> None:
    """A step that was running when the run was paused completes; the next step waits for resume."""
    run = go(running(), Pause(actor="U1"))
    run, _ = finish(run, ok())
    assert run.status is RunStatus.PAUSED
    assert run.cursor == 1
    assert state(run, "b").status is StepStatus.READY
    assert next_action(run, at(minutes=1)) is None
    run = go(run, Resume(actor="U1"))
    assert run.status is RunStatus.RUNNING
    assert next_action(run, NOW) == "execute"


def test_last_step_finishing_while_paused_finishes_the_run() -> None:
    """A paused run whose last step completes is succeeded, not paused."""
    run = begin(finish(running(), ok())[0])
    run = go(run, Pause(actor="U1"))
    run, _ = finish(run, ok())
    assert run.status is RunStatus.SUCCEEDED
    assert run.paused_from is None


@pytest.mark.parametrize(
    ("build", "outcome", "after_resume", "action"),
    [
        pytest.param(running, fail(), RunStatus.BLOCKED, None, id="running-fails-blocks"),
        pytest.param(retrying, fail(), RunStatus.RUNNING, "execute", id="running-fails-retries"),
        pytest.param(waiting_timer, fail(), RunStatus.RUNNING, "execute", id="timer-fails-retries"),
        pytest.param(waiting_timer, ok(), RunStatus.RUNNING, "execute", id="timer-succeeds"),
        pytest.param(
            running, reschedule(at(minutes=1)), RunStatus.WAITING, "continue", id="reschedules"
        ),
        pytest.param(
            running, wait_for("confirmation"), RunStatus.WAITING, None, id="waits-for-people"
        ),
    ],
)
def test_outcome_while_paused_resumes_to_the_right_status(
    build: Callable[[], Run], outcome: object, after_resume: RunStatus, action: str | None
) -> None:
    """An outcome that lands while paused decides what status resume returns to."""
    run = go(build(), Pause(actor="U1"))
    run, _ = finish(run, outcome, now=at(minutes=5))  # type: ignore[arg-type]
    assert run.status is RunStatus.PAUSED
    assert next_action(run, at(hours=1)) is None
    run = go(run, Resume(actor="U1"), now=at(minutes=5))
    assert run.status is after_resume
    assert next_action(run, at(hours=1)) == action


def test_failure_goto_while_paused_resumes_running() -> None:
    """A failure that goes to another step while paused leaves that step ready for after resume."""
    run = begin(started(make_run(step("a", on_failure="c"), step("b"), step("c"))))
    run = go(run, Pause(actor="U1"))
    run, _ = finish(run, fail())
    assert (run.status, run.cursor) == (RunStatus.PAUSED, 2)
    run = go(run, Resume(actor="U1"))
    assert run.status is RunStatus.RUNNING
    assert next_action(run, NOW) == "execute"


def test_approval_expiring_while_paused_blocks_after_resume() -> None:
    """A tick that expires the request of a paused run leaves it paused, blocked after resume."""
    run = go(waiting_approval(), Pause(actor="U1"))
    run, _ = apply(run, Tick(), at(hours=2))
    assert run.status is RunStatus.PAUSED
    assert go(run, Resume(actor="U1")).status is RunStatus.BLOCKED


# --- abort ------------------------------------------------------------------------------------


NON_TERMINAL = [
    pytest.param(pending, id="pending"),
    pytest.param(ready, id="ready"),
    pytest.param(running, id="running"),
    pytest.param(waiting_approval, id="waiting-approval"),
    pytest.param(waiting_confirmation, id="waiting-confirmation"),
    pytest.param(waiting_timer, id="waiting-timer"),
    pytest.param(blocked, id="blocked"),
    pytest.param(lambda: go(running(), Pause(actor="U1")), id="paused"),
]


@pytest.mark.parametrize("build", NON_TERMINAL)
def test_abort_from_every_non_terminal_state(build: Callable[[], Run]) -> None:
    """Abort ends any unfinished run at once, naming who aborted and why."""
    run, effects = apply(build(), Abort(actor="U1", reason="wrong build"), at(minutes=3))
    assert run.status is RunStatus.ABORTED
    assert run.reason == "aborted by <@U1>: wrong build"
    assert run.finished_at == at(minutes=3)
    assert run.paused_from is None
    assert kinds(effects) == ["run_finished"]
    assert next_action(run, at(days=1)) is None
    assert wake_at(run, NOW) is None


def test_abort_needs_a_reason() -> None:
    """An abort without a reason cannot even be built."""
    with pytest.raises(ValidationError):
        Abort(actor="U1", reason="")


# --- retry ------------------------------------------------------------------------------------


def test_retry_a_blocked_step() -> None:
    """Retry makes the blocked step ready now with a fresh set of tries and a new attempt."""
    run, effects = apply(blocked(), Retry(actor="U1", step_id="deploy"), at(minutes=2))
    deploy = state(run)
    assert (deploy.status, deploy.due_at, deploy.tries, deploy.error) == (
        StepStatus.READY,
        at(minutes=2),
        0,
        None,
    )
    assert run.status is RunStatus.RUNNING
    assert run.reason is None
    assert effects == []
    run = begin(run)
    assert state(run).attempt == 2


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(ready, id="ready"),
        pytest.param(running, id="running"),
        pytest.param(waiting_timer, id="waiting"),
        pytest.param(lambda: go(blocked(), Pause(actor="U1")), id="paused-blocked"),
    ],
)
def test_retry_only_when_blocked(build: Callable[[], Run]) -> None:
    """A step that is not blocked cannot be retried."""
    run = build()
    sid = run.plan[run.cursor or 0].id
    refuse(run, Retry(actor="U1", step_id=sid))


def test_retry_of_another_step_is_refused() -> None:
    """Only the blocked current step can be retried."""
    refuse(blocked(), Retry(actor="U1", step_id="after"))


# --- skip -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(blocked, id="blocked"),
        pytest.param(waiting_confirmation, id="waiting-confirmation"),
        pytest.param(waiting_timer, id="waiting-timer"),
    ],
)
def test_skip_asks_for_an_approval_never_the_askers_word(build: Callable[[], Run]) -> None:
    """A blocked step, or one waiting for a confirmation or timer, is skipped only once someone
    other than the asker approves: the asker's own Skip just opens the request."""
    run = build()
    sid = run.plan[run.cursor or 0].id
    run, effects = apply(run, Skip(actor="U4", step_id=sid, reason="done by hand"))
    assert state(run, sid).status is StepStatus.WAITING
    assert state(run, sid).waiting_for == "approval"
    assert kinds(effects) == ["skip_requested"]
    # the groups that could complete the step (its responders), else the operators
    expected = run.plan[run.cursor or 0].responders or ["operators"]
    assert effects[0].groups == expected
    assert "not the one who asked" in effects[0].text
    refuse(run, approve(run, "U4", groups=expected), NotAuthorized)
    refuse(run, approve(run, "U6", groups=["bystanders"]), NotAuthorized)
    run, effects = apply(run, approve(run, "U5", groups=expected))
    assert state(run, sid).status is StepStatus.SKIPPED
    assert state(run, sid).note == (
        "skipped at <@U4>'s request (done by hand); approved by <@U5>"
    )
    assert run.status is RunStatus.RUNNING
    assert run.reason is None
    assert run.cursor == 1
    assert kinds(effects) == ["step_skipped"]


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        pytest.param(ready, "only a blocked step", id="ready"),
        pytest.param(running, "only a blocked step", id="running"),
        pytest.param(lambda: waiting_timer("monitor"), "only a blocked step", id="monitor"),
        pytest.param(waiting_approval, "only a blocked step", id="waiting-approval"),
        pytest.param(lambda: blocked(skip={"allowed": False}), "may not be skipped", id="denied"),
        pytest.param(lambda: go(blocked(), Pause(actor="U1")), "paused", id="paused"),
    ],
)
def test_skip_refusals(build: Callable[[], Run], expected: str) -> None:
    """Steps in progress, monitors, approvals and steps that forbid it cannot be skipped."""
    run = build()
    sid = run.plan[run.cursor or 0].id
    assert expected in refuse(run, Skip(actor="U4", step_id=sid, reason="because"))


def skip_requested(**extra: object) -> Run:
    run = blocked(skip={"approval": {"groups": ["release"], "expires_after": "1h"}}, **extra)
    event = Skip(actor="U4", groups=["ops", "release"], step_id="deploy", reason="hotfixed")
    run, effects = apply(run, event)
    assert kinds(effects) == ["skip_requested"]
    assert effects[0].groups == ["release"]
    return run


def test_skip_with_an_approval_policy_asks_first() -> None:
    """A skip that needs an approval opens a skip request and waits for it."""
    run = skip_requested()
    deploy = state(run)
    assert deploy.status is StepStatus.WAITING
    assert deploy.waiting_for == "approval"
    assert deploy.approval is not None
    assert (deploy.approval.purpose, deploy.approval.requested_by) == ("skip", "U4")
    assert run.status is RunStatus.WAITING
    assert wake_at(run, NOW) == min(at(hours=1), at(hours=4))


def test_approved_skip_skips() -> None:
    """Once the skip is approved the step is skipped, the note says why and who approved."""
    run = skip_requested()
    run, effects = apply(run, approve(run, "U1"))
    deploy = state(run, "deploy")
    assert deploy.status is StepStatus.SKIPPED
    assert deploy.note is not None
    assert "hotfixed" in deploy.note
    assert "<@U1>" in deploy.note
    assert run.status is RunStatus.RUNNING
    assert run.cursor == 1
    assert kinds(effects) == ["step_skipped"]


def test_skip_requester_cannot_approve_own_skip() -> None:
    """The person who asked for the skip cannot approve it."""
    run = skip_requested()
    assert "asked for this skip" in refuse(run, approve(run, "U4"), NotAuthorized)


@pytest.mark.parametrize(
    ("event_at", "event"),
    [
        pytest.param(
            NOW,
            Reject(actor="U1", groups=["release"], step_id="deploy", reason="no"),
            id="rejected",
        ),
        pytest.param(at(hours=1), Tick(), id="expired"),
    ],
)
def test_rejected_or_expired_skip_goes_back_to_blocked(event_at: object, event: Event) -> None:
    """A rejected or unanswered skip request leaves the step blocked as before (the run lives)."""
    run, effects = apply(skip_requested(), event, event_at)  # type: ignore[arg-type]
    assert run.status is RunStatus.BLOCKED
    assert state(run).status is StepStatus.BLOCKED
    assert state(run).approval is None
    assert "run_blocked" in kinds(effects)
    assert apply(run, Retry(actor="U1", step_id="deploy"))[0].status is RunStatus.RUNNING


def test_approval_step_skips_only_with_its_own_approvers_and_quorum() -> None:
    """An expired approval step is skipped only with the approval its completion needs: the
    same groups, the same quorum (2 release approvals here), never the asker's."""
    run = begin(started(make_run(GATE, step("after"))))
    run, _ = finish(run, wait_for("approval"))
    run, _ = apply(run, Tick(), at(hours=1))
    run, effects = apply(
        run, Skip(actor="U4", step_id="gate", reason="approved offline"), at(hours=1)
    )
    assert effects[0].groups == ["release"]
    later = at(hours=1)
    refuse(run, approve(run, "U5", groups=["security"]), NotAuthorized, now=later)
    refuse(run, approve(run, "U4"), NotAuthorized, now=later)  # the asker
    run, _ = apply(run, approve(run, "U1"), later)
    assert state(run, "gate").status is StepStatus.WAITING  # one of two
    run, _ = apply(run, approve(run, "U2"), later)
    assert state(run, "gate").status is StepStatus.SKIPPED


# --- in doubt and loops -----------------------------------------------------------------------


def test_in_doubt_blocks_with_the_reason() -> None:
    """A write step that cannot be verified after a crash blocks the run with the reason."""
    run = begin(started(make_run(step("stop", effect="write"))))
    run, effects = apply(run, StepInDoubt(step_id="stop", attempt=1, reason="node unreachable"))
    assert state(run).status is StepStatus.BLOCKED
    assert state(run).error == "in doubt: node unreachable"
    assert run.status is RunStatus.BLOCKED
    assert run.reason is not None
    assert "node unreachable" in run.reason
    assert kinds(effects) == ["run_blocked"]


@pytest.mark.parametrize(
    ("build", "event"),
    [
        pytest.param(running, StepInDoubt(step_id="a", attempt=2, reason="x"), id="attempt"),
        pytest.param(ready, StepInDoubt(step_id="a", attempt=0, reason="x"), id="not-begun"),
        pytest.param(running, StepInDoubt(step_id="b", attempt=1, reason="x"), id="not-cursor"),
    ],
)
def test_in_doubt_refusals(build: Callable[[], Run], event: Event) -> None:
    """Only the running attempt of the current step can be in doubt."""
    refuse(build(), event)


def test_loop_past_max_visits_blocks() -> None:
    """A step entered more often than its max_visits blocks the run instead of looping on."""
    run = started(make_run(step("a", max_visits=2), step("b", on_failure="a")))
    for _ in range(2):
        run = begin(finish(begin(run), ok())[0])
        run, _ = finish(run, fail())
    a = state(run, "a")
    assert a.visits == 3
    assert a.status is StepStatus.BLOCKED
    assert a.error is not None
    assert "max_visits of 2" in a.error
    assert run.status is RunStatus.BLOCKED
    assert run.cursor == 0


def test_loop_within_max_visits_re_enters_fresh() -> None:
    """Re-entering a step resets its tries and readies it again."""
    run = started(make_run(step("a", max_visits=2), step("b", on_failure="a")))
    run = begin(finish(begin(run), ok())[0])
    run, _ = finish(run, fail())
    a = state(run, "a")
    assert (a.status, a.visits, a.tries, a.attempt) == (StepStatus.READY, 2, 0, 1)


# --- terminal ---------------------------------------------------------------------------------


def succeeded() -> Run:
    return finish(begin(finish(running(), ok())[0]), ok())[0]


def failed() -> Run:
    return finish(begin(started(make_run(step("a", on_failure="abort")))), fail())[0]


def aborted() -> Run:
    return go(running(), Abort(actor="U1", reason="stop"))


ALL_BUT_FINISHED: list[Event] = [
    RunStarted(),
    Tick(),
    StepBegan(step_id="a", attempt=9),
    StepInDoubt(step_id="a", attempt=1, reason="x"),
    Confirm(actor="U1", step_id="a"),
    Reject(actor="U1", step_id="a", reason="x"),
    Pause(actor="U1"),
    Resume(actor="U1"),
    Abort(actor="U1", reason="x"),
    Retry(actor="U1", step_id="a"),
    Skip(actor="U1", step_id="a", reason="x"),
]


@pytest.mark.parametrize("build", [succeeded, failed, aborted])
@pytest.mark.parametrize("event", ALL_BUT_FINISHED, ids=lambda e: e.type)
def test_terminal_runs_refuse_everything(build: Callable[[], Run], event: Event) -> None:
    """A finished run cannot be started, paused, resumed, retried, skipped or aborted again."""
    run = build()
    assert run.terminal
    assert "nothing more can change it" in refuse(run, event)


@pytest.mark.parametrize("build", [succeeded, failed, aborted])
def test_terminal_runs_refuse_approvals(build: Callable[[], Run]) -> None:
    """A finished run takes no approvals."""
    run = build()
    refuse(run, approve(run, "U1", step_id="a"))


@pytest.mark.parametrize(
    ("outcome", "status"),
    [(OutcomeSucceeded(), StepStatus.SUCCEEDED), (OutcomeFailed(error="x"), StepStatus.FAILED)],
)
def test_late_step_result_after_abort_is_recorded_only(
    outcome: OutcomeSucceeded | OutcomeFailed, status: StepStatus
) -> None:
    """A worker finishing after the abort records what happened; the run stays aborted."""
    run = aborted()
    late, effects = finish(run, outcome, now=at(minutes=1))
    assert late.status is RunStatus.ABORTED
    assert late.cursor == run.cursor
    assert late.reason == run.reason
    assert state(late, "a").status is status
    assert effects == []
    refuse(late, StepFinished(step_id="a", attempt=1, outcome=outcome))  # only once


def test_late_result_for_a_step_not_running_is_refused() -> None:
    """A result for a step that never ran in a finished run is refused."""
    refuse(succeeded(), StepFinished(step_id="a", attempt=1, outcome=OutcomeSucceeded()))


# --- when the run wants a worker --------------------------------------------------------------


WAKE = [
    pytest.param(pending, None, None, id="pending"),
    pytest.param(ready, NOW, "execute", id="ready"),
    pytest.param(lambda: finish(retrying(), fail())[0], at(seconds=10), None, id="backoff"),
    pytest.param(running, NOW, "recover", id="running"),
    pytest.param(waiting_timer, at(minutes=5), None, id="timer"),
    pytest.param(waiting_approval, at(minutes=20), None, id="approval"),
    pytest.param(waiting_confirmation, None, None, id="confirmation"),
    pytest.param(blocked, None, None, id="blocked"),
    pytest.param(lambda: go(ready(), Pause(actor="U1")), None, None, id="paused"),
    pytest.param(succeeded, None, None, id="succeeded"),
    pytest.param(failed, None, None, id="failed"),
    pytest.param(aborted, None, None, id="aborted"),
]


@pytest.mark.parametrize(("build", "wake", "action"), WAKE)
def test_wake_at_and_next_action_now(
    build: Callable[[], Run], wake: object, action: str | None
) -> None:
    """Each state says when it next needs a worker, and what a worker should do right now."""
    run = build()
    assert wake_at(run, NOW) == wake
    assert next_action(run, NOW) == action
    if wake is not None:
        assert next_action(run, wake + timedelta(seconds=0)) is not None  # type: ignore[operator]


def test_the_initiator_cannot_approve_a_skip_someone_else_asked_for() -> None:
    """A skip approval without allow_initiator bars the run's initiator as well as the asker."""
    run = make_run(
        step("gate", skip={"approval": {"groups": ["security"]}}),
        step("after"),
    )
    run = begin(started(run))
    run, _ = finish(run, fail("drill too old", transient=False))
    run, _ = transition(run, Skip(actor="U_OP", groups=["operators"], step_id="gate",
                                  reason="override"), NOW)
    with pytest.raises(NotAuthorized):
        transition(run, approve(run, run.initiator, ["security"], step_id="gate"), NOW)
