"""/metrics content from real runs, a real engine, a devnet and the Slack hooks, read back with
prometheus-client's own parser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bot.devnet import Devnet
from bot.nodes import NodeClient, RetryPolicy
from bot.observability import BotMetrics
from bot.probes import build_ops_app, start_ops_server
from bot.testing.redisserver import RedisServer
from tests.integration.nodes.conftest import config_for
from tests.integration.workflows.conftest import GROUPS, definition, wait_for, waiting_at
from workflows.connection import connect
from workflows.engine import Engine, EngineSettings
from workflows.nodeerrors import NodeAuthError
from workflows.service import WorkflowService
from workflows.steps.base import ExecutorRegistry
from workflows.steps.bot import BotExecutor
from workflows.steps.deps import StepDeps
from workflows.steps.people import ApprovalExecutor, ManualExecutor
from workflows.steps.wait import WaitExecutor
from workflows.store import RunStore
from workflows.testing import RecordingExecutor, StaticAuthority, StaticInventory


@pytest.fixture
async def scrape_url() -> AsyncIterator[tuple[BotMetrics, str]]:
    metrics = BotMetrics(cache_seconds=0)
    runner, port = await start_ops_server(build_ops_app(metrics=metrics), host="127.0.0.1",
                                          port=0)
    yield metrics, f"http://127.0.0.1:{port}/metrics"
    await runner.cleanup()


async def scrape(url: str) -> list[Sample]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        text = await response.text()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    for sample in samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return None


async def test_runs_approvals_steps_and_engine_counters_appear_in_metrics(
    redis: aioredis.Redis, scrape_url: tuple[BotMetrics, str]
) -> None:
    """Two runs waiting for approval show as active runs by workflow and state, as approvals
    waiting with an age, with their executed steps timed and the engine's counters exposed."""
    metrics, url = scrape_url
    store = RunStore(redis)
    service = WorkflowService(
        store, {"smoke": definition()},
        StaticInventory({"testnet": [("test-1", "miner", True)]}), StaticAuthority(groups=GROUPS),
    )
    executors = metrics.instrument([ApprovalExecutor(), ManualExecutor(), WaitExecutor(),
                                    BotExecutor(), RecordingExecutor()])
    engine = Engine(store, ExecutorRegistry(executors),
                    settings=EngineSettings(worker_id="m1", poll_interval=0.02),
                    deps=StepDeps(store=store, runs=service))
    metrics.watch_store(store)
    metrics.watch_engine(engine)
    task = asyncio.create_task(engine.run_forever())
    try:
        runs = [await service.start("smoke", {"version": "v1.0.0", "environment": "testnet"},
                                    actor="U_RM1") for _ in range(2)]
        for run in runs:
            await wait_for(store, run.id, waiting_at("approve"))
        samples = await scrape(url)
    finally:
        await engine.stop(deadline=2)
        await task
    assert value(samples, "parthenon_runs", workflow="smoke", state="waiting") == 2
    assert value(samples, "parthenon_approvals_waiting", workflow="smoke") == 2
    age = value(samples, "parthenon_approval_oldest_age_seconds", workflow="smoke")
    assert age is not None
    assert 0 <= age < 60
    assert value(samples, "parthenon_redis_up") == 1
    assert value(samples, "parthenon_runs_due") == 0
    assert value(samples, "parthenon_step_duration_seconds_count",
                 workflow="smoke", kind="bot", outcome="succeeded") == 2
    assert value(samples, "parthenon_step_duration_seconds_count",
                 workflow="smoke", kind="approval", outcome="wait") == 2
    assert value(samples, "parthenon_engine_lease_takeovers_total") == 0
    assert value(samples, "parthenon_engine_steps_executed_total") == 4
    assert value(samples, "parthenon_engine_claims_total") == engine.stats.claims


async def test_node_rpc_latency_and_errors_by_node_and_kind(
    scrape_url: tuple[BotMetrics, str],
) -> None:
    """Every exchange with a devnet node is timed by node and method; a refused login counts as
    an error of kind node_auth and an unreachable node as node_unreachable."""
    metrics, url = scrape_url
    async with Devnet("testnet", nodes=2, block_interval=0) as net:
        good = config_for(net).nodes("testnet")
        bad = config_for(net, env={"PARTHENON_RPC_PASSWORD_TESTNET": "wrong-password",
                                   "PARTHENON_DEPLOY_SECRET": "x"}).nodes("testnet")
        async with NodeClient(observer=metrics.observe_rpc,
                              retry=RetryPolicy(attempts=1)) as client:
            await client.health(good[0])
            await client.call(good[1], "getblockcount", [])
            with pytest.raises(NodeAuthError):
                await client.call(bad[0], "getblockcount", [])
            net.node(good[1].name).faults.refuse_connections = True
            with pytest.raises(Exception, match="cannot connect"):
                await client.health(good[1], retry=False)
    samples = await scrape(url)
    first, second = good[0].name, good[1].name
    assert value(samples, "parthenon_node_rpc_duration_seconds_count",
                 node=first, method="GET /health") == 1
    assert value(samples, "parthenon_node_rpc_duration_seconds_count",
                 node=second, method="getblockcount") == 1
    assert value(samples, "parthenon_node_rpc_errors_total", node=first, kind="node_auth") == 1
    assert value(samples, "parthenon_node_rpc_errors_total",
                 node=second, kind="node_unreachable") == 1


async def test_slack_api_errors_and_retries_are_counted(
    scrape_url: tuple[BotMetrics, str],
) -> None:
    """The notifier's hooks show up as counters by Slack method and error or reason."""
    metrics, url = scrape_url
    metrics.slack_api_retry("chat.update", "rate_limited")
    metrics.slack_api_retry("chat.update", "rate_limited")
    metrics.slack_api_error("chat.postMessage", "channel_not_found")
    samples = await scrape(url)
    assert value(samples, "parthenon_slack_api_retries_total",
                 method="chat.update", reason="rate_limited") == 2
    assert value(samples, "parthenon_slack_api_errors_total",
                 method="chat.postMessage", error="channel_not_found") == 1


async def test_redis_down_marks_the_run_gauges_stale_not_the_scrape(
    scrape_url: tuple[BotMetrics, str], tmp_path: Path,
) -> None:
    """A scrape while Redis is unreachable still answers, with redis_up 0 and an error count."""
    metrics, url = scrape_url
    server = RedisServer(tmp_path / "redis")
    server.start()
    client = connect(server.url, attempts=1)
    try:
        metrics.watch_store(RunStore(client))
        assert value(await scrape(url), "parthenon_redis_up") == 1
        server.stop()
        samples = await scrape(url)
    finally:
        await client.aclose()
        server.stop()
    assert value(samples, "parthenon_redis_up") == 0
    assert value(samples, "parthenon_metrics_redis_errors_total") == 1
