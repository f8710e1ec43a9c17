"""Crashes, replicas, Redis restarts and duplicate deliveries, against a real Redis."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.testing.redisserver import RedisServer
from tests.integration.workflows.conftest import definition, status_is, wait_for, waiting_at
from tests.integration.workflows.worker_main import durable_definition
from workflows.apply import apply
from workflows.engine import Engine
from workflows.errors import InvalidCommand
from workflows.model import Approve, RunStatus, StepStatus
from workflows.service import WorkflowService
from workflows.store import RunStore
from workflows.storecommit import CommitStatus
from workflows.testing import StaticAuthority, StaticInventory

ROOT = Path(__file__).resolve().parents[3]


def durable_service(store: RunStore) -> WorkflowService:
    authority = StaticAuthority(groups={"operators": {"U_OP"}})
    inventory = StaticInventory({"lab": [("lab-1", "validator", False)]})
    return WorkflowService(store, {"durable": durable_definition()}, inventory, authority)


@contextmanager
def worker(redis_url: str, log: Path, name: str, *, verifiable: bool = False,
           lease: float = 1.0) -> Iterator[subprocess.Popen[str]]:
    args = [sys.executable, "-m", "tests.integration.workflows.worker_main", "--redis", redis_url,
            "--log", str(log), "--worker", name, "--lease", str(lease)]
    if verifiable:
        args.append("--verifiable")
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def executions(log: Path) -> Counter[tuple[str, str]]:
    """(run, step) -> how many times an execution started, from the workers' shared log."""
    counts: Counter[tuple[str, str]] = Counter()
    if log.exists():
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            if entry["what"] == "start":
                counts[(entry["run"], entry["step"])] += 1
    return counts


