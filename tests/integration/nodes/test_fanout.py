"""Fan-out over many devnet nodes: every node answered, concurrency bounded, errors per node."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.config import BotConfig
from bot.devnet import Devnet
from bot.nodes import DEFAULT_CONCURRENCY, NodeClient
from workflows.nodeerrors import NodeUnreachable
from workflows.nodereplies import NodeHealth

from .conftest import config_for


@pytest.fixture
async def big_devnet() -> AsyncIterator[Devnet]:
    """200 testnet nodes in this process."""
    net = Devnet("testnet", nodes=200, block_interval=0)
    await net.start()
    yield net
    await net.stop()


@pytest.fixture
def big_config(big_devnet: Devnet) -> BotConfig:
    return config_for(big_devnet)


async def test_health_of_200_nodes(
    big_devnet: Devnet, big_config: BotConfig, client: NodeClient
) -> None:
    """gather() returns one result per node, in order, every one of them healthy."""
    nodes = big_config.nodes("testnet")
    results = await client.gather(nodes, client.health)
    assert [r.node for r in results] == [n.name for n in nodes]
    assert all(r.ok and isinstance(r.value, NodeHealth) and r.value.ok for r in results)
    assert DEFAULT_CONCURRENCY >= 100


async def test_concurrency_is_bounded(big_config: BotConfig, client: NodeClient) -> None:
    """No more than `limit` calls are in flight at once, and the limit is actually used."""
    in_flight = 0
    peak = 0

    async def probe(node: object) -> NodeHealth:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.01)
            return await client.health(node)  # type: ignore[arg-type]
        finally:
            in_flight -= 1

    results = await client.gather(big_config.nodes("testnet"), probe, limit=16)
    assert len(results) == 200
    assert peak == 16


async def test_errors_are_per_node(
    big_devnet: Devnet, big_config: BotConfig, client: NodeClient
) -> None:
    """A node that fails gives its own NodeError result; the others still answer."""
    big_devnet.nodes[7].faults.refuse_connections = True
    results = await client.gather(
        big_config.nodes("testnet"), lambda n: client.health(n, retry=False)
    )
    failed = [r for r in results if not r.ok]
    assert [r.node for r in failed] == [big_devnet.nodes[7].name]
    assert isinstance(failed[0].error, NodeUnreachable)
    assert sum(r.ok for r in results) == 199


async def test_a_bug_is_raised_not_swallowed(big_config: BotConfig, client: NodeClient) -> None:
    """An exception that is not a NodeError propagates out of gather()."""

    async def broken(node: object) -> None:
        raise ValueError("bug in the step")

    with pytest.raises(ValueError, match="bug in the step"):
        await client.gather(big_config.nodes("testnet")[:5], broken)
