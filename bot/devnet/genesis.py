"""The three ParthenonChain networks and their genesis hashes (block at height 1).

Nothing in the node's RPC names its network; the genesis hash is the only identity
(docs/node-dialect.md).
"""

from __future__ import annotations

__all__ = ["DEFAULT_RPC_PORTS", "GENESIS_HASHES", "NETWORKS", "other_network"]

GENESIS_HASHES: dict[str, str] = {
    "mainnet": "660189b8466fa2957f0a8bf9bbe6fdda5cc4eb79ae57f24161df726cee4b8544",
    "testnet": "fe739e3c1e27509a9c7d2260e39438f1ff1c44dc03a6309e68737b2cc62c3875",
    "regtest": "f85d0bad36afae82ec8b2c60a9587ab2d36581b4ea31a108b7ccfefb9776bc15",
}

NETWORKS: tuple[str, ...] = tuple(GENESIS_HASHES)

DEFAULT_RPC_PORTS: dict[str, int] = {"mainnet": 8332, "testnet": 18332, "regtest": 18443}


def other_network(network: str) -> str:
    """The network a misconfigured node of `network` most plausibly reports.

    An unknown `network.mode` silently becomes mainnet in the daemon, so a testnet or regtest node
    gone wrong looks like mainnet; a mainnet node gone wrong is shown as testnet.
    """
    return "testnet" if network == "mainnet" else "mainnet"