async def wait_for_log(log: Path, run_id: str, step: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while executions(log)[(run_id, step)] == 0:
        assert loop.time() < deadline, f"{step} never started"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("verifiable", [False, True])
async def test_killed_worker_mid_write_step_is_not_repeated(
    redis_url: str, store: RunStore, tmp_path: Path, verifiable: bool
) -> None:
    """A worker SIGKILLed inside a write step: another process takes the run over after the
    lease and never executes that step again; it verifies it when it can, else blocks in doubt."""
    service = durable_service(store)
    log = tmp_path / "executions.log"
    run = await service.start("durable", {"label": "2.5"}, actor="U_OP")
    with worker(redis_url, log, "a", verifiable=verifiable) as first:
        await wait_for_log(log, run.id, "change")
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert (await store.get(run.id)).steps[1].status is StepStatus.RUNNING
    with worker(redis_url, log, "b", verifiable=verifiable):
        # Verification finds no completed call (the kill came before "done"): in doubt either way.
        final = await wait_for(store, run.id, status_is(RunStatus.BLOCKED, RunStatus.SUCCEEDED))
    assert executions(log)[(run.id, "change")] == 1
    assert final.status is RunStatus.BLOCKED
    assert final.reason is not None
    assert "in doubt" in final.reason
    audit = [e.type for e in await store.read_audit(run.id)]
    assert audit.count("step_began") == 1  # only the write step records its beginning
    assert "step_in_doubt" in audit


async def test_verified_step_is_completed_without_running_it_again(
    redis_url: str, store: RunStore, tmp_path: Path
) -> None:
    """When the crashed worker's call did complete, the next worker verifies it and moves on."""
    service = durable_service(store)
    log = tmp_path / "executions.log"
    run = await service.start("durable", {"label": "0.3"}, actor="U_OP")
    # Kill the worker the moment the call has completed: usually before its commit lands.
    with worker(redis_url, log, "a", verifiable=True, lease=1.0) as first:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            lines = log.read_text().splitlines() if log.exists() else []
            if any('"step": "change"' in x and '"what": "done"' in x for x in lines):
                break
            assert loop.time() < deadline
            await asyncio.sleep(0.001)
        first.send_signal(signal.SIGKILL)
        first.wait()
    after_kill = await store.get(run.id)
    with worker(redis_url, log, "b", verifiable=True):
        final = await wait_for(store, run.id, status_is(RunStatus.SUCCEEDED, RunStatus.BLOCKED))
    assert final.status is RunStatus.SUCCEEDED
    assert executions(log)[(run.id, "change")] == 1
    if after_kill.steps[1].status is StepStatus.RUNNING:  # killed before its commit: verified
        assert final.steps[1].result == {"verified": True}


async def test_two_engine_processes_never_execute_a_step_twice(
    redis_url: str, store: RunStore, tmp_path: Path
) -> None:
    """100 runs shared by two replicas: every run succeeds and every step ran exactly once."""
    service = durable_service(store)
    log = tmp_path / "executions.log"
    with worker(redis_url, log, "a"), worker(redis_url, log, "b"):
        runs = [await service.start("durable", {"label": "0"}, actor="U_OP") for _ in range(100)]
        for run in runs:
            await wait_for(store, run.id, status_is(RunStatus.SUCCEEDED), timeout=60)
    counts = executions(log)
    steps = ["prepare", "change", "change-again", "check"]
    assert {(r.id, s): 1 for r in runs for s in steps} == dict(counts)
    pids = {json.loads(x)["pid"] for x in log.read_text().splitlines()}
    assert len(pids) == 2, "both replicas took work"


async def test_redis_restart_mid_runs_loses_nothing_applied(
    redis_server: RedisServer, redis_url: str, store: RunStore, service: WorkflowService,
    engine: Engine,
) -> None:
    """Approvals and progress applied before a Redis restart (AOF) are all there after it."""
    runs = [await service.start("smoke", {"version": "v1.0.0", "environment": "testnet"},
                                actor="U_RM1") for _ in range(10)]
    for run in runs:
        await wait_for(store, run.id, waiting_at("approve"))
        await service.command(run.id, Approve(actor="U_RM2", step_id="approve",
                                              plan_hash=run.plan_hash))
    before = {run.id: (await store.get(run.id)).version for run in runs}
    redis_server.restart()
    for run in runs:
        after = await store.get(run.id)
        assert after.version == before[run.id]
        assert [v.user for v in after.steps[1].approval.votes] == ["U_RM2"]  # type: ignore[union-attr]
        await service.command(run.id, Approve(actor="U_RM3", step_id="approve",
                                              plan_hash=run.plan_hash))
    for run in runs:
        await wait_for(store, run.id, waiting_at("checksum"))


async def test_same_command_delivered_three_times_applies_once(
    store: RunStore, service: WorkflowService, engine: Engine
) -> None:
    """Three deliveries of one click (same de-duplication key) record one vote."""
    run = await service.start("smoke", {"version": "v1.0.0", "environment": "testnet"},
                              actor="U_RM1")
    await wait_for(store, run.id, waiting_at("approve"))
    click = Approve(actor="U_RM2", step_id="approve", plan_hash=run.plan_hash)
    await asyncio.gather(*(service.command(run.id, click, dedup_key="click-1") for _ in range(3)))
    stored = await store.get(run.id)
    assert stored.steps[1].approval is not None
    assert [v.user for v in stored.steps[1].approval.votes] == ["U_RM2"]
    assert [e.type for e in await store.read_audit(run.id)].count("approve") == 1


async def test_three_approvers_at_once_on_a_quorum_of_two_advance_once(
    store: RunStore, service: WorkflowService, engine: Engine
) -> None:
    """Concurrent clicks: exactly two votes count, the third is refused, the run moves once."""
    run = await service.start("smoke", {"version": "v1.0.0", "environment": "testnet"},
                              actor="U_OP")
    await wait_for(store, run.id, waiting_at("approve"))
    results = await asyncio.gather(
        *(service.command(run.id, Approve(actor=u, step_id="approve", plan_hash=run.plan_hash))
          for u in ("U_RM1", "U_RM2", "U_RM3")),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, InvalidCommand)]
    assert len(refused) == 1
    stored = await wait_for(store, run.id, waiting_at("checksum"))
    assert stored.steps[1].status is StepStatus.SUCCEEDED
    assert len(stored.steps[1].result["approvers"]) == 2  # type: ignore[index]
    entries = await store.read_audit(run.id)
    audit = [e.type for e in entries]
    assert audit.count("approve") == 2
    assert audit.count("refused_approve") == 1
    finished = Counter(e.step_id for e in entries if e.type == "step_finished")
    assert finished == {"gate": 1, "approve": 1, "checksum": 1}  # each executed once


