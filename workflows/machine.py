"""The pure state machine of a run: ``transition(run, event, now) -> (run, effects)``.

No Redis, no Slack, no clock: time comes in as ``now``. An event that does not fit the run's state
raises ``InvalidCommand`` (or ``NotAuthorized``) and changes nothing; the input run is never
mutated. Effects are data (notifications) carried out at the edge by the engine.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from workflows.errors import InvalidCommand, NotAuthorized
from workflows.model import (
    Abort,
    ApprovalRequest,
    Approve,
    AutoRollbackNote,
    Confirm,
    DeclineAutoRollback,
    Event,
    HandOver,
    Hold,
    HoldRun,
    OutcomeFailed,
    OutcomeReschedule,
    OutcomeSucceeded,
    OutcomeWait,
    Pause,
    PlannedStep,
    RecordPage,
    Reject,
    ReleaseHold,
    Resume,
    Retry,
    Run,
    RunStarted,
    RunStatus,
    Skip,
    StepBegan,
    StepFinished,
    StepInDoubt,
    StepState,
    StepStatus,
    Supersede,
    TakeOver,
    Tick,
    Vote,
)
from workflows.patterns import fullmatch
from workflows.policy import effective_skip
from workflows.step_models import ApprovalPolicy, Effect

__all__ = [
    "Action",
    "Notify",
    "next_action",
    "resolve_path",
    "transition",
    "wake_at",
]

NotifyKind = Literal[
    "approval_requested",
    "approval_reminder",
    "approval_expired",
    "confirmation_requested",
    "skip_requested",
    "step_failed",
    "step_skipped",
    "run_blocked",
    "run_finished",
    "run_paused",
    "run_resumed",
    "run_held",  # a freeze covers the run, or paused it before a write step
    "hold_released",  # the freeze that held the run was lifted
    "commander_changed",
    "auto_rollback",  # why a halt was not rolled back automatically
]


class Notify(BaseModel):
    """A message for the run's thread; ``groups`` are mentioned (resolved to users at the edge)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: NotifyKind
    step_id: str | None = None
    text: str
    groups: list[str] = []
    users: list[str] = []


Action = Literal["execute", "continue", "recover", "tick"]

_MAX_BACKOFF = timedelta(minutes=10)


def transition(run: Run, event: Event, now: datetime) -> tuple[Run, list[Notify]]:
    """Apply ``event`` to a copy of ``run``; refuse it with a typed error if it does not fit."""
    new = _copy(run)
    effects: list[Notify] = []
    if new.terminal and not isinstance(event, StepFinished):
        raise InvalidCommand(f"the run is {new.status.value}; nothing more can change it")
    match event:
        case RunStarted():
            _start(new, now, effects)
        case Tick():
            _tick(new, now, effects)
        case StepBegan():
            _began(new, event, now)
        case StepFinished():
            _finished(new, event, now, effects)
        case StepInDoubt():
            _in_doubt(new, event, now, effects)
        case Approve():
            _approve(new, event, now, effects)
        case Reject():
            _reject(new, event, now, effects)
        case Confirm():
            _confirm(new, event, now, effects)
        case Pause():
            _pause(new, event, effects)
        case Resume():
            _resume(new, event, effects)
        case Abort():
            _finish(new, RunStatus.ABORTED, now, f"aborted by <@{event.actor}>: {event.reason}")
            effects.append(Notify(kind="run_finished", text=new.reason or "aborted"))
        case Retry():
            _retry(new, event, now)
        case Skip():
            _skip(new, event, now, effects)
        case TakeOver():
            _take_over(new, event, effects)
        case Supersede():
            why = (f"rolled back automatically: {event.by} (the environment's "
                   "policy.on_gate_failure is rollback); the rollback took over its lock"
                   if event.automatic else
                   f"superseded by {event.by}: the rollback it offered took over its lock")
            _finish(new, RunStatus.ABORTED, now, why)
            new.superseded_by = event.by
            effects.append(Notify(kind="run_finished", text=new.reason or "superseded"))
        case DeclineAutoRollback():
            _decline_auto_rollback(new, event, effects)
        case HoldRun():
            _hold(new, event, effects)
        case ReleaseHold():
            _release_hold(new, event, effects)
        case HandOver():
            _hand_over(new, event, effects)
        case RecordPage():
            if new.category != "incident":
                raise InvalidCommand("only an incident pages the on-call")
            new.page = event.page
    if new.hold is not None and not new.terminal:
        _pause_if_held(new, effects)
    new.version = run.version + 1
    new.updated_at = now
    return new, effects


