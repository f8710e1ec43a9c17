"""The node's fixed-window rate limit on POST /: per client IP, before auth, no Retry-After."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bot.devnet import Devnet

from .conftest import get, post, rpc

RATE_LIMITED = {
    "error": {"code": -32001, "message": "Rate limit exceeded. Please try again later."},
    "id": None,
}


async def test_request_101_is_refused_at_the_real_defaults(session: aiohttp.ClientSession) -> None:
    """At the daemon's defaults 100 POSTs pass and the 101st gets 429 -32001, no Retry-After."""
    async with Devnet("regtest", nodes=1, block_interval=0) as net:
        node = net.nodes[0]
        for _ in range(100):
            assert (await rpc(session, node, "getblockcount")).status == 200
        reply = await rpc(session, node, "getblockcount")
        assert reply.status == 429
        assert reply.json == RATE_LIMITED
        assert "Retry-After" not in reply.headers
        assert (await get(session, node, "/health")).status == 200


async def test_limit_counts_before_auth(session: aiohttp.ClientSession) -> None:
    """Unauthenticated POSTs use up the window; a locked-out client gets 429 even with bad auth."""
    async with Devnet("regtest", nodes=1, block_interval=0, rate_limit=3) as net:
        node = net.nodes[0]
        body = {"jsonrpc": "2.0", "id": "1", "method": "getblockcount", "params": []}
        statuses = [(await post(session, node, body, auth="")).status for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        assert (await rpc(session, node, "getblockcount")).status == 429


async def test_health_and_metrics_are_not_limited(session: aiohttp.ClientSession) -> None:
    """GET /health and /metrics keep answering while POST / is locked out and do not count."""
    async with Devnet("regtest", nodes=1, block_interval=0, rate_limit=2) as net:
        node = net.nodes[0]
        for _ in range(10):
            assert (await get(session, node, "/health")).status == 200
            assert (await get(session, node, "/metrics")).status == 200
        assert (await rpc(session, node, "getblockcount")).status == 200
        assert (await rpc(session, node, "getblockcount")).status == 200
        assert (await rpc(session, node, "getblockcount")).status == 429
        assert (await get(session, node, "/health")).status == 200


async def test_window_resets_after_its_length(session: aiohttp.ClientSession) -> None:
    """The window reopens `rate_window` seconds after its first request, not after the last one."""
    async with Devnet("regtest", nodes=1, block_interval=0, rate_limit=5, rate_window=1.0) as net:
        node = net.nodes[0]
        first = time.monotonic()
        for _ in range(5):
            assert (await rpc(session, node, "getblockcount")).status == 200
        assert (await rpc(session, node, "getblockcount")).status == 429
        await asyncio.sleep(max(0.0, first + 1.2 - time.monotonic()))
        assert (await rpc(session, node, "getblockcount")).status == 200


async def test_limit_is_per_node_and_lost_on_restart(session: aiohttp.ClientSession) -> None:
    """Each node counts on its own, and a restarted node has forgotten its windows."""
    async with Devnet("testnet", nodes=2, block_interval=0, rate_limit=1) as net:
        first, second = net.nodes
        assert (await rpc(session, first, "getblockcount")).status == 200
        assert (await rpc(session, first, "getblockcount")).status == 429
        assert (await rpc(session, second, "getblockcount")).status == 200
        await first.stop_process()
        await first.start_process()
        assert (await rpc(session, first, "getblockcount")).status == 200