def test_definition_fixture_is_valid() -> None:
    """The shared test definition loads (guards the fixtures above)."""
    assert definition().name == "smoke"



async def test_a_run_missing_from_the_due_index_is_resumed_when_an_engine_starts(
    redis: aioredis.Redis, store: RunStore, service: WorkflowService, engine: Engine
) -> None:
    """Even if a crash lost the run's timer entry, a starting engine puts it back and runs it."""
    run = await service.start("smoke", {"version": "v1.0.0", "environment": "testnet"},
                              actor="U_RM1")
    await wait_for(store, run.id, waiting_at("approve"))
    await engine.stop(deadline=1)
    await service.command(run.id, Approve(actor="U_RM2", step_id="approve",
                                          plan_hash=run.plan_hash))
    await service.command(run.id, Approve(actor="U_RM3", step_id="approve",
                                          plan_hash=run.plan_hash))
    await redis.delete("pcb:due")  # the index entry is gone
    assert await engine.resume_all() == 1
    assert await store.due(store.now()) == [run.id]


async def test_a_redelivered_command_is_a_duplicate_not_a_refusal(
    store: RunStore, service: WorkflowService, engine: Engine
) -> None:
    """A click delivered again after it applied changes nothing and is not audited as refused."""
    run = await service.start("smoke", {"version": "v1.0.0", "environment": "testnet"},
                              actor="U_RM1")
    await wait_for(store, run.id, waiting_at("approve"))
    click = Approve(actor="U_RM2", step_id="approve", plan_hash=run.plan_hash)
    await service.command(run.id, click, dedup_key="click-7")
    again = await service.command(run.id, click, dedup_key="click-7")
    assert again.steps[1].approval is not None
    assert [v.user for v in again.steps[1].approval.votes] == ["U_RM2"]
    types = [e.type for e in await store.read_audit(run.id)]
    assert types.count("approve") == 1
    assert not [t for t in types if t.startswith("refused")]


async def test_a_beginning_sent_twice_by_the_redis_client_is_not_a_step_in_doubt(
    store: RunStore,
) -> None:
    """If the client re-sends a 'step began' commit that had landed (a dropped connection), the
    worker recognises its own beginning under its lease and goes on; another lease cannot."""
    from workflows.engine import EngineSettings
    from workflows.steps.base import ExecutorRegistry

    service = durable_service(store)
    engine = Engine(store, ExecutorRegistry([]), settings=EngineSettings(worker_id="w-a"))
    run = await service.start("durable", {"label": "0"}, actor="U_OP")
    # Walk the run to its write step by hand: 'prepare' is a read step.
    token = await store.claim(run.id, "w-a", 10_000)
    assert token is not None
    run = await store.get(run.id)
    from workflows.model import OutcomeSucceeded, StepFinished

    run = (await apply(store, run.id, StepFinished(step_id="prepare", attempt=1,
                                                  outcome=OutcomeSucceeded()),
                             token=token, now=store.now)).run or run
    first = await engine._begin(run, token, 1)
    assert first.status is CommitStatus.OK
    again = await engine._begin(run, token, 1)  # what a re-sent commit amounts to
    assert again.status is CommitStatus.OK
    assert again.run is not None
    assert again.run.steps[1].status is StepStatus.RUNNING
    other = await engine._begin(run, "someone-else:99", 1)
    assert other.status is CommitStatus.LEASE_LOST