def _copy(run: Run) -> Run:
    """A copy the transition may change: copy-on-write per step state (see ``_own``); the plan
    is immutable and shared. Far cheaper than a deep copy of every step of a long run."""
    new = run.model_copy(update={"steps": list(run.steps), "values": dict(run.values)})
    new._owned = set()
    return new


def _own(run: Run, index: int) -> StepState:
    """The step state at ``index``, copied the first time this transition touches it, so the
    input run is never changed."""
    if index not in run._owned:
        state = run.steps[index]
        run.steps[index] = state.model_copy(
            update={
                # The machine only appends votes and sets the request's own fields; votes and
                # the policy are never changed in place, so they are shared (a deep copy of a
                # request with a few votes cost ~0.15 ms per click).
                "approval": (
                    state.approval.model_copy(update={"votes": list(state.approval.votes)})
                    if state.approval
                    else None
                ),
                "data": dict(state.data),
                "inputs": dict(state.inputs),
            }
        )
        run._owned.add(index)
    return run.steps[index]


# --- what the engine should do -----------------------------------------------------------------


def next_action(run: Run, now: datetime) -> Action | None:
    """What a worker holding the run's lease should do now, if anything."""
    current = run.current
    if current is None or run.terminal:
        return None
    _, state = current
    if run.status is RunStatus.RUNNING:
        if state.status is StepStatus.READY and (state.due_at is None or state.due_at <= now):
            return "execute"
        if state.status is StepStatus.RUNNING:
            return "recover"  # begun by a worker that never finished it
    if run.status is RunStatus.WAITING and state.status is StepStatus.WAITING:
        if state.waiting_for in {"timer", "monitor"}:
            if state.due_at is not None and state.due_at <= now:
                return "continue"
        elif (due := _approval_due(state)) is not None and due <= now:
            return "tick"
    return None


def wake_at(run: Run, now: datetime) -> datetime | None:
    """When the run next needs a worker (None: only a person can move it)."""
    current = run.current
    if current is None or run.status not in {RunStatus.RUNNING, RunStatus.WAITING}:
        return None
    _, state = current
    if state.status is StepStatus.READY:
        return state.due_at or now
    if state.status is StepStatus.RUNNING:
        return now
    if state.status is StepStatus.WAITING:
        if state.waiting_for in {"timer", "monitor"}:
            return state.due_at or now
        return _approval_due(state)
    return None


def _approval_due(state: StepState) -> datetime | None:
    request = state.approval
    if request is None:
        return None
    if request.remind_at is not None:
        return min(request.expires_at, request.remind_at)
    return request.expires_at


# --- lifecycle -------------------------------------------------------------------------------


def _start(run: Run, now: datetime, effects: list[Notify]) -> None:
    if run.status is not RunStatus.PENDING:
        raise InvalidCommand(f"the run has already started (it is {run.status.value})")
    run.status = RunStatus.RUNNING
    if not run.plan:
        _finish(run, RunStatus.SUCCEEDED, now, None)
        effects.append(Notify(kind="run_finished", text="nothing to do: the plan is empty"))
        return
    _enter(run, 0, now, effects)


def _enter(run: Run, index: int, now: datetime, effects: list[Notify]) -> None:
    """Move the cursor to ``index`` and make that step ready (or finish the run past the end)."""
    if index >= len(run.plan):
        run.cursor = None
        _finish(run, RunStatus.SUCCEEDED, now, None)
        effects.append(Notify(kind="run_finished", text="all steps done"))
        return
    step, state = run.plan[index], _own(run, index)
    run.cursor = index
    state.visits += 1
    if step.max_visits is not None and state.visits > step.max_visits:
        state.status = StepStatus.BLOCKED
        state.error = f"entered {state.visits} times, more than its max_visits of {step.max_visits}"
        _block(run, f"step {step.id}: {state.error}", effects, step.id)
        return
    state.status = StepStatus.READY
    state.tries = 0
    state.due_at = now
    state.error = None
    state.approval = None
    state.waiting_for = None
    state.progress = None
    state.progress_text = None
    state.data = {}
    # A step entered again (a loop) starts clean: nothing of the last visit shows as current.
    state.result = None
    state.note = None
    state.started_at = None
    state.finished_at = None
    state.confirmed_by = None
    state.inputs = {}
    if run.status is RunStatus.WAITING:
        run.status = RunStatus.RUNNING


