"""The run: one serialisable pydantic model holding all state of one workflow run, and the events
that change it. Definitions (the YAML side) live in ``workflows.definition``.

A run carries its own resolved plan (the steps with concrete targets), so a definition or config
change never alters a run in flight, and an approval can be bound to the plan's hash.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from workflows.step_models import ApprovalPolicy, Effect, InputSpec, SkipPolicy, StepKind
from workflows.userid import USER_ID_PATTERN

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "Abort",
    "ApprovalRequest",
    "Approve",
    "AutoRollbackNote",
    "Command",
    "Confirm",
    "DeclineAutoRollback",
    "Event",
    "HandOver",
    "Hold",
    "HoldRun",
    "Outcome",
    "OutcomeFailed",
    "OutcomeReschedule",
    "OutcomeSucceeded",
    "OutcomeWait",
    "PageState",
    "Pause",
    "PlannedStep",
    "RecordPage",
    "Reject",
    "ReleaseHold",
    "Resume",
    "Retry",
    "Run",
    "RunStarted",
    "RunStatus",
    "Skip",
    "StepBegan",
    "StepFinished",
    "StepInDoubt",
    "StepState",
    "StepStatus",
    "Supersede",
    "TakeOver",
    "Tick",
    "Vote",
    "compute_plan_hash",
]


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"  # for an approval, a manual confirmation or a timer
    BLOCKED = "blocked"  # a step failed after its retries, or is in doubt: a human decides
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"


TERMINAL_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.ABORTED})
ACTIVE_STATUSES = frozenset(set(RunStatus) - TERMINAL_STATUSES)


class StepStatus(StrEnum):
    PENDING = "pending"  # not reached yet
    READY = "ready"  # the cursor is here; due for execution at ``due_at``
    RUNNING = "running"  # a worker began it (for write steps: intent recorded)
    WAITING = "waiting"  # an approval, a confirmation, a timer or a monitor window
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    BLOCKED = "blocked"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlannedStep(_Model):
    """A definition step resolved for one run: concrete targets, qualified id, goto indexes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    description: str = ""
    runbook: str = ""
    kind: StepKind
    effect: Effect = Effect.READ
    environment: str | None = None
    targets: list[str] = Field(default_factory=list)
    with_: dict[str, Any] = Field(default_factory=dict)
    capture: dict[str, str] = Field(default_factory=dict)
    approval: ApprovalPolicy | None = None
    inputs: list[InputSpec] = Field(default_factory=list)
    responders: list[str] | None = None
    on_success: str = "next"  # next | qualified step id
    on_failure: str = "block"  # block | abort | qualified step id
    offer_on_failure: str | None = None
    retries: int = 0
    retry_delay: timedelta = timedelta(seconds=5)
    timeout: timedelta = timedelta(seconds=60)
    max_visits: int | None = None
    skip: SkipPolicy = SkipPolicy()
    group: str | None = None  # e.g. "wave-2"
    wave: dict[str, Any] | None = None  # {index, percent, nodes, cumulative} for wave groups


class Vote(_Model):
    user: str
    at: datetime
    decision: Literal["approve", "reject"]
    plan_hash: str
    reason: str | None = None


class ApprovalRequest(_Model):
    """An open request for approval: of a step, or of skipping a step."""

    purpose: Literal["step", "skip"] = "step"
    policy: ApprovalPolicy
    requested_at: datetime
    expires_at: datetime
    remind_at: datetime | None = None
    requested_by: str | None = None  # for skips: who asked
    reason: str | None = None
    votes: list[Vote] = Field(default_factory=list)


class StepState(_Model):
    id: str
    status: StepStatus = StepStatus.PENDING
    attempt: int = 0  # execution attempts begun over the whole run (the ledger's key)
    tries: int = 0  # attempts begun in the current visit (what retries count against)
    visits: int = 0  # times the cursor entered the step (loops)
    due_at: datetime | None = None  # READY: when to run; WAITING: next wake (timer, sample)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    approval: ApprovalRequest | None = None
    waiting_for: Literal["approval", "confirmation", "timer", "monitor"] | None = None
    result: dict[str, Any] | None = None
    data: dict[str, Any] = Field(default_factory=dict)  # executor-private (monitor samples)
    error: str | None = None
    note: str | None = None  # e.g. "skipped by <@U1>: reason"
    progress: float | None = None  # 0..1 for monitor windows and waves
    progress_text: str | None = None
    confirmed_by: str | None = None
    inputs: dict[str, str] = Field(default_factory=dict)


