"""The network guard: before the bot acts on a node, the node must be on its environment's chain.

Nothing in the RPC names the network and the daemon runs an unknown network as mainnet, so the
guard compares `getblock [1].hash` with the genesis pinned for the environment. A match is cached
briefly per node (one POST per node per `ttl`, not one per step). A mismatch is sticky: the node
is refused from then on without another request until an operator releases it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.nodes.errors import NetworkMismatch
from bot.nodes.network import network_of_genesis

if TYPE_CHECKING:
    from bot.config import EnvironmentConfig, NodeConfig
    from bot.nodes.rpc import NodeClient

__all__ = ["DEFAULT_GUARD_TTL", "NetworkGuard"]

DEFAULT_GUARD_TTL = 30.0
"""Seconds a positive check stays valid for a node."""


@dataclass(frozen=True)
class _Passed:
    at: float
    rpc_url: str
    expected: str


class NetworkGuard:
    """Checks nodes' genesis hashes against their environments; one per process."""

    def __init__(
        self,
        client: NodeClient,
        *,
        ttl: float = DEFAULT_GUARD_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._passed: dict[str, _Passed] = {}
        self._refused: dict[str, NetworkMismatch] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def check(self, node: NodeConfig, environment: EnvironmentConfig) -> None:
        """Return if `node` is on `environment`'s chain; raise NetworkMismatch if it is not.

        Transport and RPC errors of the check itself propagate unchanged and are not cached.
        """
        expected = environment.expected_genesis
        if self._fresh(node, expected):
            return
        lock = self._locks.setdefault(node.name, asyncio.Lock())
        async with lock:  # concurrent steps on one node share one check
            if self._fresh(node, expected):
                return
            reported = await self._client.genesis_hash(node)
            if reported != expected:
                self._refused[node.name] = _mismatch(node, environment, reported)
                self._passed.pop(node.name, None)
                self._raise_refused(node.name)
            self._passed[node.name] = _Passed(self._clock(), node.rpc_url, expected)

    def refused(self) -> dict[str, NetworkMismatch]:
        """Nodes refused so far, by name."""
        return dict(self._refused)

    def release(self, node: str) -> bool:
        """Forget a refusal (an operator fixed the node); the next check asks the node again."""
        self._passed.pop(node, None)
        return self._refused.pop(node, None) is not None

    def _fresh(self, node: NodeConfig, expected: str) -> bool:
        """True if a recent check passed; raises the stored refusal without sending anything."""
        if node.name in self._refused:
            self._raise_refused(node.name)
        passed = self._passed.get(node.name)
        return (
            passed is not None
            and passed.rpc_url == node.rpc_url
            and passed.expected == expected
            and self._clock() - passed.at < self._ttl
        )

    def _raise_refused(self, name: str) -> None:
        stored = self._refused[name]
        raise NetworkMismatch(
            name, stored.message, reported=stored.reported, expected=stored.expected
        )


def _mismatch(node: NodeConfig, environment: EnvironmentConfig, reported: str) -> NetworkMismatch:
    expected = environment.expected_genesis
    network = network_of_genesis(reported)
    what = f"the {network} genesis" if network else "a genesis of no known network"
    message = (
        f"reports genesis {reported} ({what}) but environment {environment.name} "
        f"({environment.network}) expects {expected}; nothing more is sent to this node "
        "until an operator releases it"
    )
    return NetworkMismatch(node.name, message, reported=reported, expected=expected)