def _advance(run: Run, index: int, now: datetime, effects: list[Notify]) -> None:
    step = run.plan[index]
    if step.on_success == "next":
        _enter(run, index + 1, now, effects)
    else:
        _enter(run, _target(run, step.on_success), now, effects)


def _target(run: Run, step_id: str) -> int:
    index = run.index_of(step_id)
    if index is None:  # plans are validated at load; a missing target is a bug in planning
        raise InvalidCommand(f"the plan has no step {step_id!r}")
    return index


def _finish(run: Run, status: RunStatus, now: datetime, reason: str | None) -> None:
    run.status = status
    run.reason = reason
    run.finished_at = now
    run.paused_from = None


def _block(run: Run, reason: str, effects: list[Notify], step_id: str | None) -> None:
    if run.status is RunStatus.PAUSED:
        run.paused_from = RunStatus.BLOCKED
    else:
        run.status = RunStatus.BLOCKED
    run.reason = reason
    effects.append(Notify(kind="run_blocked", step_id=step_id, text=reason))


def _cursor_state(run: Run, step_id: str) -> tuple[int, StepState]:
    index = run.index_of(step_id)
    if index is None:
        raise InvalidCommand(f"this run has no step {step_id!r}")
    if run.cursor != index:
        where = run.plan[run.cursor].id if run.cursor is not None else "no step"
        raise InvalidCommand(f"step {step_id!r} is not the current step (the run is at {where})")
    return index, _own(run, index)


# --- engine events ---------------------------------------------------------------------------


def _began(run: Run, event: StepBegan, now: datetime) -> None:
    _, state = _cursor_state(run, event.step_id)
    if run.status is not RunStatus.RUNNING:
        raise InvalidCommand(f"the run is {run.status.value}; no step may begin")
    if state.status not in {StepStatus.READY, StepStatus.RUNNING}:
        raise InvalidCommand(f"step {event.step_id!r} is {state.status.value}, not ready")
    if event.attempt <= state.attempt:
        raise InvalidCommand(f"attempt {event.attempt} of {event.step_id!r} was already begun")
    state.status = StepStatus.RUNNING
    state.attempt = event.attempt
    state.tries += 1
    state.due_at = None
    if state.started_at is None:
        state.started_at = now


def _finished(run: Run, event: StepFinished, now: datetime, effects: list[Notify]) -> None:
    index = run.index_of(event.step_id)
    if index is None:
        raise InvalidCommand(f"this run has no step {event.step_id!r}")
    state, step = _own(run, index), run.plan[index]
    if (
        step.effect is Effect.READ
        and state.status is StepStatus.READY
        and run.cursor == index
        and event.attempt == state.attempt + 1
    ):
        # A read step's beginning is not recorded (running it again after a crash is harmless),
        # so its outcome arrives with the step still ready: it began implicitly.
        state.status = StepStatus.RUNNING
        state.attempt = event.attempt
        state.tries += 1
        state.due_at = None
        state.started_at = state.started_at or now
    if event.attempt != state.attempt or state.status not in {
        StepStatus.RUNNING,
        StepStatus.WAITING,
    }:
        raise InvalidCommand(
            f"step {event.step_id!r} attempt {event.attempt} is not in progress "
            f"(it is {state.status.value}, attempt {state.attempt})"
        )
    if state.status is StepStatus.WAITING and state.waiting_for in {"approval", "confirmation"}:
        # only people end these waits (Approve, Confirm, Skip): a worker result must not
        raise InvalidCommand(f"step {event.step_id!r} waits for people ({state.waiting_for})")
    outcome = event.outcome
    if run.terminal or run.cursor != index:
        # The run was aborted (or moved on) while the step ran: keep what happened, move nothing.
        if isinstance(outcome, OutcomeSucceeded):
            state.status, state.result = StepStatus.SUCCEEDED, outcome.result
        elif isinstance(outcome, OutcomeFailed):
            state.status, state.error = StepStatus.FAILED, outcome.error
        state.finished_at = now
        return
    match outcome:
        case OutcomeSucceeded():
            state.status = StepStatus.SUCCEEDED
            state.result = outcome.result
            state.note = outcome.note or state.note
            state.finished_at = now
            state.waiting_for = None
            state.due_at = None
            if state.progress is not None:
                state.progress = 1.0
            run.values.update(outcome.captures)
            if run.status is RunStatus.PAUSED:
                run.paused_from = RunStatus.RUNNING
                _enter_paused(run, index, now, effects)
            else:
                _advance(run, index, now, effects)
        case OutcomeFailed():
            _failed(run, index, outcome, now, effects)
        case OutcomeWait():
            state.status = StepStatus.WAITING
            state.waiting_for = outcome.waiting_for
            state.note = outcome.note or state.note
            if outcome.waiting_for == "approval":
                policy = step.approval or ApprovalPolicy(groups=["operators"])
                state.approval = _request(policy, now)
                effects.append(
                    Notify(
                        kind="approval_requested",
                        step_id=step.id,
                        text=f"Approval needed: {step.title}",
                        groups=policy.groups,
                    )
                )
            else:
                effects.append(
                    Notify(
                        kind="confirmation_requested",
                        step_id=step.id,
                        text=f"Confirmation needed: {step.title}",
                        groups=step.responders or [],
                    )
                )
            _set_waiting(run)
        case OutcomeReschedule():
            state.status = StepStatus.WAITING
            state.waiting_for = outcome.waiting_for
            state.due_at = outcome.at
            state.data = outcome.data
            state.progress = outcome.progress
            state.progress_text = outcome.progress_text
            _set_waiting(run)


