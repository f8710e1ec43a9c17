"""Many nodes in one process cost sockets, not tasks."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.devnet import Devnet

from .conftest import get


async def test_many_nodes_start_without_a_task_each(session: aiohttp.ClientSession) -> None:
    """A 300-node devnet starts with no background task per node and every node answers."""
    before = len(asyncio.all_tasks())
    async with Devnet("mainnet", nodes=300, block_interval=1.0) as net:
        assert len(asyncio.all_tasks()) - before < 5
        assert len({n.port for n in net.nodes}) == 300
        assert net.nodes[-1].name == "main-300"
        sample = net.nodes[::50]
        replies = await asyncio.gather(*(get(session, n, "/health") for n in sample))
        assert {r.json["status"] for r in replies} == {"ok"}
    assert not any(n.running for n in net.nodes)
