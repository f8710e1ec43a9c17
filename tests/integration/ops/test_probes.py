"""/healthz, /readyz and /metrics over real HTTP, against a real Redis and a fake Slack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.web.async_client import AsyncWebClient

from bot.observability import BotMetrics
from bot.probes import (
    Readiness,
    SlackAuthCheck,
    add_ops_routes,
    build_ops_app,
    start_ops_server,
)
from bot.testing.redisserver import RedisServer
from tests.integration.ops.fakeslack import FakeSlack
from workflows.connection import connect

TOKEN = "xoxb-test-1234-abcd"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


def slack_check(slack: FakeSlack, token: str = TOKEN, **kwargs: float) -> SlackAuthCheck:
    return SlackAuthCheck(AsyncWebClient(token=token, base_url=slack.url), **kwargs)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner, port = await start_ops_server(app, host="127.0.0.1", port=0)
    return runner, f"http://127.0.0.1:{port}"


async def get(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def test_healthz_and_readyz_pass_with_redis_and_slack_up(
    redis: aioredis.Redis, slack: FakeSlack
) -> None:
    """Alive and ready: Redis answers and Slack's auth.test accepts the token."""
    app = web.Application()
    add_ops_routes(app, readiness=Readiness(redis.ping, slack_check(slack)))
    runner, base = await serve(app)
    try:
        assert await get(f"{base}/healthz") == (200, {"status": "ok"})
        status, body = await get(f"{base}/readyz")
    finally:
        await runner.cleanup()
    assert status == 200
    assert body == {"status": "ready", "checks": {"redis": "ok", "slack": "ok"}}


async def test_readyz_fails_while_redis_is_down_and_recovers(
    tmp_path: Path, slack: FakeSlack
) -> None:
    """With its Redis stopped the bot is alive but not ready (503); ready again once it is back."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    client = connect(server.url)
    app = build_ops_app(readiness=Readiness(client.ping, slack_check(slack), redis_timeout=1.0))
    runner, base = await serve(app)
    try:
        assert (await get(f"{base}/readyz"))[0] == 200
        server.stop()
        status, body = await get(f"{base}/readyz")
        assert status == 503
        checks = body["checks"]
        assert isinstance(checks, dict)
        assert checks["redis"].startswith("redis: ")
        assert checks["slack"] == "ok"
        assert (await get(f"{base}/healthz"))[0] == 200
        server.start()
        assert (await get(f"{base}/readyz"))[0] == 200
    finally:
        await runner.cleanup()
        await client.aclose()
        server.stop()


async def test_readyz_fails_on_a_revoked_token_and_caches_auth_test(
    redis: aioredis.Redis, slack: FakeSlack
) -> None:
    """A token Slack refuses makes the bot unready, naming Slack's error; probes within the
    cache time cost one auth.test, not one each."""
    app = build_ops_app(
        readiness=Readiness(redis.ping, slack_check(slack, token="xoxb-revoked", fail_ttl=60))
    )
    runner, base = await serve(app)
    try:
        results = [await get(f"{base}/readyz") for _ in range(5)]
    finally:
        await runner.cleanup()
    assert {status for status, _ in results} == {503}
    assert results[0][1]["checks"] == {"redis": "ok", "slack": "slack auth.test: invalid_auth"}
    assert slack.calls == ["auth.test"]


async def test_readyz_stays_ready_but_says_degraded_while_slack_is_unavailable(
    redis: aioredis.Redis, slack: FakeSlack
) -> None:
    """Slack answering 5xx is an outage every replica shares: /readyz stays 200 (so a brief
    Slack outage never takes every pod out of the Service) and names Slack as degraded."""
    slack.down = True
    app = build_ops_app(readiness=Readiness(redis.ping, slack_check(slack)))
    runner, base = await serve(app)
    try:
        status, body = await get(f"{base}/readyz")
    finally:
        await runner.cleanup()
    assert status == 200
    assert body["checks"] == {"redis": "ok", "slack": "degraded: slack auth.test: HTTP 503"}


async def test_readyz_stays_ready_when_slack_cannot_be_reached_at_all(
    redis: aioredis.Redis,
) -> None:
    """No answer from Slack (connection refused) is degraded too, not a reason to be unready;
    Redis down still is (the other test), and so is a refused token."""
    closed = AsyncWebClient(token=TOKEN, base_url="http://127.0.0.1:9/api/")
    app = build_ops_app(readiness=Readiness(redis.ping, SlackAuthCheck(closed, timeout=2.0)))
    runner, base = await serve(app)
    try:
        status, body = await get(f"{base}/readyz")
    finally:
        await runner.cleanup()
    assert status == 200
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert str(checks["slack"]).startswith("degraded: slack auth.test: ")


async def test_readyz_fails_once_stopping_but_healthz_stays_up(redis: aioredis.Redis) -> None:
    """On SIGTERM the process turns unready (traffic drains) while liveness still passes."""
    readiness = Readiness(redis.ping)
    runner, base = await serve(build_ops_app(readiness=readiness))
    try:
        assert (await get(f"{base}/readyz"))[0] == 200
        readiness.stopping = True
        status, body = await get(f"{base}/readyz")
        assert (await get(f"{base}/healthz"))[0] == 200
    finally:
        await runner.cleanup()
    assert status == 503
    assert body["checks"] == {"process": "stopping", "redis": "ok"}


async def test_concurrent_probes_share_one_auth_test(
    redis: aioredis.Redis, slack: FakeSlack
) -> None:
    """Ten probes at once make a single auth.test call (the check is serialised and cached)."""
    check = slack_check(slack)
    results = await asyncio.gather(*(check.check() for _ in range(10)))
    assert set(results) == {(True, "ok")}
    assert slack.calls == ["auth.test"]


async def test_metrics_route_serves_prometheus_text(redis: aioredis.Redis) -> None:
    """/metrics answers in the Prometheus text format with the process's own metrics."""
    metrics = BotMetrics()
    runner, base = await serve(build_ops_app(metrics=metrics))
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as resp:
            text = await resp.text()
            content_type = resp.headers["Content-Type"]
    finally:
        await runner.cleanup()
    assert resp.status == 200
    assert content_type.startswith("text/plain; version=")
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert families["parthenon_slack_api_errors"] == "counter"
    assert families["parthenon_node_rpc_duration_seconds"] == "histogram"