def _enter_paused(run: Run, index: int, now: datetime, effects: list[Notify]) -> None:
    """A step finished while the run was paused: move on, but stay paused."""
    _advance(run, index, now, effects)
    if not run.terminal:
        run.status = RunStatus.PAUSED


def _set_waiting(run: Run) -> None:
    if run.status is RunStatus.PAUSED:
        run.paused_from = RunStatus.WAITING
    else:
        run.status = RunStatus.WAITING


def _set_running(run: Run) -> None:
    """The cursor's step is ready again: a paused run resumes to running, not to waiting."""
    if run.status is RunStatus.PAUSED:
        run.paused_from = RunStatus.RUNNING
    else:
        run.status = RunStatus.RUNNING


def _request(policy: ApprovalPolicy, now: datetime, **extra: Any) -> ApprovalRequest:
    remind = now + policy.remind_every if policy.remind_every else None
    return ApprovalRequest(
        policy=policy,
        requested_at=now,
        expires_at=now + policy.expires_after,
        remind_at=remind,
        **extra,
    )


def _failed(
    run: Run, index: int, outcome: OutcomeFailed, now: datetime, effects: list[Notify]
) -> None:
    step, state = run.plan[index], _own(run, index)
    state.error = outcome.error
    state.result = outcome.result or state.result
    state.waiting_for = None
    if outcome.transient and state.tries <= step.retries:
        backoff = min(step.retry_delay * (2 ** max(state.tries - 1, 0)), _MAX_BACKOFF)
        state.status = StepStatus.READY
        state.due_at = now + backoff
        _set_running(run)
        return
    state.finished_at = now
    reason = f"step {step.id} failed: {outcome.error}"
    if step.offer_on_failure:
        run.offer = step.offer_on_failure
    if step.on_failure == "abort":
        state.status = StepStatus.FAILED
        _finish(run, RunStatus.FAILED, now, reason)
        effects.append(Notify(kind="run_finished", text=reason))
    elif step.on_failure == "block":
        state.status = StepStatus.BLOCKED
        if run.status is RunStatus.WAITING:
            run.status = RunStatus.RUNNING
        _block(run, reason, effects, step.id)
    else:
        # The run goes on elsewhere: say what failed (block and abort say it themselves).
        effects.append(Notify(kind="step_failed", step_id=step.id, text=reason))
        state.status = StepStatus.FAILED
        run.reason = reason
        _set_running(run)
        _enter(run, _target(run, step.on_failure), now, effects)


