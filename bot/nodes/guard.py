"""The network guard: before the bot acts on a node, the node must be on its environment's chain.

Nothing in the RPC names the network and the daemon runs an unknown network as mainnet, so the
guard compares `getblock [1].hash` with the genesis pinned for the environment. A match is cached
briefly per node and process (one POST per node per `ttl`, not one per step). A mismatch is
sticky and shared: it is recorded in the refusal store (Redis, `bot.nodes.refusals`) and audited,
and every replica refuses the node from then on without another request, until an operator of
its environment releases it (`release`), which asks the node's genesis again first and refuses to
release a node still on the wrong chain.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.nodes.network import network_of_genesis
from bot.nodes.refusals import GuardAudit, GuardEvent, MemoryRefusals, Refusal, RefusalStore
from workflows.nodeerrors import NetworkMismatch

if TYPE_CHECKING:
    from bot.environments import EnvironmentConfig, NodeConfig
    from bot.nodes.rpc import NodeClient

__all__ = ["DEFAULT_GUARD_TTL", "NetworkGuard", "ReleaseRefused"]

log = logging.getLogger("parthenon.guard")

DEFAULT_GUARD_TTL = 30.0
"""Seconds a positive check stays valid for a node."""


class ReleaseRefused(NetworkMismatch):
    """A release was asked for a node that still reports the wrong genesis: it stays refused."""

    code = "release_refused"


@dataclass(frozen=True)
class _Passed:
    at: float
    rpc_url: str
    expected: str


class NetworkGuard:
    """Checks nodes' genesis hashes against their environments; one per process.

    `refusals` is where refusals live: `RedisRefusals` in the bot (shared by every replica),
    `MemoryRefusals` (the default) in a one-shot tool.
    """

    def __init__(
        self,
        client: NodeClient,
        *,
        refusals: RefusalStore | None = None,
        ttl: float = DEFAULT_GUARD_TTL,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._refusals: RefusalStore = refusals if refusals is not None else MemoryRefusals()
        self._ttl = ttl
        self._clock = clock
        self._wall = wall
        self._passed: dict[str, _Passed] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def refusals(self) -> RefusalStore:
        return self._refusals

    async def check(self, node: NodeConfig, environment: EnvironmentConfig) -> None:
        """Return if `node` is on `environment`'s chain; raise NetworkMismatch if it is not.

        A node refused before (by any replica) is refused without sending anything. Transport
        and RPC errors of the check itself propagate unchanged and are not recorded.
        """
        expected = environment.expected_genesis
        await self._raise_if_refused(node.name)
        if self._fresh(node, expected):
            return
        lock = self._locks.setdefault(node.name, asyncio.Lock())
        async with lock:  # concurrent steps on one node share one check
            if self._fresh(node, expected):
                return
            await self._raise_if_refused(node.name)
            reported = await self._client.genesis_hash(node)
            if reported != expected:
                self._passed.pop(node.name, None)
                refusal = _refusal(node, environment, reported, self._wall())
                if await self._refusals.refuse(refusal):
                    log.warning(
                        "network guard refused node %s: %s", node.name, refusal.message,
                        extra={"node": node.name, "environment": environment.name,
                               "event": "node_refused"},
                    )
                raise refusal.error()
            self._passed[node.name] = _Passed(self._clock(), node.rpc_url, expected)

    async def refused(self, nodes: Iterable[str]) -> dict[str, NetworkMismatch]:
        """Which of `nodes` are refused (by any replica), with why; sends nothing to them."""
        found = await self._refusals.many(nodes)
        return {name: refusal.error() for name, refusal in found.items()}

    async def release(
        self, node: NodeConfig, environment: EnvironmentConfig, *, actor: str
    ) -> bool:
        """Release a refused node after asking its genesis again; True if it was refused.

        Raises ReleaseRefused (audited) when the node still reports another genesis, and the
        node's own errors (unreachable, ...) when the genesis cannot be read: nothing changes.
        """
        expected = environment.expected_genesis
        reported = await self._client.genesis_hash(node)
        if reported != expected:
            refusal = _refusal(node, environment, reported, self._wall())
            message = (
                f"still reports genesis {reported} ({_which(reported)}) but environment "
                f"{environment.name} ({environment.network}) expects {expected}; it stays "
                "refused until it is on the right chain"
            )
            await self._refusals.refuse(refusal)  # a node refused by nobody yet is now
            await self._refusals.note(GuardAudit(
                GuardEvent.RELEASE_REFUSED, node.name, environment.name, actor, message,
                self._wall()))
            log.warning("release of node %s refused: %s", node.name, message,
                        extra={"node": node.name, "environment": environment.name,
                               "actor": actor, "event": "node_release_refused"})
            raise ReleaseRefused(node.name, message, reported=reported, expected=expected)
        detail = f"reports genesis {reported}, the {environment.network} genesis"
        released = await self._refusals.release(node.name, GuardAudit(
            GuardEvent.RELEASED, node.name, environment.name, actor, detail, self._wall()))
        self._passed[node.name] = _Passed(self._clock(), node.rpc_url, expected)
        if released:
            log.warning("node %s released by %s: %s", node.name, actor, detail,
                        extra={"node": node.name, "environment": environment.name,
                               "actor": actor, "event": "node_released"})
        return released

    def _fresh(self, node: NodeConfig, expected: str) -> bool:
        """True if a recent check in this process passed."""
        passed = self._passed.get(node.name)
        return (
            passed is not None
            and passed.rpc_url == node.rpc_url
            and passed.expected == expected
            and self._clock() - passed.at < self._ttl
        )

    async def _raise_if_refused(self, name: str) -> None:
        stored = await self._refusals.get(name)
        if stored is not None:
            self._passed.pop(name, None)
            raise stored.error()


def _which(reported: str) -> str:
    network = network_of_genesis(reported)
    return f"the {network} genesis" if network else "a genesis of no known network"


def _refusal(
    node: NodeConfig, environment: EnvironmentConfig, reported: str, at: float
) -> Refusal:
    error = _mismatch(node, environment, reported)
    return Refusal(node.name, environment.name, reported, error.expected, error.message, at)


def _mismatch(node: NodeConfig, environment: EnvironmentConfig, reported: str) -> NetworkMismatch:
    expected = environment.expected_genesis
    what = _which(reported)
    message = (
        f"reports genesis {reported} ({what}) but environment {environment.name} "
        f"({environment.network}) expects {expected}; nothing more is sent to this node "
        "until an operator releases it"
    )
    return NetworkMismatch(node.name, message, reported=reported, expected=expected)
