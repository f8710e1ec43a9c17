"""Builders for runs and step contexts in the step unit tests (input data, not mocks)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from workflows.definition import parse_definition
from workflows.model import Run
from workflows.planner import plan_run
from workflows.steps.base import StepContext
from workflows.testing import StaticInventory

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
INVENTORY = StaticInventory(
    {
        "testnet": [("t1", "miner", True), ("t2", "validator", False), ("t3", "rpc-edge", False)],
    }
)


def run_of(text: str, params: dict[str, str] | None = None, run_id: str = "r1") -> Run:
    defn = parse_definition(yaml.safe_load(text), "test.yaml", text)
    return plan_run(
        defn, params or {"environment": "testnet"}, inventory=INVENTORY, run_id=run_id,
        initiator="U1", now=NOW,
    )


def context_of(
    run: Run, step_id: str, args: dict[str, Any] | None = None, attempt: int = 1,
    services: dict[str, Any] | None = None,
) -> StepContext:
    index = run.index_of(step_id)
    assert index is not None
    step = run.plan[index]
    return StepContext(
        run=run,
        step=step,
        state=run.steps[index],
        args=step.with_ if args is None else args,
        now=NOW,
        attempt=attempt,
        idempotency_key=f"{run.id}:{step.id}:{attempt}",
        services=services or {},
    )