def _in_doubt(run: Run, event: StepInDoubt, now: datetime, effects: list[Notify]) -> None:
    _, state = _cursor_state(run, event.step_id)
    if state.status is not StepStatus.RUNNING or state.attempt != event.attempt:
        raise InvalidCommand(f"step {event.step_id!r} attempt {event.attempt} is not in progress")
    state.status = StepStatus.BLOCKED
    state.error = f"in doubt: {event.reason}"
    state.finished_at = now
    _block(
        run,
        f"step {event.step_id} is in doubt: {event.reason}. Check it by hand, then retry or skip.",
        effects,
        event.step_id,
    )


def _tick(run: Run, now: datetime, effects: list[Notify]) -> None:
    if run.cursor is None:
        return
    step, state = run.plan[run.cursor], _own(run, run.cursor)
    request = state.approval
    if state.status is not StepStatus.WAITING or request is None:
        return
    if now >= request.expires_at:
        what = "skip request" if request.purpose == "skip" else "approval request"
        effects.append(
            Notify(
                kind="approval_expired",
                step_id=step.id,
                text=f"The {what} for {step.title} expired unanswered.",
            )
        )
        if request.purpose == "skip":
            state.approval = None
            state.status = StepStatus.BLOCKED
            state.waiting_for = None
            _block(run, f"the skip request for step {step.id} expired", effects, step.id)
            return
        state.tries = step.retries + 1  # an expired approval is not retried automatically
        _failed(run, run.cursor or 0, OutcomeFailed(error="approval expired"), now, effects)
        return
    if request.remind_at is not None and now >= request.remind_at:
        remind_every = request.policy.remind_every or timedelta(hours=4)
        while request.remind_at <= now:
            request.remind_at += remind_every
        effects.append(
            Notify(
                kind="approval_reminder",
                step_id=step.id,
                text=f"Reminder: still waiting for approval of {step.title}.",
                groups=request.policy.groups,
            )
        )


# --- people's commands -----------------------------------------------------------------------


def _approval_of(run: Run, step_id: str) -> tuple[int, StepState, ApprovalRequest]:
    index, state = _cursor_state(run, step_id)
    if state.status is not StepStatus.WAITING or state.approval is None:
        raise InvalidCommand(f"step {step_id!r} is not waiting for an approval")
    if run.status is RunStatus.PAUSED:
        raise InvalidCommand("the run is paused; resume it first")
    return index, state, state.approval


def _approve(run: Run, event: Approve, now: datetime, effects: list[Notify]) -> None:
    index, state, request = _approval_of(run, event.step_id)
    policy = request.policy
    if event.plan_hash != run.plan_hash:
        raise InvalidCommand(
            f"this approval was for plan {event.plan_hash}, but the plan is now {run.plan_hash}; "
            "earlier approvals no longer count"
        )
    if now >= request.expires_at:
        raise InvalidCommand("this approval request has expired")
    if not set(event.groups) & set(policy.groups):
        raise NotAuthorized(
            f"only members of {', '.join(policy.groups)} may approve this step"
        )
    if request.purpose == "skip" and event.actor == request.requested_by:
        raise NotAuthorized("you asked for this skip; someone else must approve it")
    if event.actor in _interested(run, request) and not policy.allow_initiator:
        who = "asked for this skip" if event.actor == request.requested_by else "started this run"
        raise NotAuthorized(f"you {who}; the policy needs someone else to approve")
    if any(v.user == event.actor and v.decision == "approve" for v in request.votes):
        raise InvalidCommand("you have already approved this step")
    request.votes.append(
        Vote(user=event.actor, at=now, decision="approve", plan_hash=event.plan_hash)
    )
    approvers = sorted(
        {v.user for v in request.votes if v.decision == "approve" and v.plan_hash == run.plan_hash}
    )
    if len(approvers) < policy.quorum:
        return
    state.finished_at = now
    state.waiting_for = None
    if request.purpose == "skip":
        state.status = StepStatus.SKIPPED
        asker = f" at <@{request.requested_by}>'s request" if request.requested_by else ""
        state.note = f"skipped{asker} ({request.reason}); approved by " + ", ".join(
            f"<@{u}>" for u in approvers
        )
        effects.append(Notify(kind="step_skipped", step_id=state.id, text=state.note))
    else:
        state.status = StepStatus.SUCCEEDED
        state.result = {"approvers": approvers, "plan_hash": run.plan_hash}
    if run.status is RunStatus.WAITING:
        run.status = RunStatus.RUNNING
    run.reason = None
    _advance(run, index, now, effects)


