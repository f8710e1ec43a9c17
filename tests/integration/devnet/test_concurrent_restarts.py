"""Two deploy requests for one node at once (two runs' waves) stop and start it concurrently;
the node must end up serving. Found by the chaos suite: one restart's teardown took the web
server the other had just created, and the node kept its port bound without ever accepting."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot.devnet import Devnet


async def health(url: str) -> int | str:
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session, \
                session.get(f"{url}/health") as response:
            await response.read()
            return response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__


async def ticks(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


@pytest.mark.parametrize("stop_after", [0, 1, 2, 3])
async def test_a_stop_and_start_overlapping_a_restart_leave_the_node_serving(
    stop_after: int,
) -> None:
    """A restart, and another request's stop and start a few loop turns later (every
    interleaving of the first few turns): the node serves /health afterwards, and a stop
    still closes its port."""
    async with Devnet("mainnet", nodes=1, block_interval=0.1) as net:
        node = net.nodes[0]
        for start_after in range(4):

            async def restart() -> None:
                await node.stop_process()
                await node.start_process()

            first = asyncio.create_task(restart())
            await ticks(stop_after)
            stop = asyncio.create_task(node.stop_process())
            await ticks(start_after)
            start = asyncio.create_task(node.start_process())
            await asyncio.gather(first, stop, start)
            assert node.running
            assert await health(node.url) == 200, (stop_after, start_after)
        await node.stop_process()
        assert await health(node.url) != 200
        await node.start_process()
        assert await health(node.url) == 200
