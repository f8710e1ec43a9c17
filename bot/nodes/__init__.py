"""The node layer: JSON-RPC client, POST budget, network guard, metrics
(docs/node-dialect.md).

What a node answers, its errors and the health gates are the workflow core's vocabulary and are
imported from where they are defined: ``workflows.nodeerrors``, ``workflows.nodereplies``,
``workflows.healthgate``."""

from bot.nodes.budget import DEFAULT_BUDGET_LIMIT, PostBudget
from bot.nodes.guard import NetworkGuard, ReleaseRefused
from bot.nodes.metrics import NodeMetrics, parse_metrics
from bot.nodes.network import GENESIS_HASHES, Network, network_of_genesis
from bot.nodes.retries import RetryPolicy
from bot.nodes.rpc import DEFAULT_CONCURRENCY, NodeClient, Timeouts

__all__ = [
    "DEFAULT_BUDGET_LIMIT",
    "DEFAULT_CONCURRENCY",
    "GENESIS_HASHES",
    "Network",
    "NetworkGuard",
    "NodeClient",
    "NodeMetrics",
    "PostBudget",
    "ReleaseRefused",
    "RetryPolicy",
    "Timeouts",
    "network_of_genesis",
    "parse_metrics",
]
