"""The network guard's refusals live in Redis: every replica refuses a node another refused,
the release asks the node again first, and every refusal and release is audited (in Redis and
as a log line)."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from bot.config import BotConfig
from bot.devnet import Devnet
from bot.environments import NodeConfig
from bot.nodes import NetworkGuard, NodeClient, ReleaseRefused
from bot.nodes.refusals import GuardEvent, RedisRefusals
from workflows.connection import connect
from workflows.nodeerrors import NetworkMismatch

from .conftest import posts


def guard_on(client: NodeClient, redis_url: str) -> tuple[NetworkGuard, aioredis.Redis]:
    """A replica's guard: its own Redis connection, its own in-process cache."""
    connection = connect(redis_url)
    return NetworkGuard(client, refusals=RedisRefusals(connection)), connection


async def test_refusal_by_one_replica_is_seen_by_another_without_asking_the_node(
    devnet: Devnet, config: BotConfig, nodes: list[NodeConfig], client: NodeClient,
    redis_url: str,
) -> None:
    env = config.environment("testnet")
    first, r1 = guard_on(client, redis_url)
    second, r2 = guard_on(client, redis_url)
    try:
        await second.check(nodes[1], env)  # the second replica saw it healthy (cached pass)
        devnet.nodes[1].faults.wrong_network = True
        with pytest.raises(NetworkMismatch):
            await first.check(nodes[1], env)
        sent = len(posts(devnet.nodes[1]))
        devnet.nodes[1].faults.wrong_network = False  # fixed, but nobody released it
        with pytest.raises(NetworkMismatch, match="until an operator releases it"):
            await second.check(nodes[1], env)  # its cached pass does not outlive the refusal
        assert len(posts(devnet.nodes[1])) == sent
        assert set(await second.refused(n.name for n in nodes)) == {nodes[1].name}
        audit = await second.refusals.audit(nodes[1].name)
        assert [(a.event, a.actor, a.environment) for a in audit] == [
            (GuardEvent.REFUSED, "guard", "testnet")]
        assert "660189b8" in audit[0].detail  # what the node reported (the mainnet genesis)
    finally:
        await r1.aclose()
        await r2.aclose()


async def test_release_is_refused_while_the_genesis_is_wrong_and_granted_once_fixed(
    devnet: Devnet, config: BotConfig, nodes: list[NodeConfig], client: NodeClient,
    redis_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    env = config.environment("testnet")
    first, r1 = guard_on(client, redis_url)
    second, r2 = guard_on(client, redis_url)
    try:
        devnet.nodes[2].faults.wrong_network = "regtest"
        with pytest.raises(NetworkMismatch):
            await first.check(nodes[2], env)
        with pytest.raises(ReleaseRefused, match=r"still reports genesis f85d0bad.*regtest"):
            await second.release(nodes[2], env, actor="UOP0001")
        with pytest.raises(NetworkMismatch):  # still refused, for both replicas
            await first.check(nodes[2], env)
        devnet.nodes[2].faults.wrong_network = False
        assert await second.release(nodes[2], env, actor="UOP0001") is True
        await first.check(nodes[2], env)  # the other replica sends to it again
        assert await first.refused(n.name for n in nodes) == {}
        audit = await first.refusals.audit(nodes[2].name)
        assert [(a.event, a.actor) for a in audit] == [
            (GuardEvent.REFUSED, "guard"),
            (GuardEvent.RELEASE_REFUSED, "UOP0001"),
            (GuardEvent.RELEASED, "UOP0001"),
        ]
        assert await second.release(nodes[2], env, actor="UOP0001") is False  # nothing to do
        events = [(r.__dict__.get("event"), r.__dict__.get("node"), r.__dict__.get("actor"))
                  for r in caplog.records if r.name == "parthenon.guard"]
        assert events == [
            ("node_refused", nodes[2].name, None),
            ("node_release_refused", nodes[2].name, "UOP0001"),
            ("node_released", nodes[2].name, "UOP0001"),
        ]
    finally:
        await r1.aclose()
        await r2.aclose()
