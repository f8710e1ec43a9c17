"""The `stop` method: answered, then the RPC server goes away; or hanging while /health says ok."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import pytest

from bot.devnet import Devnet, DevnetNode

from .conftest import basic, get, rpc

STOP = {"jsonrpc": "2.0", "id": "s", "method": "stop", "params": []}


async def test_stop_answers_then_refuses_connections(
    session: aiohttp.ClientSession, devnet: Devnet, node: DevnetNode
) -> None:
    """`stop` answers "Node stopping", after which new connections are refused."""
    reply = await rpc(session, node, "stop", rid="s")
    assert reply.json == {"id": "s", "jsonrpc": "2.0", "result": "Node stopping"}
    assert not node.running
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(session, node, "/health")
    with pytest.raises(aiohttp.ClientConnectionError):
        await rpc(session, node, "getblockcount")
    await node.stop_process()
    await node.start_process()
    assert (await get(session, node, "/health")).json["status"] == "ok"


async def test_stop_needs_credentials(session: aiohttp.ClientSession, node: DevnetNode) -> None:
    """An unauthenticated `stop` is refused with 401 and the node keeps running."""
    async with session.post(node.url, json=STOP) as response:
        assert response.status == 401
    assert node.running


async def test_hanging_stop_times_out_while_health_says_ok(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """With hanging_stop, `stop` does not answer, /health still says ok and RPC still works."""
    node.faults.hanging_stop = True
    headers = {"Authorization": basic()}
    with pytest.raises(TimeoutError):
        async with session.post(
            node.url, json=STOP, headers=headers, timeout=aiohttp.ClientTimeout(total=0.3)
        ):
            pass
    assert node.running
    assert (await get(session, node, "/health")).json["status"] == "ok"
    assert (await rpc(session, node, "getblockcount")).status == 200


async def test_hanging_stop_does_not_hold_up_teardown(session: aiohttp.ClientSession) -> None:
    """A node stopped from outside while a `stop` request hangs goes down promptly."""
    net = Devnet("regtest", nodes=1, block_interval=0)
    await net.start()
    node = net.nodes[0]
    node.faults.hanging_stop = 3600
    pending = asyncio.ensure_future(rpc(session, node, "stop"))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await net.stop()
    assert time.monotonic() - started < 10
    with pytest.raises(aiohttp.ClientError):
        await pending


async def test_slow_stop_eventually_answers_and_stops(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """A finite hang ends with "Node stopping" and the node going away."""
    node.faults.hanging_stop = 0.2
    reply = await rpc(session, node, "stop")
    assert reply.json["result"] == "Node stopping"
    assert not node.running


async def test_a_hanging_stop_still_stops_the_node_when_the_client_gives_up(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """Like the daemon, a node that received stop goes down even if the caller timed out."""
    node.faults.hanging_stop = 0.3
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(rpc(session, node, "stop"), 0.05)
    for _ in range(100):
        if not node.running:
            break
        await asyncio.sleep(0.02)
    assert not node.running
