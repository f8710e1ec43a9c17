"""Random event sequences against the run machine: the invariants hold after every event."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.unit.workflows.runs import INITIATOR, NOW, make_run, step
from workflows.errors import WorkflowError
from workflows.machine import next_action, transition, wake_at
from workflows.model import (
    Abort,
    Approve,
    Confirm,
    Event,
    Outcome,
    OutcomeFailed,
    OutcomeReschedule,
    OutcomeSucceeded,
    OutcomeWait,
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
from workflows.step_models import StepKind

#: Who may act, with the groups the service would resolve for them.
ACTORS = {
    INITIATOR: ["release", "ops"],
    "U1": ["release"],
    "U2": ["release"],
    "U3": ["release", "ops"],
    "U4": ["ops"],
    "U9": [],  # a member of nothing
}
CURRENT = "<current>"  # stands for the step under the cursor, whatever it is

PLAN = [
    step(
        "gate",
        "approval",
        approval={"groups": ["release"], "quorum": 2, "expires_after": "1h", "remind_every": "20m"},
    ),
    step(
        "fix",
        "manual",
        responders=["ops"],
        inputs=[{"name": "checksum", "label": "Checksum", "pattern": "[0-9a-f]{8}"}],
        capture={"checksum": "inputs.checksum"},
    ),
    step(
        "deploy",
        effect="write",
        retries=2,
        retry_delay="10s",
        offer_on_failure="rollback",
        skip={"approval": {"groups": ["release"], "expires_after": "30m"}},
    ),
    step("soak", "wait", retries=1),
]
STEP_IDS = [CURRENT, "gate", "fix", "deploy", "soak", "nope"]
ACTIVE = {StepStatus.READY, StepStatus.RUNNING, StepStatus.WAITING}
#: The statuses the cursor's step may have for each (unpaused) run status.
STEP_FOR_RUN = {
    RunStatus.RUNNING: {StepStatus.READY, StepStatus.RUNNING},
    RunStatus.WAITING: {StepStatus.WAITING},
    RunStatus.BLOCKED: {StepStatus.BLOCKED},
}

actors = st.sampled_from(sorted(ACTORS))
step_ids = st.sampled_from(STEP_IDS)


class RunMachine(RuleBasedStateMachine):
    """Engine events and people's commands in any order, at any time, from anyone."""

    run: Run
    now: datetime

    @initialize(start=st.integers(0, 3))
    def plan(self, start: int) -> None:
        self.run = make_run(*PLAN)
        self.now = NOW
        if start:  # mostly begin started, so that the sequences reach the later steps
            self.apply(RunStarted())

    # --- helpers -------------------------------------------------------------------------------

    def step_id(self, choice: str) -> str:
        if choice == CURRENT:
            return self.run.plan[self.run.cursor].id if self.run.cursor is not None else "gate"
        return choice

    def attempt(self, step_id: str, choice: str) -> int:
        index = self.run.index_of(step_id)
        base = self.run.steps[index].attempt if index is not None else 0
        return {"same": base, "next": base + 1, "stale": base - 1}[choice]

    def apply(self, event: Event) -> None:
        """Apply the event if the machine accepts it, checking what must hold on each event."""
        old = self.run
        before = old.model_dump()
        try:
            new, _ = transition(old, event, self.now)
        except WorkflowError:
            assert old.model_dump() == before, "a refused event changed the run"
            return
        assert old.model_dump() == before, "the input run was mutated"
        assert new.version == old.version + 1
        if old.terminal:
            assert isinstance(event, StepFinished), "a terminal run accepted a change"
            keep = {"steps", "version", "updated_at"}
            assert new.model_dump(exclude=keep) == old.model_dump(exclude=keep)
        self.run = new

    # --- rules --------------------------------------------------------------------------------

    @rule(seconds=st.sampled_from([1, 10, 45, 600, 1200, 3600]))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule(
        kind=st.sampled_from(["start", "tick", "begin", "finish", "finish", "in_doubt"]),
        choice=step_ids,
        attempt=st.sampled_from(["same", "same", "next", "stale"]),
        pick=st.integers(0, 3),
        later=st.sampled_from([0, 30, 600]),
    )
    def engine_event(self, kind: str, choice: str, attempt: str, pick: int, later: int) -> None:
        """Any engine event, for any step and attempt, possibly stale or duplicated."""
        sid = self.step_id(choice)
        if kind == "start":
            self.apply(RunStarted())
        elif kind == "tick":
            self.apply(Tick())
        elif kind == "begin":
            self.apply(StepBegan(step_id=sid, attempt=self.attempt(sid, attempt)))
        elif kind == "in_doubt":
            self.apply(StepInDoubt(step_id=sid, attempt=self.attempt(sid, attempt), reason="x"))
        else:
            self.apply(
                StepFinished(
                    step_id=sid,
                    attempt=self.attempt(sid, attempt),
                    outcome=self.any_outcome(sid, pick, later),
                )
            )

    def any_outcome(self, sid: str, pick: int, later: int) -> Outcome:
        """An outcome that an executor of that step's kind could give."""
        index = self.run.index_of(sid)
        kind = self.run.plan[index].kind if index is not None else StepKind.RPC
        at = self.now + timedelta(seconds=later)
        options: list[Outcome] = {
            StepKind.APPROVAL: [OutcomeWait(waiting_for="approval"), OutcomeFailed(error="x")],
            StepKind.MANUAL: [OutcomeWait(waiting_for="confirmation"), OutcomeFailed(error="x")],
            StepKind.WAIT: [
                OutcomeReschedule(at=at),
                OutcomeReschedule(at=at, waiting_for="monitor"),
                OutcomeSucceeded(),
                OutcomeFailed(error="x"),
            ],
        }.get(kind, [OutcomeSucceeded(), OutcomeFailed(error="x", transient=True)])
        return options[pick % len(options)]

    @rule(
        kind=st.sampled_from(
            ["approve", "approve", "reject", "confirm", "pause", "resume", "abort", "retry", "skip"]
        ),
        actor=actors,
        choice=step_ids,
        right_plan=st.booleans(),
        inputs=st.sampled_from(
            [{"checksum": "deadbeef"}, {}, {"checksum": "nope"}, {"checksum": "deadbeef", "x": "1"}]
        ),
        really=st.integers(0, 3),
    )
    def person_command(
        self,
        kind: str,
        actor: str,
        choice: str,
        right_plan: bool,
        inputs: dict[str, str],
        really: int,
    ) -> None:
        """Anyone (the initiator, approvers, outsiders) sends any command about any step."""
        who: dict[str, Any] = {"actor": actor, "groups": ACTORS[actor]}
        sid = self.step_id(choice)
        if kind == "approve":
            plan_hash = self.run.plan_hash if right_plan else "f" * 16
            self.apply(Approve(**who, step_id=sid, plan_hash=plan_hash))
        elif kind == "reject":
            self.apply(Reject(**who, step_id=sid, reason="no"))
        elif kind == "confirm":
            self.apply(Confirm(**who, step_id=sid, inputs=inputs))
        elif kind == "pause":
            self.apply(Pause(**who))
        elif kind == "resume":
            self.apply(Resume(**who))
        elif kind == "abort":
            if really == 0:  # rarely, so that runs get far before they end
                self.apply(Abort(**who, reason="stop"))
        elif kind == "retry":
            self.apply(Retry(**who, step_id=sid))
        else:
            self.apply(Skip(**who, step_id=sid, reason="later"))

    @rule(moves=st.integers(1, 12), failing=st.integers(0, 6), interrupt=st.integers(0, 2))
    def things_go_their_way(self, moves: int, failing: int, interrupt: int) -> None:
        """The engine and the people each do the expected next thing, so runs get somewhere.

        Every ``failing``-th outcome (0: none) is a failure, to reach retries and blocks;
        ``interrupt`` = 0 has someone pause the run while a worker is busy with a step.
        """
        for move in range(1, moves + 1):
            failure = failing > 0 and move % failing == 0
            run = self.run
            if run.terminal:
                return
            if run.status is RunStatus.PENDING:
                self.apply(RunStarted())
                continue
            assert run.cursor is not None
            planned, state = run.plan[run.cursor], run.steps[run.cursor]
            timer = state.waiting_for in {"timer", "monitor"}
            in_flight = state.status is StepStatus.RUNNING or timer
            if interrupt == 0 and in_flight and run.status is not RunStatus.PAUSED:
                self.apply(Pause(actor="U3", groups=ACTORS["U3"]))
                interrupt = 1
            elif run.status is RunStatus.PAUSED and not in_flight:
                self.apply(Resume(actor="U1", groups=ACTORS["U1"]))
            elif run.status is RunStatus.BLOCKED:
                self.apply(Retry(actor="U1", groups=ACTORS["U1"], step_id=planned.id))
            elif state.status is StepStatus.READY:
                self.now = max(self.now, state.due_at or self.now)
                self.apply(StepBegan(step_id=planned.id, attempt=state.attempt + 1))
            elif state.status is StepStatus.RUNNING or timer:
                self.now = max(self.now, state.due_at or self.now)
                self.apply(self.expected(planned.id, planned.kind, timer, failure))
            elif state.waiting_for == "approval" and state.approval is not None:
                voted = {v.user for v in state.approval.votes}
                approver = next(u for u in ("U1", "U2", "U3") if u not in voted)
                self.apply(
                    Approve(actor=approver, groups=ACTORS[approver], step_id=planned.id,
                            plan_hash=run.plan_hash)
                )
            elif state.waiting_for == "confirmation":
                self.apply(
                    Confirm(actor="U4", groups=ACTORS["U4"], step_id=planned.id,
                            inputs={"checksum": "deadbeef"})
                )

    def expected(self, sid: str, kind: StepKind, continued: bool, failure: bool) -> StepFinished:
        outcome: Outcome
        if failure:
            outcome = OutcomeFailed(error="x", transient=True)
        elif continued:
            outcome = OutcomeSucceeded()
        elif kind is StepKind.APPROVAL:
            outcome = OutcomeWait(waiting_for="approval")
        elif kind is StepKind.MANUAL:
            outcome = OutcomeWait(waiting_for="confirmation")
        elif kind is StepKind.WAIT:
            outcome = OutcomeReschedule(at=self.now + timedelta(minutes=5))
        else:
            outcome = OutcomeSucceeded(captures={"height": 7})
        return StepFinished(step_id=sid, attempt=self.attempt(sid, "same"), outcome=outcome)

    @rule()
    def engine_follows_next_action(self) -> None:
        """The engine acts only on what next_action says is due now."""
        action = next_action(self.run, self.now)
        sid = self.step_id(CURRENT)
        if action == "tick":
            self.apply(Tick())
        elif action == "execute":
            self.apply(StepBegan(step_id=sid, attempt=self.attempt(sid, "next")))
        elif action == "continue":
            self.apply(self.expected(sid, StepKind.WAIT, continued=True, failure=False))

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def status_is_known(self) -> None:
        """Statuses are always members of their enums (nothing stringly slips in)."""
        assert isinstance(self.run.status, RunStatus)
        assert all(isinstance(s.status, StepStatus) for s in self.run.steps)

    @invariant()
    def cursor_only_when_started_and_unfinished(self) -> None:
        """No cursor before the start and after success; a cursor in every other state."""
        run = self.run
        never_started = all(s.visits == 0 for s in run.steps)
        expect_none = run.status in {RunStatus.PENDING, RunStatus.SUCCEEDED} or never_started
        assert (run.cursor is None) == expect_none

    @invariant()
    def at_most_one_active_step_and_it_is_the_cursor(self) -> None:
        """Only the step under the cursor may be ready, running or waiting."""
        active = [i for i, s in enumerate(self.run.steps) if s.status in ACTIVE]
        assert active in ([], [self.run.cursor])

    @invariant()
    def run_status_matches_the_step(self) -> None:
        """Running, waiting and blocked runs (paused or not) have a step in the matching state."""
        run = self.run
        status = run.paused_from if run.status is RunStatus.PAUSED else run.status
        if run.status is RunStatus.PAUSED:
            assert status in STEP_FOR_RUN
        elif run.status not in STEP_FOR_RUN:
            assert run.paused_from is None
            return
        assert run.cursor is not None
        assert status is not None
        assert run.steps[run.cursor].status in STEP_FOR_RUN[status]

    @invariant()
    def approvals_are_distinct_authorized_and_not_self(self) -> None:
        """Every counted approval is from a distinct member who did not ask for it himself."""
        for planned, state in zip(self.run.plan, self.run.steps, strict=True):
            request = state.approval
            if request is not None:
                approvers = [v.user for v in request.votes if v.decision == "approve"]
                assert len(approvers) == len(set(approvers))
                own = request.requested_by if request.purpose == "skip" else INITIATOR
                for user in approvers:
                    assert set(ACTORS[user]) & set(request.policy.groups)
                    assert user != own or request.policy.allow_initiator
                assert all(v.plan_hash == self.run.plan_hash for v in request.votes)
            if planned.kind is StepKind.APPROVAL and state.status is StepStatus.SUCCEEDED:
                assert planned.approval is not None
                assert state.result is not None
                assert len(set(state.result["approvers"])) >= planned.approval.quorum
                assert INITIATOR not in state.result["approvers"]

    @invariant()
    def next_action_and_wake_at_agree(self) -> None:
        """A due wake finds work, work is only found when due, and no run is left asleep."""
        run, now = self.run, self.now
        action, wake = next_action(run, now), wake_at(run, now)
        if action is not None:
            assert wake is not None
            assert wake <= now
        if wake is not None and wake <= now:
            assert action is not None, "the run asks for a worker that would find nothing to do"
        if run.status is RunStatus.RUNNING:
            assert wake is not None, "a running run must wake a worker"
        if run.terminal or run.status in {RunStatus.PAUSED, RunStatus.BLOCKED}:
            assert wake is None
            assert action is None

    @invariant()
    def dates_are_sane(self) -> None:
        """A run has a finish time exactly when it is finished."""
        run = self.run
        assert run.updated_at >= run.created_at
        if run.terminal:
            assert run.finished_at is not None
        else:
            assert run.finished_at is None


RunMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=30,
    derandomize=True,  # the same sequences on every machine, no example database
    database=None,
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow],
)


class TestRunMachine(RunMachine.TestCase):  # type: ignore[name-defined,misc]
    """Passing takes seconds; shrinking a failure can take minutes on a busy machine."""

    pytestmark = pytest.mark.timeout(900)
