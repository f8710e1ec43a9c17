"""Engine throughput against arq, and Redis memory per idle run.

    python -m bench.engine [--runs 100] [--steps 20]

One embedded redis-server (our own, on a free port). First our engine: ``runs`` runs of
``steps`` no-op steps each, all created before the clock starts, one engine process (this one)
working them with its default concurrency until every run has succeeded. Then arq, the
well-known Redis job queue, on the same server: the same number of no-op jobs enqueued before
the clock starts, one worker with ``max_jobs`` equal to the number of runs, burst mode. Then
memory: 1,000 runs of a small approval workflow left idle (waiting for an approval), Redis
``used_memory`` before and after, less the audit streams (MEMORY USAGE of each).

The last line is ``engine_vs_arq=<engine steps/s / arq jobs/s>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

from bot.testing.redisserver import RedisServer
from workflows.connection import connect
from workflows.definition import parse_definition
from workflows.engine import Engine, EngineSettings
from workflows.keys import ACTIVE, RunKeys
from workflows.model import Outcome, OutcomeSucceeded, RunStatus
from workflows.service import WorkflowService
from workflows.step_models import StepKind
from workflows.steps.base import ExecutorRegistry, StepContext
from workflows.steps.people import ApprovalExecutor
from workflows.store import RunStore
from workflows.testing import StaticAuthority, StaticInventory

IDLE = """
name: idle
title: Idle approval
environment_param: null
steps:
  - {id: ask, title: Approve, kind: approval, approval: {groups: [operators], quorum: 2}}
  - {id: do, title: Do it, kind: wait, with: {duration: 1s}}
  - {id: check, title: Check it, kind: wait, with: {duration: 1s}}
"""


class Noop:
    kind = StepKind.BOT

    async def execute(self, ctx: StepContext) -> Outcome:
        return OutcomeSucceeded()

    async def verify(self, ctx: StepContext) -> Outcome | None:
        return OutcomeSucceeded()


def noop_definition(steps: int) -> str:
    lines = ["name: noop", "title: No-op steps", "environment_param: null", "steps:"]
    lines += [f"  - {{id: s{i}, title: Step {i}, kind: bot}}" for i in range(steps)]
    return "\n".join(lines) + "\n"


def service_for(store: RunStore, text: str) -> WorkflowService:
    defn = parse_definition(yaml.safe_load(text), "bench.yaml", text)
    authority = StaticAuthority(groups={"operators": {"U1", "U2", "U3"}})
    return WorkflowService(store, {defn.name: defn}, StaticInventory(), authority)


async def bench_engine(url: str, runs: int, steps: int) -> dict[str, float]:
    client = connect(url)
    await client.flushall()
    store = RunStore(client)
    service = service_for(store, noop_definition(steps))
    started = [await service.start("noop", {}, actor="U1") for _ in range(runs)]
    engine = Engine(store, ExecutorRegistry([Noop()]), settings=EngineSettings(poll_interval=0.005))
    begin = time.perf_counter()
    loop_task = asyncio.create_task(engine.run_forever())
    while await client.zcard(ACTIVE):  # noqa: ASYNC110 (finished runs leave the active index)
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - begin
    await engine.stop()
    await loop_task
    finished = await store.load_many([run.id for run in started])
    assert all(run.status is RunStatus.SUCCEEDED for run in finished)
    await client.aclose()
    total = runs * steps
    return {"engine_steps": total, "engine_seconds": elapsed, "engine_steps_per_s": total / elapsed}


async def _arq_noop(ctx: dict[str, Any]) -> None:
    return None


async def bench_arq(port: int, jobs: int, max_jobs: int) -> dict[str, float]:
    settings = RedisSettings(host="127.0.0.1", port=port)
    pool = await create_pool(settings)
    await pool.flushall()
    for _ in range(jobs):
        await pool.enqueue_job("_arq_noop")
    worker = Worker(
        functions=[_arq_noop],  # type: ignore[list-item]
        redis_pool=pool,
        burst=True,
        max_jobs=max_jobs,
        poll_delay=0.005,
        handle_signals=False,
        keep_result=60,
        log_results=False,
    )
    begin = time.perf_counter()
    await worker.async_run()
    elapsed = time.perf_counter() - begin
    completed = worker.jobs_complete
    await worker.close()
    await pool.aclose()
    return {"arq_jobs": completed, "arq_seconds": elapsed, "arq_jobs_per_s": completed / elapsed}


async def bench_memory(url: str, runs: int = 1000) -> dict[str, float]:
    client = connect(url)
    await client.flushall()
    store = RunStore(client)
    service = service_for(store, IDLE)
    engine = Engine(store, ExecutorRegistry([ApprovalExecutor()]),
                    settings=EngineSettings(poll_interval=0.005))
    before = int((await client.info("memory"))["used_memory"])
    created = [await service.start("idle", {}, actor="U1") for _ in range(runs)]
    while await store.due(store.now(), 1):
        await engine.run_once()
        await engine.drain()
    waiting = await store.load_many([run.id for run in created])
    assert all(run.status is RunStatus.WAITING for run in waiting)
    after = int((await client.info("memory"))["used_memory"])
    audit = 0
    for run in created:
        audit += int(await client.memory_usage(RunKeys(run.id).audit) or 0)
    await client.aclose()
    per_run = (after - before - audit) / runs
    return {"idle_runs": runs, "bytes_per_idle_run": per_run, "audit_bytes_per_run": audit / runs}


async def main_async(runs: int, steps: int, rounds: int) -> dict[str, float]:
    """Engine and arq alternate for ``rounds`` rounds; the medians are reported (the machine
    is shared, so a single round can catch a neighbour's burst)."""
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp), appendonly=False)
        server.start()
        try:
            engine_rounds, arq_rounds = [], []
            for _ in range(rounds):
                engine_rounds.append(await bench_engine(server.url, runs, steps))
                arq_rounds.append(await bench_arq(server.port, runs * steps, runs))
            figures: dict[str, float] = {}
            figures |= _median(engine_rounds, "engine_steps_per_s")
            figures |= _median(arq_rounds, "arq_jobs_per_s")
            figures |= await bench_memory(server.url)
        finally:
            server.stop()
    figures["rounds"] = rounds
    figures["engine_vs_arq"] = figures["engine_steps_per_s"] / figures["arq_jobs_per_s"]
    return figures


def _median(rounds: list[dict[str, float]], key: str) -> dict[str, float]:
    ordered = sorted(rounds, key=lambda r: r[key])
    return ordered[len(ordered) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures = asyncio.run(main_async(args.runs, args.steps, args.rounds))
    print(f"median of {args.rounds} alternating rounds")
    print(f"engine: {figures['engine_steps']:.0f} no-op steps over {args.runs} runs in "
          f"{figures['engine_seconds']:.2f}s = {figures['engine_steps_per_s']:.0f} steps/s")
    print(f"arq:    {figures['arq_jobs']:.0f} no-op jobs in {figures['arq_seconds']:.2f}s = "
          f"{figures['arq_jobs_per_s']:.0f} jobs/s")
    print(f"memory: {figures['bytes_per_idle_run']:.0f} bytes of Redis per idle run "
          f"(audit stream excluded; it adds {figures['audit_bytes_per_run']:.0f})")
    print("json:", json.dumps(figures))
    print(f"engine_vs_arq={figures['engine_vs_arq']:.2f}")


if __name__ == "__main__":
    main()