def _interested(run: Run, request: ApprovalRequest) -> set[str]:
    """Who may not approve under a policy without allow_initiator: the run's initiator, and
    for a skip also the person who asked for it."""
    people = {run.initiator}
    if request.purpose == "skip" and request.requested_by:
        people.add(request.requested_by)
    return people


def _reject(run: Run, event: Reject, now: datetime, effects: list[Notify]) -> None:
    _, state, request = _approval_of(run, event.step_id)
    if now >= request.expires_at:
        raise InvalidCommand("this approval request has expired")
    allowed = request.policy.reject_groups or request.policy.groups
    if not set(event.groups) & set(allowed):
        raise NotAuthorized(f"only members of {', '.join(allowed)} may reject this step")
    request.votes.append(
        Vote(
            user=event.actor,
            at=now,
            decision="reject",
            plan_hash=run.plan_hash,
            reason=event.reason,
        )
    )
    reason = f"rejected by <@{event.actor}>: {event.reason}"
    state.finished_at = now
    state.waiting_for = None
    if request.purpose == "skip":
        state.approval = None
        state.status = StepStatus.BLOCKED
        _block(run, f"the skip of step {state.id} was {reason}", effects, state.id)
        return
    state.status = StepStatus.FAILED
    state.error = reason
    _finish(run, RunStatus.FAILED, now, f"step {state.id} {reason}")
    effects.append(Notify(kind="run_finished", step_id=state.id, text=run.reason or reason))


def _confirm(run: Run, event: Confirm, now: datetime, effects: list[Notify]) -> None:
    index, state = _cursor_state(run, event.step_id)
    step = run.plan[index]
    if state.status is not StepStatus.WAITING or state.waiting_for != "confirmation":
        raise InvalidCommand(f"step {event.step_id!r} is not waiting for a confirmation")
    if run.status is RunStatus.PAUSED:
        raise InvalidCommand("the run is paused; resume it first")
    if step.responders and not set(event.groups) & set(step.responders):
        raise NotAuthorized(f"only members of {', '.join(step.responders)} may confirm this step")
    inputs = _check_inputs(run, index, event.inputs)
    state.status = StepStatus.SUCCEEDED
    state.confirmed_by = event.actor
    state.inputs = inputs
    state.finished_at = now
    state.waiting_for = None
    state.result = {"confirmed_by": event.actor, **({"inputs": inputs} if inputs else {})}
    evidence = step.with_.get("evidence")
    if isinstance(evidence, dict) and evidence.get("source") == "person":
        # A gate fed by a person's confirmation: what they saw and who they are, for the card
        # and the audit log.
        state.result["evidence"] = {**evidence, "by": event.actor, "value": inputs}
    context = {"inputs": inputs, "result": state.result}
    for name, path in step.capture.items():
        run.values[name] = resolve_path(context, path)
    run.status = RunStatus.RUNNING
    _advance(run, index, now, effects)


def _check_inputs(run: Run, index: int, given: dict[str, str]) -> dict[str, str]:
    specs = {spec.name: spec for spec in run.plan[index].inputs}
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise InvalidCommand(f"unexpected input {', '.join(unknown)}")
    clean: dict[str, str] = {}
    for name, spec in specs.items():
        value = given.get(name, "").strip()
        if not value:
            if spec.required:
                raise InvalidCommand(f"{spec.label} is required")
            continue
        if len(value) > spec.max_length:
            raise InvalidCommand(f"{spec.label} is longer than {spec.max_length} characters")
        if spec.pattern and not fullmatch(spec.pattern, value):
            raise InvalidCommand(f"{spec.label} does not have the expected form ({spec.pattern})")
        if spec.release is not None and _bare(value) != _bare(spec.release):
            raise InvalidCommand(
                f"{spec.label}: {value!r} is not the release {spec.release}: do not confirm "
                "until the nodes run it (fix the deploy, or abort)"
            )
        clean[name] = value
    return clean


def _bare(version: str) -> str:
    """A release as typed, without case or a leading 'v' (v1.4.2 == 1.4.2)."""
    return version.strip().lower().removeprefix("v")


