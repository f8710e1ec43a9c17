"""Builders for runs in a given state, shared by the machine tests (input data, not mocks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from workflows.definition import parse_definition
from workflows.machine import Notify, transition
from workflows.model import (
    Approve,
    Event,
    Outcome,
    OutcomeFailed,
    OutcomeReschedule,
    OutcomeSucceeded,
    OutcomeWait,
    Run,
    RunStarted,
    StepBegan,
    StepFinished,
    StepState,
)
from workflows.planner import plan_run

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
INITIATOR = "U0"


def at(**delta: float) -> datetime:
    return NOW + timedelta(**delta)


class Devnet:
    """One environment, two nodes, two waves: the planner's inventory input."""

    def has_environment(self, environment: str) -> bool:
        return environment == "devnet"

    def select(self, environment: str, select: str) -> list[str]:
        return ["n1"] if select in {"canary", "first"} else ["n1", "n2"]

    def waves(self, environment: str) -> list[tuple[int, list[str]]]:
        return [(50, ["n1"]), (100, ["n2"])]


def step(step_id: str, kind: str = "rpc", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "title": step_id.title(), "kind": kind, **extra}


def make_run(*steps: dict[str, Any]) -> Run:
    raw = {
        "name": "t",
        "title": "T",
        "fixed_environment": "devnet",
        "environment_param": None,
        "steps": list(steps),
    }
    defn = parse_definition(raw, "t.yaml")
    return plan_run(defn, {}, inventory=Devnet(), run_id="r1", initiator=INITIATOR, now=NOW)


def apply(run: Run, event: Event, now: datetime = NOW) -> tuple[Run, list[Notify]]:
    """Apply an event that must be accepted; checks the input is untouched and the version."""
    before = run.model_dump()
    new, effects = transition(run, event, now)
    assert run.model_dump() == before
    assert new.version == run.version + 1
    assert new.updated_at == now
    return new, effects


def go(run: Run, *events: Event, now: datetime = NOW) -> Run:
    for event in events:
        run, _ = apply(run, event, now)
    return run


def state(run: Run, step_id: str | None = None) -> StepState:
    if step_id is None:
        assert run.cursor is not None
        return run.steps[run.cursor]
    index = run.index_of(step_id)
    assert index is not None
    return run.steps[index]


def current_id(run: Run) -> str:
    assert run.cursor is not None
    return run.plan[run.cursor].id


def begin(run: Run, now: datetime = NOW) -> Run:
    return apply(run, StepBegan(step_id=current_id(run), attempt=state(run).attempt + 1), now)[0]


def finish(
    run: Run, outcome: Outcome, now: datetime = NOW, step_id: str | None = None
) -> tuple[Run, list[Notify]]:
    sid = step_id or current_id(run)
    return apply(
        run, StepFinished(step_id=sid, attempt=state(run, sid).attempt, outcome=outcome), now
    )


def ok(**captures: Any) -> OutcomeSucceeded:
    return OutcomeSucceeded(result={"ok": True}, captures=captures)


def fail(error: str = "boom", *, transient: bool = True) -> OutcomeFailed:
    return OutcomeFailed(error=error, transient=transient)


def reschedule(when: datetime, waiting_for: str = "timer") -> OutcomeReschedule:
    return OutcomeReschedule.model_validate({"at": when, "waiting_for": waiting_for})


def wait_for(what: str) -> OutcomeWait:
    return OutcomeWait.model_validate({"waiting_for": what})


def started(run: Run) -> Run:
    return go(run, RunStarted())


def approve(run: Run, user: str, groups: list[str] | None = None, **kw: Any) -> Approve:
    return Approve(
        actor=user,
        groups=["release"] if groups is None else groups,
        step_id=kw["step_id"] if "step_id" in kw else current_id(run),
        plan_hash=kw.get("plan_hash", run.plan_hash),
    )


# --- runs in a given state --------------------------------------------------------------------

GATE = step(
    "gate",
    "approval",
    approval={"groups": ["release"], "quorum": 2, "expires_after": "1h", "remind_every": "20m"},
)


def pending() -> Run:
    return make_run(step("a"), step("b"))


def ready() -> Run:
    return started(make_run(step("a"), step("b")))


def running() -> Run:
    return begin(ready())


def waiting_approval(**policy: Any) -> Run:
    gate = GATE if not policy else step("gate", "approval", approval=policy)
    run = begin(started(make_run(gate, step("after", "manual"))))
    return finish(run, wait_for("approval"))[0]


def waiting_confirmation() -> Run:
    manual = step(
        "fix",
        "manual",
        responders=["ops"],
        inputs=[
            {"name": "checksum", "label": "Checksum", "pattern": "[0-9a-f]{8}", "max_length": 8},
            {"name": "link", "label": "Link", "required": False, "max_length": 20},
        ],
        capture={"checksum": "inputs.checksum", "who": "result.confirmed_by"},
    )
    run = begin(started(make_run(manual, step("after", "manual"))))
    return finish(run, wait_for("confirmation"))[0]


def waiting_timer(waiting_for: str = "timer") -> Run:
    run = begin(started(make_run(step("soak", "wait", retries=1), step("after", "manual"))))
    return finish(run, reschedule(at(minutes=5), waiting_for))[0]


def blocked(**extra: Any) -> Run:
    run = begin(started(make_run(step("deploy", effect="write", **extra), step("after"))))
    return finish(run, fail("node refused"))[0]
