"""The default lease: short enough that a dead worker's run is resumed within 3 s, renewed often
enough that a live worker keeps it through a step longer than the lease, with a second replica
looking at the run all along."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import redis.asyncio as aioredis

from tests.integration.workflows.conftest import GROUPS, definition, wait_for
from workflows.engine import Engine, EngineSettings
from workflows.model import RunStatus
from workflows.service import WorkflowService
from workflows.steps.base import ExecutorRegistry
from workflows.steps.deps import StepDeps
from workflows.store import RunStore
from workflows.testing import RecordingExecutor, StaticAuthority, StaticInventory

ONE_READ = """
name: one-read
title: One slow read
parameters: [{name: environment, choices: [testnet]}]
steps:
  - {id: read, title: A slow read, kind: rpc, timeout: 60s}
"""


def test_the_default_lease_resumes_within_3_s_and_tolerates_2_s_stalls() -> None:
    settings = EngineSettings()
    assert settings.lease <= timedelta(seconds=3)  # a dead worker's run waits at most this
    assert settings.renew_every == 0.5
    # A live worker's loop may stall (or Redis be slow) this long without losing its lease.
    assert settings.lease.total_seconds() - settings.renew_every >= 2.0
    # An explicit heartbeat wins; a short lease is renewed every fifth of it.
    assert EngineSettings(heartbeat=timedelta(seconds=5)).renew_every == 5.0
    assert EngineSettings(lease=timedelta(seconds=1)).renew_every == 0.2


async def test_a_live_worker_keeps_the_default_lease_through_a_step_longer_than_it(
    store: RunStore,
) -> None:
    """Two replicas with the default lease; the step takes longer than the lease: it runs once,
    on one of them, and neither loses or takes over a lease."""
    inventory = StaticInventory({"testnet": [("test-1", "miner", True)]})
    service = WorkflowService(store, {"one-read": definition(ONE_READ)}, inventory,
                              StaticAuthority(groups=GROUPS))
    lease = EngineSettings().lease.total_seconds()
    recorder = RecordingExecutor(delay=lease + 1.0)
    engines = [Engine(store, ExecutorRegistry([recorder]),
                      settings=EngineSettings(worker_id=name, poll_interval=0.02),
                      deps=StepDeps(store=store, runs=service))
               for name in ("w-a", "w-b")]
    tasks = [asyncio.create_task(e.run_forever()) for e in engines]
    try:
        run = await service.start("one-read", {"environment": "testnet"}, actor="U_OP")
        done = await wait_for(store, run.id, lambda r: r.terminal, timeout=lease + 15)
    finally:
        for engine in engines:
            await engine.stop(deadline=2)
        await asyncio.gather(*tasks)
    assert done.status is RunStatus.SUCCEEDED, done.reason
    assert recorder.executions[(run.id, "read")] == 1
    assert [e.stats.lease_lost for e in engines] == [0, 0]
    assert [e.stats.takeovers for e in engines] == [0, 0]


async def test_claiming_a_run_that_no_longer_exists_takes_nothing_and_creates_no_key(
    store: RunStore, redis: aioredis.Redis
) -> None:
    """An id read from the due index just before the run was archived (its keys deleted): the
    claim is refused and leaves no lease or fencing counter behind for ever."""
    assert await store.claim("r20250101-0a0b0c", "worker-1", 3000) is None
    assert [k async for k in redis.scan_iter(match="pcb:{r20250101-0a0b0c}:*")] == []
