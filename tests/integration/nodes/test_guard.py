"""The network guard against the devnet: checks, caching, and refusing without sending."""

from __future__ import annotations

import asyncio

import pytest

from bot.config import BotConfig
from bot.devnet import Devnet
from bot.environments import NodeConfig
from bot.nodes import GENESIS_HASHES, Network, NetworkGuard, NodeClient
from workflows.nodeerrors import NetworkMismatch

from .conftest import config_for, posts


async def test_matching_node_passes_and_is_cached(
    devnet: Devnet, config: BotConfig, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """A node on its environment's chain passes; a second check within the TTL sends nothing."""
    now = [100.0]
    guard = NetworkGuard(client, ttl=30.0, clock=lambda: now[0])
    env = config.environment("testnet")
    await guard.check(nodes[0], env)
    await guard.check(nodes[0], env)
    assert [r.method for r in posts(devnet.nodes[0])] == ["getblock"]
    now[0] += 31
    await guard.check(nodes[0], env)
    assert len(posts(devnet.nodes[0])) == 2


async def test_mismatch_names_node_reported_and_expected(
    devnet: Devnet, config: BotConfig, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """A node on another chain is refused with a message naming both hashes and networks."""
    devnet.nodes[1].faults.wrong_network = True  # an unknown mode silently runs as mainnet
    guard = NetworkGuard(client)
    with pytest.raises(NetworkMismatch) as caught:
        await guard.check(nodes[1], config.environment("testnet"))
    error = caught.value
    assert error.node == nodes[1].name
    assert error.reported == GENESIS_HASHES[Network.MAINNET]
    assert error.expected == GENESIS_HASHES[Network.TESTNET]
    text = str(error)
    assert text.startswith(f"node {nodes[1].name} (getblock): reports genesis 660189b8")
    assert "(the mainnet genesis)" in text
    assert "environment testnet (testnet) expects fe739e3c" in text
    assert error.code == "network_mismatch"


async def test_after_a_mismatch_nothing_more_is_sent(
    devnet: Devnet, config: BotConfig, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """Once refused, the node gets no further request from the guard until released."""
    node = devnet.nodes[1]
    node.faults.wrong_network = "regtest"
    guard = NetworkGuard(client)
    env = config.environment("testnet")
    with pytest.raises(NetworkMismatch, match="the regtest genesis"):
        await guard.check(nodes[1], env)
    sent = len(node.request_log)
    node.faults.wrong_network = False
    for _ in range(3):
        with pytest.raises(NetworkMismatch):
            await guard.check(nodes[1], env)
    assert len(node.request_log) == sent
    assert set(await guard.refused(n.name for n in nodes)) == {nodes[1].name}
    assert await guard.release(nodes[1], env, actor="UOP0001") is True
    assert len(node.request_log) == sent + 1  # the release asked the genesis again
    await guard.check(nodes[1], env)  # passed just now: nothing more is sent
    assert len(node.request_log) == sent + 1


async def test_concurrent_checks_share_one_request(
    devnet: Devnet, config: BotConfig, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """Ten steps checking the same node at once cost the node one POST."""
    guard = NetworkGuard(client)
    env = config.environment("testnet")
    await asyncio.gather(*(guard.check(nodes[0], env) for _ in range(10)))
    assert len(posts(devnet.nodes[0])) == 1


async def test_pinned_custom_genesis_is_enforced(devnet: Devnet, client: NodeClient) -> None:
    """A testnet environment pinned to another hash refuses nodes that report the usual one."""
    custom = config_for(devnet, genesis_hash="ab" * 32)
    guard = NetworkGuard(client)
    with pytest.raises(NetworkMismatch, match="expects abab"):
        await guard.check(custom.nodes("testnet")[0], custom.environment("testnet"))
