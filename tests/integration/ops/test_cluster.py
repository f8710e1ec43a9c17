"""The run store, the service and the engine on a real three-master Redis Cluster."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from bot.nodes import PostBudget
from tests.integration.ops.rediscluster import LocalCluster
from tests.integration.workflows.conftest import (
    GROUPS,
    definition,
    registry,
    status_is,
    wait_for,
    waiting_at,
)
from workflows import keys
from workflows.archive import RunArchive
from workflows.archiver import Archiver
from workflows.connection import connect
from workflows.engine import Engine, EngineSettings
from workflows.errors import EnvironmentLocked, InvalidCommand
from workflows.model import Abort, Approve, Confirm, Resume, Run, RunStatus, StepStatus
from workflows.policy import DefaultPolicies
from workflows.service import WorkflowService
from workflows.steps.deps import StepDeps
from workflows.store import RunStore
from workflows.testing import RecordingExecutor, StaticAuthority, StaticInventory

SUM = "b" * 64
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(Path(tmp_path_factory.mktemp("cluster"))) as local:
        yield local


@pytest.fixture
async def cluster_client(cluster: LocalCluster) -> AsyncIterator[aioredis.Redis]:
    client = connect(cluster.url)
    await client.flushall()  # every master: it is our own cluster
    yield client
    await client.aclose()


async def test_connect_gives_a_cluster_client_that_sees_three_masters(
    cluster_client: aioredis.Redis,
) -> None:
    """A redis+cluster:// URL listing seed nodes yields a cluster client over all three masters."""
    assert isinstance(cluster_client, RedisCluster)
    await cluster_client.ping()
    assert len(cluster_client.get_primaries()) == 3


async def test_workflow_runs_to_the_end_on_a_cluster(cluster_client: aioredis.Redis) -> None:
    """Runs started through the service are approved, confirmed, waited and executed by the
    engine to success on a Cluster, with their keys spread over more than one master."""
    store = RunStore(cluster_client)
    inventory = StaticInventory(
        {"testnet": [("test-1", "miner", True), ("test-2", "validator", False)]}
    )
    service = WorkflowService(
        store, {"smoke": definition()}, inventory, StaticAuthority(groups=GROUPS)
    )
    recorder = RecordingExecutor()
    engine = Engine(store, registry(recorder),
                    settings=EngineSettings(worker_id="c1", poll_interval=0.02),
                    deps=StepDeps(store=store, runs=service))
    task = asyncio.create_task(engine.run_forever())
    try:
        runs = [await service.start("smoke", {"version": "v1.4.2", "environment": "testnet"},
                                    actor="U_RM1", channel="C1") for _ in range(6)]
        for run in runs:
            # A cluster of six servers on two shared cores: give a loaded machine time; a run
            # that is really stuck still fails.
            waiting = await wait_for(store, run.id, waiting_at("approve"), timeout=30)
            for approver in ("U_RM2", "U_RM3"):
                await service.command(run.id, Approve(actor=approver, step_id="approve",
                                                      plan_hash=waiting.plan_hash))
            await wait_for(store, run.id, waiting_at("checksum"), timeout=30)
            await service.command(run.id, Confirm(actor="U_OP", step_id="checksum",
                                                  inputs={"checksum": SUM}))
        finals = [await wait_for(store, run.id, status_is(RunStatus.SUCCEEDED), timeout=30)
                  for run in runs]
    finally:
        await engine.stop(deadline=2)
        await task
    for final in finals:
        assert [s.status for s in final.steps] == [StepStatus.SUCCEEDED] * 5
        assert recorder.executions[(final.id, "deploy")] == 1
        assert [e.type for e in await store.read_audit(final.id)].count("approve") == 2
    assert await store.active_ids() == []
    assert set(await store.recent_ids(limit=10)) == {r.id for r in runs}
    assert isinstance(cluster_client, RedisCluster)
    owners = {cluster_client.get_node_from_key(keys.RunKeys(run.id).run).name for run in runs}
    assert len(owners) > 1, "the runs' slots were all on one master"


async def test_node_post_budget_works_on_a_cluster(cluster_client: aioredis.Redis) -> None:
    """The shared POST budget's script (two keys of one node, one slot) runs on a Cluster."""
    budget = PostBudget(cluster_client, limit=2, window=60)
    await budget.acquire("test-1")
    await budget.acquire("test-1")
    assert await budget.used("test-1") == 2


