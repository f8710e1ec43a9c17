"""Which ParthenonChain network a node is on, told by its genesis hash (block at height 1).

Nothing in the node's RPC names the network and the daemon silently turns an unknown
`network.mode` into mainnet, so the genesis hash is the only identity we trust
(docs/node-dialect.md).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["GENESIS_HASHES", "Network", "network_of_genesis"]


class Network(StrEnum):
    MAINNET = "mainnet"
    TESTNET = "testnet"
    REGTEST = "regtest"


GENESIS_HASHES: dict[Network, str] = {
    Network.MAINNET: "660189b8466fa2957f0a8bf9bbe6fdda5cc4eb79ae57f24161df726cee4b8544",
    Network.TESTNET: "fe739e3c1e27509a9c7d2260e39438f1ff1c44dc03a6309e68737b2cc62c3875",
    Network.REGTEST: "f85d0bad36afae82ec8b2c60a9587ab2d36581b4ea31a108b7ccfefb9776bc15",
}

_BY_HASH = {value: network for network, value in GENESIS_HASHES.items()}


def network_of_genesis(genesis_hash: str) -> Network | None:
    """The known network whose genesis this is, or None for a chain we do not know."""
    return _BY_HASH.get(genesis_hash.lower())