def _pause(run: Run, event: Pause, effects: list[Notify]) -> None:
    if run.status is RunStatus.PAUSED:
        raise InvalidCommand("the run is already paused")
    if run.status not in {RunStatus.RUNNING, RunStatus.WAITING, RunStatus.BLOCKED}:
        raise InvalidCommand(f"a {run.status.value} run cannot be paused")
    run.paused_from = run.status
    run.status = RunStatus.PAUSED
    why = f": {event.reason}" if event.reason else ""
    effects.append(Notify(kind="run_paused", text=f"paused by <@{event.actor}>{why}"))


def _resume(run: Run, event: Resume, effects: list[Notify]) -> None:
    if run.status is not RunStatus.PAUSED:
        raise InvalidCommand(f"the run is {run.status.value}, not paused")
    if run.hold is not None:
        step = _held_step(run, run.paused_from or RunStatus.RUNNING)
        if step is not None:
            raise InvalidCommand(
                f"promotions are frozen ({run.hold.reason}); the run stays paused before "
                f"{step.title} until the freeze is lifted (`/parthenon unfreeze`)"
            )
        run.hold = run.hold.model_copy(update={"paused": False})
    run.status = run.paused_from or RunStatus.RUNNING
    run.paused_from = None
    effects.append(Notify(kind="run_resumed", text=f"resumed by <@{event.actor}>"))


# --- promotion freezes and incident command ----------------------------------------------------


def _held_step(run: Run, status: RunStatus) -> PlannedStep | None:
    """The write step a run in ``status`` is about to begin, if it is at one (a freeze stops it
    there); None when the current step is a read step or one already begun."""
    current = run.current
    if current is None or status is not RunStatus.RUNNING:
        return None
    step, state = current
    if step.effect is Effect.WRITE and state.status is StepStatus.READY:
        return step
    return None


def _pause_if_held(run: Run, effects: list[Notify]) -> None:
    """After every transition: a held run that is about to begin a write step pauses instead.
    A step in flight is never interrupted; it finishes, and the run stops before the next."""
    hold = run.hold
    if hold is None or run.status is not RunStatus.RUNNING:
        return
    step = _held_step(run, run.status)
    if step is None:
        return
    run.paused_from = RunStatus.RUNNING
    run.status = RunStatus.PAUSED
    run.hold = hold.model_copy(update={"paused": True})  # (never change the input run's)
    effects.append(
        Notify(
            kind="run_held",
            step_id=step.id,
            text=f"Paused before {step.title} (a write step): {hold.reason}. It resumes when "
            "the freeze is lifted.",
        )
    )


def _hold(run: Run, event: HoldRun, effects: list[Notify]) -> None:
    if run.hold is not None and event.freeze_id in run.hold.freezes:
        raise InvalidCommand("this freeze already holds the run")
    if run.hold is None:
        run.hold = Hold(freezes=[event.freeze_id], reason=event.reason)
    else:
        run.hold = run.hold.model_copy(
            update={"freezes": [*run.hold.freezes, event.freeze_id], "reason": event.reason}
        )
    if _held_step(run, run.status) is None:  # else the pause right after says it
        effects.append(
            Notify(
                kind="run_held",
                text=f"{event.reason}. This run pauses before its next write step; a step in "
                "flight finishes first.",
            )
        )


def _take_over(run: Run, event: TakeOver, effects: list[Notify]) -> None:
    if run.status not in {RunStatus.RUNNING, RunStatus.WAITING, RunStatus.BLOCKED,
                          RunStatus.PAUSED}:
        raise InvalidCommand(f"a {run.status.value} run has no lock to take over")
    if run.status is not RunStatus.PAUSED:
        run.paused_from = run.status
        run.status = RunStatus.PAUSED
    if run.hold is not None and run.hold.paused:
        # paused by hand from now on: lifting the freeze must not resume it without its locks
        run.hold = run.hold.model_copy(update={"paused": False})
    effects.append(Notify(
        kind="run_paused",
        text=(f"<@{event.actor}> took this run's environment locks over: {event.reason}. It "
              "stays paused; resuming it takes the locks back once they are free."),
    ))


