"""The three networks' devnets a workflow test runs on: regtest (no canary), testnet and mainnet
(one canary each), blocks every 0.1 s, started together and stopped together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.devnet import Devnet

__all__ = ["three_devnets"]


@asynccontextmanager
async def three_devnets(
    regtest: int, testnet: int, mainnet: int
) -> AsyncIterator[dict[str, Devnet]]:
    """``{network: Devnet}`` with that many nodes each, in the daemon's default dialect."""
    nets = {
        "regtest": Devnet("regtest", nodes=regtest, block_interval=0.1, canaries=0),
        "testnet": Devnet("testnet", nodes=testnet, block_interval=0.1, canaries=1),
        "mainnet": Devnet("mainnet", nodes=mainnet, block_interval=0.1, canaries=1),
    }
    for net in nets.values():
        await net.start()
    try:
        yield nets
    finally:
        for net in nets.values():
            await net.stop()
