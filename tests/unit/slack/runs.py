"""Runs of the test definitions in a given state, built with the real planner and machine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from tests.unit.slack.definitions import PROMOTE, definition
from workflows.machine import transition
from workflows.model import (
    Event,
    OutcomeSucceeded,
    OutcomeWait,
    Run,
    RunStarted,
    StepBegan,
    StepFinished,
)
from workflows.planner import plan_run
from workflows.testing import StaticInventory

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
INVENTORY = StaticInventory(
    {"testnet": [("test-1", "miner", True), ("test-2", "validator", False)]}
)
INITIATOR = "URM0001"


def promote(**params: str) -> Run:
    values = {"version": "v1.4.2", "git_sha": "abc1234", "environment": "testnet", **params}
    run = plan_run(definition(PROMOTE), values, inventory=INVENTORY, run_id="r20250301-abc123",
                   initiator=INITIATOR, now=NOW, channel="C0OPS")
    return go(run, RunStarted())


def go(run: Run, *events: Event) -> Run:
    for event in events:
        run, _ = transition(run, event, NOW)
    return run


def finish_current(run: Run, outcome: Any = None) -> Run:
    """Begin the cursor's step and finish it (succeeded unless another outcome is given)."""
    step = run.plan[run.cursor or 0]
    attempt = run.steps[run.cursor or 0].attempt + 1
    return go(
        run,
        StepBegan(step_id=step.id, attempt=attempt),
        StepFinished(step_id=step.id, attempt=attempt, outcome=outcome or OutcomeSucceeded()),
    )


def at_approval() -> Run:
    run = finish_current(promote())  # the gate
    return finish_current(run, OutcomeWait(waiting_for="approval"))


def at_confirmation(run: Run) -> Run:
    return finish_current(run, OutcomeWait(waiting_for="confirmation"))


def texts(value: Any) -> Iterator[str]:
    """Every string inside a block structure."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from texts(item)


def dumped(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