def _release_hold(run: Run, event: ReleaseHold, effects: list[Notify]) -> None:
    hold = run.hold
    if hold is None or event.freeze_id not in hold.freezes:
        raise InvalidCommand("no such freeze holds the run")
    left = [f for f in hold.freezes if f != event.freeze_id]
    if left:
        run.hold = hold.model_copy(update={"freezes": left})
        return
    run.hold = None
    if hold.paused and run.status is RunStatus.PAUSED:
        run.status = run.paused_from or RunStatus.RUNNING
        run.paused_from = None
        effects.append(Notify(kind="hold_released", text="The freeze is lifted; the run resumes."))
    elif run.status is RunStatus.PAUSED:
        effects.append(
            Notify(
                kind="hold_released",
                text="The freeze is lifted; the run stays paused (it was paused by hand): "
                "resume it when it should go on.",
            )
        )
    else:
        effects.append(Notify(kind="hold_released", text="The freeze is lifted."))


def _hand_over(run: Run, event: HandOver, effects: list[Notify]) -> None:
    if run.category != "incident":
        raise InvalidCommand("only an incident has a commander")
    before = run.commander or run.initiator
    if event.to == before:
        raise InvalidCommand(f"<@{event.to}> is already the commander")
    run.commander = event.to
    effects.append(
        Notify(
            kind="commander_changed",
            text=f"<@{event.to}> is now the incident commander (was <@{before}>; handed over "
            f"by <@{event.actor}>).",
            users=[event.to],
        )
    )


def _decline_auto_rollback(
    run: Run, event: DeclineAutoRollback, effects: list[Notify]
) -> None:
    """The bot will not start this halt's rollback itself: said in the thread, kept for the card
    (whose "Start rollback…" button stays for a person)."""
    if run.status is not RunStatus.BLOCKED:
        raise InvalidCommand(f"the run is {run.status.value}, not halted")
    run.auto_rollback = AutoRollbackNote(step_id=event.step_id, attempt=event.attempt,
                                         reason=event.reason)
    effects.append(Notify(kind="auto_rollback", step_id=event.step_id,
                          text=f"Not rolled back automatically: {event.reason}"))


def _retry(run: Run, event: Retry, now: datetime) -> None:
    _, state = _cursor_state(run, event.step_id)
    if run.status is not RunStatus.BLOCKED or state.status is not StepStatus.BLOCKED:
        raise InvalidCommand(
            f"only a blocked step can be retried (step {event.step_id!r} is {state.status.value})"
        )
    state.status = StepStatus.READY
    state.due_at = now
    state.tries = 0
    state.error = None
    state.approval = None
    state.finished_at = None
    state.data = {}  # a retried monitor window starts over, without its old samples
    state.progress = None
    state.progress_text = None
    run.status = RunStatus.RUNNING
    run.reason = None


def _skip(run: Run, event: Skip, now: datetime, effects: list[Notify]) -> None:
    index, state = _cursor_state(run, event.step_id)
    step = run.plan[index]
    if run.status is RunStatus.PAUSED:
        raise InvalidCommand("the run is paused; resume it first")
    skippable = state.status is StepStatus.BLOCKED or (
        state.status is StepStatus.WAITING and state.waiting_for in {"confirmation", "timer"}
    )
    if not skippable:
        raise InvalidCommand(
            f"step {step.id!r} is {state.status.value}; only a blocked step, or one waiting for a "
            "confirmation or a timer, can be skipped"
        )
    if not step.skip.allowed:
        raise InvalidCommand(f"step {step.id!r} may not be skipped; abort the run instead")
    # Never a skip on the asker's word: a plan made before skips always needed an approval
    # falls back to the groups that could complete the step, else the operators.
    policy = step.skip.approval or effective_skip(
        step.kind, step.approval, step.responders, step.skip, ("operators",)
    ).approval
    assert policy is not None  # effective_skip gives an approval whenever a skip is allowed
    state.approval = _request(policy, now, purpose="skip", requested_by=event.actor,
                              reason=event.reason)
    state.status = StepStatus.WAITING
    state.waiting_for = "approval"
    run.status = RunStatus.WAITING
    run.reason = None
    quorum = f"{policy.quorum} distinct approvals" if policy.quorum > 1 else "an approval"
    effects.append(
        Notify(
            kind="skip_requested",
            step_id=step.id,
            text=(f"<@{event.actor}> asks to skip {step.title}: {event.reason}. "
                  f"It needs {quorum} from {', '.join(policy.groups)}, not the one who asked."),
            groups=policy.groups,
        )
    )


def resolve_path(context: dict[str, Any], path: str) -> Any:
    """Follow a dotted path ('result.height', 'inputs.checksum', 'result.nodes.0.hash')."""
    value: Any = context
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value
