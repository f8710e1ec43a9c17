"""The devnet's shared chain: height from elapsed time, deterministic block hashes.

No timer per node: the tip is computed lazily from the time since the chain started. A block's
hash is sha256(genesis || height || previous hash), so a node replaying its chain after a restart
(the runbook's "chainstate rebuild") arrives at the same heights and hashes. A node on a fork (a
divergent tip) or on the wrong network is a `Branch` of the same computation.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.devnet.errors import DevnetError
from bot.devnet.genesis import GENESIS_HASHES

__all__ = ["NULL_HASH", "Branch", "Chain"]

NULL_HASH = "0" * 64
_BLOCK_VERSION = 1


@dataclass(frozen=True)
class Branch:
    """Which chain a node follows: its genesis, and where (if anywhere) it forked off."""

    genesis: str
    fork_height: int | None = None
    salt: str = ""


class Chain:
    """The chain all nodes of one devnet follow. `clock` is monotonic seconds, `wall` unix time."""

    def __init__(
        self,
        network: str,
        block_interval: float,
        *,
        initial_height: int = 1,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if network not in GENESIS_HASHES:
            raise DevnetError(f"unknown network: {network}")
        if initial_height < 1:
            raise DevnetError("initial_height must be at least 1 (genesis is height 1)")
        self.network = network
        self.genesis = GENESIS_HASHES[network]
        self.block_interval = block_interval
        self.initial_height = initial_height
        self._clock = clock
        self._t0 = clock()
        self._wall0 = wall()
        self._mined = 0
        self._hashes: dict[Branch, list[str]] = {}
        self._txs: dict[int, list[str]] = {}

    @property
    def main(self) -> Branch:
        return Branch(self.genesis)

    def height(self) -> int:
        """The network's tip height now."""
        grown = 0
        if self.block_interval > 0:
            grown = math.floor((self._clock() - self._t0) / self.block_interval)
        return self.initial_height + self._mined + max(0, grown)

    def mine(self, blocks: int = 1) -> int:
        """Add blocks now, without waiting for the interval (for tests); returns the new tip."""
        if blocks < 0:
            raise DevnetError("cannot mine a negative number of blocks")
        self._mined += blocks
        return self.height()

    def seconds_to_next_block(self) -> float | None:
        if self.block_interval <= 0:
            return None
        elapsed = self._clock() - self._t0
        return self.block_interval - (elapsed % self.block_interval)

    def block_hash(self, height: int, branch: Branch | None = None) -> str:
        """The hash of the block at `height` (>= 1) on `branch` (default: this chain)."""
        if height < 1:
            raise DevnetError("no block below height 1")
        branch = branch or self.main
        hashes = self._hashes.setdefault(branch, [])
        if not hashes:
            hashes.append(branch.genesis)
        while len(hashes) < height:
            next_height = len(hashes) + 1
            hashes.append(_hash(branch, next_height, hashes[-1]))
        return hashes[height - 1]

    def timestamp(self, height: int) -> int:
        """Unix time of the block at `height`: spaced by the interval, ending near now."""
        spacing = self.block_interval if self.block_interval > 0 else 1.0
        return int(self._wall0 + (height - self.initial_height) * spacing)

    def add_transaction(self, txid: str) -> int:
        """Queue a transaction for the next block; returns the height it will be mined at."""
        height = self.height() + 1
        self._txs.setdefault(height, []).append(txid)
        return height

    def transactions(self, height: int) -> list[str]:
        return list(self._txs.get(height, ()))

    def block(self, height: int, branch: Branch | None = None) -> dict[str, Any]:
        """The `getblock` result for a height known to exist on `branch`."""
        block_hash = self.block_hash(height, branch)
        previous = self.block_hash(height - 1, branch) if height > 1 else NULL_HASH
        coinbase = hashlib.sha256(f"coinbase:{block_hash}".encode()).hexdigest()
        txids = [coinbase, *self.transactions(height)]
        merkle = hashlib.sha256("".join(txids).encode()).hexdigest()
        return {
            "hash": block_hash,
            "height": height,
            "version": _BLOCK_VERSION,
            "timestamp": self.timestamp(height),
            "nonce": int(block_hash[:8], 16),
            "previousblockhash": previous,
            "merkleroot": merkle,
            "tx": txids,
            "size": 80 + 250 * len(txids),
        }


def _hash(branch: Branch, height: int, previous: str) -> str:
    data = bytes.fromhex(branch.genesis) + height.to_bytes(8, "big") + bytes.fromhex(previous)
    if branch.fork_height is not None and height >= branch.fork_height:
        data += b"fork:" + branch.salt.encode()
    return hashlib.sha256(data).hexdigest()
