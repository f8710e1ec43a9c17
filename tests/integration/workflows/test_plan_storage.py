"""A run's plan is stored deflated (most of an active run's Redis memory) and read back whole;
a plan stored as plain JSON by an earlier version still loads."""

from __future__ import annotations

from typing import Any, cast

import redis.asyncio as aioredis
from pydantic import TypeAdapter

from workflows import keys
from workflows.model import PlannedStep
from workflows.service import WorkflowService
from workflows.store import RunStore

PLAN: TypeAdapter[list[PlannedStep]] = TypeAdapter(list[PlannedStep])


async def test_the_plan_is_stored_deflated_and_read_back_whole(
    redis: aioredis.Redis, service: WorkflowService
) -> None:
    run = await service.start("smoke", {"version": "v1.2.3", "environment": "testnet"},
                              actor="U_OP")
    stored = await cast(Any, redis).hget(keys.RunKeys(run.id).run, "plan")
    assert stored is not None
    as_json = PLAN.dump_json(run.plan, exclude_defaults=True)
    assert not stored.startswith(b"[")
    assert len(stored) < len(as_json)
    fresh = await RunStore(redis).get(run.id)  # no plan cache: read from Redis
    assert fresh.plan == run.plan
    assert fresh.plan_hash == run.plan_hash


async def test_a_plan_stored_as_plain_json_still_loads(
    redis: aioredis.Redis, service: WorkflowService
) -> None:
    run = await service.start("smoke", {"version": "v1.2.3", "environment": "testnet"},
                              actor="U_OP")
    await cast(Any, redis).hset(keys.RunKeys(run.id).run, "plan",
                                PLAN.dump_json(run.plan, exclude_defaults=True))
    fresh = await RunStore(redis).get(run.id)
    assert fresh.plan == run.plan