class AutoRollbackNote(_Model):
    """Why the bot did not start the rollback a halted run offers, though the environment's
    policy says to (workflows/autorollback.py): the card keeps its button for a person."""

    step_id: str
    attempt: int
    reason: str


class Hold(_Model):
    """Promotions are frozen where the run writes: it pauses before its next write step (never
    in the middle of one) until every freeze holding it is lifted."""

    freezes: list[str]  # ids of the freezes that hold it (workflows.freezes)
    reason: str
    paused: bool = False  # the hold paused the run (lifting the freeze resumes it)


class Run(_Model):
    id: str
    workflow: str
    definition_version: str
    title: str
    category: str = "operations"
    params: dict[str, str] = Field(default_factory=dict)
    environment: str | None = None
    initiator: str
    channel: str | None = None
    message_ts: str | None = None
    thread_ts: str | None = None
    commander: str | None = None  # an incident's commander (None: the initiator)
    page: PageState | None = None  # an incident's page to the on-call (bot.pager)
    hold: Hold | None = None  # a promotion freeze holds the run before its next write step
    status: RunStatus = RunStatus.PENDING
    paused_from: RunStatus | None = None
    cursor: int | None = None
    plan: list[PlannedStep]
    plan_hash: str
    steps: list[StepState]
    values: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    reason: str | None = None  # why blocked, failed or aborted
    offer: str | None = None  # a workflow the card offers to start (rollback after a halt)
    parent_run_id: str | None = None
    # Environments whose lock the run holds from start to end (workflows/policy.py).
    locks: list[str] = Field(default_factory=list)
    superseded_by: str | None = None  # the run that took over this one's locks
    auto_rollback: AutoRollbackNote | None = None  # a halt the bot did not roll back, and why
    version: int = 0
    # Indexes of step states a transition has copied already (machine's copy-on-write).
    _owned: set[int] = PrivateAttr(default_factory=set)
    # step id -> index in the plan, built on first use (the plan never changes).
    _index: dict[str, int] | None = PrivateAttr(default=None)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def current(self) -> tuple[PlannedStep, StepState] | None:
        if self.cursor is None:
            return None
        return self.plan[self.cursor], self.steps[self.cursor]

    def index_of(self, step_id: str) -> int | None:
        if self._index is None or len(self._index) != len(self.plan):
            self._index = {step.id: i for i, step in enumerate(self.plan)}
        return self._index.get(step_id)