async def test_runs_command_reads_a_cluster(
    cluster: LocalCluster, cluster_client: aioredis.Redis
) -> None:
    """`parthenon-bot runs --redis-url redis+cluster://...` lists the runs kept on the cluster."""
    store = RunStore(cluster_client)
    service = WorkflowService(
        store, {"smoke": definition()},
        StaticInventory({"testnet": [("test-1", "miner", True)]}), StaticAuthority(groups=GROUPS),
    )
    run = await service.start("smoke", {"version": "v1.4.2", "environment": "testnet"},
                              actor="U_RM1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "runs", "--redis-url", cluster.url, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert run.id in out.decode()


async def test_environment_locks_hold_on_a_cluster(cluster_client: aioredis.Redis) -> None:
    """On a Cluster the lock keys live in other slots than the run: still exactly one of many
    racing starts holds testnet, the others are refused naming it, the lock is released when
    the run ends, a take-over frees it and the holder's resume takes it back once free."""
    store = RunStore(cluster_client)
    inventory = StaticInventory(
        {"testnet": [("test-1", "miner", True), ("test-2", "validator", False)]}
    )
    service = WorkflowService(
        store, {"smoke": definition()}, inventory, StaticAuthority(groups=GROUPS),
        policies=DefaultPolicies(environment_locks=True),
    )
    params = {"version": "v1.4.2", "environment": "testnet"}
    results = await asyncio.gather(
        *(service.start("smoke", params, actor="U_RM1", dedup_key=f"c{n}") for n in range(6)),
        return_exceptions=True,
    )
    [won] = [r for r in results if isinstance(r, Run)]
    refused = [r for r in results if isinstance(r, EnvironmentLocked)]
    assert len(refused) == 5
    assert {e.holder for e in refused} == {won.id}
    assert await store.lock_holder("testnet") == won.id

    await service.take_over(won.id, "U_OP", "a rollback needs testnet")
    assert await store.lock_holder("testnet") is None
    other = await service.start("smoke", params, actor="U_RM1")
    with pytest.raises(InvalidCommand, match=f"now locked by run {other.id}"):
        await service.command(won.id, Resume(actor="U_OP"))
    await service.command(other.id, Abort(actor="U_OP", reason="done"))
    assert await store.lock_holder("testnet") is None
    await service.command(won.id, Resume(actor="U_OP"))
    assert await store.lock_holder("testnet") == won.id


async def test_finished_runs_are_archived_on_a_cluster(
    cluster_client: aioredis.Redis, tmp_path: Path
) -> None:
    """Retention on a Cluster: the runs' keys go in one script on each run's slot, the global
    indexes around it, and the one-time scan for runs an older release finished reads every
    master."""
    store = RunStore(cluster_client)
    service = WorkflowService(
        store, {"smoke": definition()},
        StaticInventory({"testnet": [("test-1", "miner", True)]}), StaticAuthority(groups=GROUPS),
    )
    runs = [await service.start("smoke", {"version": "v1.4.2", "environment": "testnet"},
                                actor="U_RM1") for _ in range(4)]
    for run in runs:
        await service.command(run.id, Abort(actor="U_OP", reason="retention on a cluster"))
    await cluster_client.delete(keys.FINISHED, keys.FINISHED_ADOPTED)  # as an older release
    assert await store.adopt_finished() == len(runs)
    archive = RunArchive(tmp_path / "archive")
    report = await Archiver(store, archive, retention=timedelta(days=30)).sweep(
        store.now() + timedelta(days=31))
    assert report.archived == len(runs)
    for run in runs:
        assert await store.load(run.id) is None
        for key in keys.RunKeys(run.id).owned():
            assert not await cluster_client.exists(key)
        found = await archive.read(run.id)
        assert found is not None
        assert found.run.status is RunStatus.ABORTED
    assert set(await store.archived_ids(10)) == {r.id for r in runs}
    assert await store.recent_ids(10) == []


async def test_a_start_that_finds_its_run_created_keeps_the_run_s_lock_on_a_cluster(
    cluster_client: aioredis.Redis,
) -> None:
    """Two deliveries of one start (Slack's retry on another replica, a pipeline's retried
    request) both plan the same run id; the second finds the run created (a conflict). On a
    Cluster it took the locks apart first, finding them already the run's: giving back what it
    took must not free the lock the run holds (another run could then write there too)."""
    store = RunStore(cluster_client)
    inventory = StaticInventory(
        {"testnet": [("test-1", "miner", True), ("test-2", "validator", False)]}
    )
    service = WorkflowService(
        store, {"smoke": definition()}, inventory, StaticAuthority(groups=GROUPS),
        policies=DefaultPolicies(environment_locks=True), id_factory=lambda now: "r-same",
    )
    params = {"version": "v1.4.2", "environment": "testnet"}
    first = await service.start("smoke", params, actor="U_RM1")
    assert await store.lock_holder("testnet") == first.id
    again = await service.start("smoke", params, actor="U_RM1")  # draws the same id: conflict
    assert again.id == first.id
    assert await store.lock_holder("testnet") == first.id
    with pytest.raises(EnvironmentLocked):
        await WorkflowService(
            store, {"smoke": definition()}, inventory, StaticAuthority(groups=GROUPS),
            policies=DefaultPolicies(environment_locks=True),
        ).start("smoke", params, actor="U_RM1")


async def test_a_lock_left_by_a_run_that_ended_is_free_on_a_cluster(
    cluster_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a Cluster a run's lock is given back apart from the commit that ends it; a replica
    that dies in between leaves the lock naming a run that has ended. The next start on that
    environment (and a resume) takes it: an ended run never writes again. Before, the
    environment stayed locked for good (no take-over either: the holder holds nothing)."""
    store = RunStore(cluster_client)
    inventory = StaticInventory(
        {"testnet": [("test-1", "miner", True), ("test-2", "validator", False)]}
    )
    service = WorkflowService(
        store, {"smoke": definition()}, inventory, StaticAuthority(groups=GROUPS),
        policies=DefaultPolicies(environment_locks=True),
    )
    params = {"version": "v1.4.2", "environment": "testnet"}
    ended = await service.start("smoke", params, actor="U_RM1")

    async def dies(*args: object) -> None:
        raise ConnectionError("the replica died before giving the lock back")

    with monkeypatch.context() as patch:
        patch.setattr(store, "_lock_apart", dies)
        with pytest.raises(ConnectionError):
            await service.command(ended.id, Abort(actor="U_OP", reason="done"))
    assert (await store.get(ended.id)).terminal
    assert await store.lock_holder("testnet") == ended.id
    after = await service.start("smoke", params, actor="U_RM1")
    assert await store.lock_holder("testnet") == after.id
