"""Simulated ParthenonChain nodes that speak the real daemon's RPC dialect, quirks included.

See docs/node-dialect.md for the dialect and docs/devnet.md for the knobs.
"""

from bot.devnet.chain import Branch, Chain
from bot.devnet.deploy import DeployReceiver, DeployRequest, sign_deploy_body
from bot.devnet.endpoints import RequestRecord
from bot.devnet.errors import DevnetError, UnknownNodeError
from bot.devnet.faults import NodeFaults
from bot.devnet.genesis import DEFAULT_RPC_PORTS, GENESIS_HASHES, NETWORKS, other_network
from bot.devnet.network import DEFAULT_DEPLOY_SECRET, Devnet, default_roles
from bot.devnet.node import DevnetNode

__all__ = [
    "DEFAULT_DEPLOY_SECRET",
    "DEFAULT_RPC_PORTS",
    "GENESIS_HASHES",
    "NETWORKS",
    "Branch",
    "Chain",
    "DeployReceiver",
    "DeployRequest",
    "Devnet",
    "DevnetError",
    "DevnetNode",
    "NodeFaults",
    "RequestRecord",
    "UnknownNodeError",
    "default_roles",
    "other_network",
    "sign_deploy_body",
]