def compute_plan_hash(
    workflow: str,
    definition_version: str,
    params: dict[str, str],
    environment: str | None,
    plan: list[PlannedStep],
) -> str:
    """What an approval approves: workflow, version, parameters, environment and targets."""
    body = {
        "workflow": workflow,
        "version": definition_version,
        "params": params,
        "environment": environment,
        "steps": [[s.id, s.kind.value, s.environment, s.targets] for s in plan],
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# --- events -----------------------------------------------------------------------------------
# Engine events come from workers; commands come from people (through the service).


class RunStarted(_Model):
    type: Literal["run_started"] = "run_started"


class Tick(_Model):
    """Time passed: fire due timers (approval expiry and reminders, waits, monitor samples)."""

    type: Literal["tick"] = "tick"


class StepBegan(_Model):
    type: Literal["step_began"] = "step_began"
    step_id: str
    attempt: int
    worker: str = ""


class OutcomeSucceeded(_Model):
    kind: Literal["succeeded"] = "succeeded"
    result: dict[str, Any] = Field(default_factory=dict)
    captures: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None


class OutcomeFailed(_Model):
    kind: Literal["failed"] = "failed"
    error: str
    transient: bool = False  # worth a retry (if the step has retries left)
    result: dict[str, Any] = Field(default_factory=dict)


class OutcomeWait(_Model):
    """The step now waits for people: an approval request or a manual confirmation."""

    kind: Literal["wait"] = "wait"
    waiting_for: Literal["approval", "confirmation"]
    note: str | None = None


class OutcomeReschedule(_Model):
    """The step is not done: run it again at ``at`` (waits, monitor windows), keeping ``data``."""

    kind: Literal["reschedule"] = "reschedule"
    at: datetime
    data: dict[str, Any] = Field(default_factory=dict)
    progress: float | None = None
    progress_text: str | None = None
    waiting_for: Literal["timer", "monitor"] = "timer"


Outcome = Annotated[
    OutcomeSucceeded | OutcomeFailed | OutcomeWait | OutcomeReschedule,
    Field(discriminator="kind"),
]


class StepFinished(_Model):
    """A worker's outcome for one attempt of a step."""

    type: Literal["step_finished"] = "step_finished"
    step_id: str
    attempt: int
    outcome: Outcome


class StepInDoubt(_Model):
    """A write step was begun and never finished (a crash) and could not be verified."""

    type: Literal["step_in_doubt"] = "step_in_doubt"
    step_id: str
    attempt: int
    reason: str


class _Command(_Model):
    actor: str  # a Slack user id
    groups: list[str] = Field(default_factory=list)  # the actor's groups, resolved by the service


class Approve(_Command):
    type: Literal["approve"] = "approve"
    step_id: str
    plan_hash: str


class Reject(_Command):
    type: Literal["reject"] = "reject"
    step_id: str
    reason: str = Field(min_length=1, max_length=1000)


class Confirm(_Command):
    type: Literal["confirm"] = "confirm"
    step_id: str
    inputs: dict[str, str] = Field(default_factory=dict)


class Pause(_Command):
    type: Literal["pause"] = "pause"
    reason: str | None = None


class Resume(_Command):
    type: Literal["resume"] = "resume"


class HoldRun(_Command):
    """A promotion freeze now covers the run: it pauses before its next write step."""

    type: Literal["hold"] = "hold"
    freeze_id: str
    reason: str = Field(min_length=1, max_length=1000)


class ReleaseHold(_Command):
    """A freeze that held the run was lifted."""

    type: Literal["release_hold"] = "release_hold"
    freeze_id: str


class PageState(_Model):
    """Where paging the on-call for an incident stands (bot.pager writes it; the card shows it)."""

    status: Literal["triggered", "failed"]
    via: str  # "pagerduty" | "webhook"
    at: datetime
    attempts: int = 1
    error: str | None = None  # why the last attempt failed (never a secret)
    retry_at: datetime | None = None


class RecordPage(_Command):
    """The pager's word on paging this incident's on-call; only the bot issues it."""

    type: Literal["record_page"] = "record_page"
    page: PageState


class HandOver(_Command):
    """The incident's command passes to ``to``."""

    type: Literal["hand_over"] = "hand_over"
    to: str = Field(pattern=USER_ID_PATTERN)


class Abort(_Command):
    type: Literal["abort"] = "abort"
    reason: str = Field(min_length=1, max_length=1000)


class Retry(_Command):
    type: Literal["retry"] = "retry"
    step_id: str


class Skip(_Command):
    type: Literal["skip"] = "skip"
    step_id: str
    reason: str = Field(min_length=1, max_length=1000)


Command = Annotated[
    Approve | Reject | Confirm | Pause | Resume | Abort | Retry | Skip | HoldRun | ReleaseHold
    | HandOver | RecordPage,
    Field(discriminator="type"),
]

class TakeOver(_Command):
    """Someone allowed by the environment's policy takes the run's environment locks away: the
    run pauses (before its next step) and stays paused, even when a freeze that held it is
    lifted, until a person resumes it (which takes the locks back once they are free)."""

    type: Literal["take_over"] = "take_over"
    reason: str = Field(min_length=1, max_length=1000)


class Supersede(_Model):
    """The rollback a halted run offered took its environment locks over: the run ends."""

    type: Literal["superseded"] = "superseded"
    by: str  # the run that took over
    #: the bot started it on its own (the environment's policy.on_gate_failure: rollback)
    automatic: bool = False
    actor: str | None = None  # who started the run that took over (the audit log's "who")


class DeclineAutoRollback(_Model):
    """The bot's word that it will not start this halt's rollback itself, and why."""

    type: Literal["auto_rollback_declined"] = "auto_rollback_declined"
    actor: str = "parthenon-bot"  # the audit log's "who"
    step_id: str
    attempt: int
    reason: str = Field(min_length=1, max_length=1000)


Event = Annotated[
    RunStarted
    | Tick
    | Supersede
    | DeclineAutoRollback
    | TakeOver
    | StepBegan
    | StepFinished
    | StepInDoubt
    | Approve
    | Reject
    | Confirm
    | Pause
    | Resume
    | Abort
    | Retry
    | Skip
    | HoldRun
    | ReleaseHold
    | HandOver
    | RecordPage,
    Field(discriminator="type"),
]
