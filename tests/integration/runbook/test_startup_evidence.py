"""startup-check on the daemon's own dialect: nodes with peers pass on what /health says plus the
environment's validation-error evidence; a lone regtest node (no peers, so syncing forever) fails
the health gate with its own reasons, and nothing about a metric the daemon never had."""

from __future__ import annotations

from collections.abc import AsyncIterator

import redis.asyncio as aioredis

from bot.devnet import Devnet
from tests.integration.runbook.conftest import SUM, Bot, blocked_at, make_bot, state_of
from workflows.model import RunStatus


async def test_startup_check_passes_on_nodes_with_peers(bot: Bot) -> None:
    """Four peered testnet nodes pass every /health condition over the window; the validation
    errors come from the deploy system's log check of all four nodes (the devnet's source)."""
    run = await bot.start("startup-check", environment="testnet", window="1s")
    await bot.confirm(run.id, "config", config_checksum=SUM)
    run = await bot.finished(run.id)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    evidence = state_of(run, "validation-errors").result["evidence"]
    assert (evidence["source"], evidence["value"]) == ("deploy", 0.0)
    assert set(evidence["nodes"]) == {"test-1", "test-2", "test-3", "test-4"}
    assert "metric" not in (state_of(run, "health").note or "")
    metrics = [r for n in bot.net("testnet").nodes for r in n.request_log if r.path == "/metrics"]
    assert metrics == []  # nothing reads a /metrics family the daemon does not have


async def lone_regtest(redis: aioredis.Redis) -> AsyncIterator[Bot]:
    async with Devnet("regtest", nodes=1, block_interval=0.1, canaries=0) as net:
        async for bot in make_bot(redis, {"regtest": net}):
            yield bot


async def test_a_lone_regtest_node_fails_health_with_its_own_reasons(
    redis: aioredis.Redis,
) -> None:
    """One regtest node has no peer: its /health says syncing with 0 peers, so startup-check's
    health gate fails naming the node, the peers and the syncing; never a missing metric."""
    async for bot in lone_regtest(redis):
        run = await bot.start("startup-check", environment="regtest", window="1s")
        await bot.confirm(run.id, "config", config_checksum=SUM)
        run = await bot.wait(run.id, blocked_at("health"))
        error = state_of(run, "health").error or ""
        assert "regt-1: 0 peers, fewer than the 1 required" in error
        assert "regt-1: still syncing (100%); it has no peers" in error
        assert "metric" not in error
        assert "validation" not in error
