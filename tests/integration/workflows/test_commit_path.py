"""The command path before Slack's ack, kept short: one read and one commit script per command,
still applied once per delivery, and still working when Redis has forgotten the script."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from tests.integration.workflows.conftest import wait_for, waiting_at
from workflows.apply import apply
from workflows.engine import Engine
from workflows.model import Approve, Pause, Resume, RunStatus
from workflows.service import WorkflowService
from workflows.store import RunStore


async def _waiting_runs(store: RunStore, service: WorkflowService, n: int) -> list[str]:
    ids = []
    for i in range(n):
        run = await service.start("smoke", {"version": f"v1.0.{i}", "environment": "testnet"},
                                  actor="U_OP")
        ids.append(run.id)
    for run_id in ids:
        await wait_for(store, run_id, waiting_at("approve"))
    return ids


async def test_a_redelivery_that_would_apply_again_is_still_applied_once(
    store: RunStore, service: WorkflowService, engine: Engine
) -> None:
    """A pause delivered again after the run was resumed (so the machine would take it) is
    recognised by its de-duplication key and changes nothing."""
    run_id = (await _waiting_runs(store, service, 1))[0]
    await service.command(run_id, Pause(actor="U_OP"), dedup_key="pause-1")
    await service.command(run_id, Resume(actor="U_OP"), dedup_key="resume-1")
    again = await service.command(run_id, Pause(actor="U_OP"), dedup_key="pause-1")
    assert again.status is RunStatus.WAITING
    audit = [entry.type for entry in await store.read_audit(run_id)]
    assert audit.count("pause") == 1
    assert not [t for t in audit if t.startswith("refused")]


async def test_a_command_is_one_read_and_one_commit_script(
    redis: aioredis.Redis, store: RunStore, service: WorkflowService, engine: Engine
) -> None:
    """An approval sends Redis one read of the run and one EVALSHA, and nothing else."""
    run_id = (await _waiting_runs(store, service, 1))[0]
    run = await store.get(run_id)
    await engine.stop(deadline=2)
    await redis.config_resetstat()
    await service.command(run_id, Approve(actor="U_RM1", step_id="approve",
                                          plan_hash=run.plan_hash), dedup_key="click-1")
    stats = await redis.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): v["calls"] for name, v in stats.items()}
    calls.pop("config", None)
    # Inside the script: HGET (dedup key), HGET (version), HSET x2, XADD, ZADD x2.
    assert calls.pop("evalsha") == 1
    assert calls.pop("hget") == 1 + 2
    assert not [c for c in calls if c not in {"hset", "xadd", "zadd"}], calls


async def test_commits_go_through_after_redis_forgot_the_script(
    redis: aioredis.Redis, store: RunStore, service: WorkflowService, engine: Engine
) -> None:
    """After SCRIPT FLUSH (a restarted or failed-over server), concurrent approvals on several
    runs, committed in one group, and a lone one afterwards are all recorded once."""
    ids = await _waiting_runs(store, service, 4)
    runs = [await store.get(run_id) for run_id in ids]
    await redis.script_flush()
    # Applied to the runs as read: the four commits leave in the same loop turn, one pipeline.
    await asyncio.gather(*(
        apply(store, run.id, Approve(actor="U_RM1", groups=["release-managers"],
                                    step_id="approve", plan_hash=run.plan_hash),
                    dedup_key=f"a-{run.id}", known=run, now=store.now)
        for run in runs
    ))
    await redis.script_flush()
    await service.command(ids[0], Approve(actor="U_RM2", step_id="approve",
                                          plan_hash=runs[0].plan_hash), dedup_key="b")
    for run_id in ids:
        stored = await store.get(run_id)
        votes = [v.user for s in stored.steps if s.approval for v in s.approval.votes]
        assert votes == (["U_RM1", "U_RM2"] if run_id == ids[0] else ["U_RM1"])
