"""The node layer: JSON-RPC client, POST budget, network guard, health gates
(docs/node-dialect.md)."""

from bot.nodes.budget import DEFAULT_BUDGET_LIMIT, PostBudget
from bot.nodes.errors import (
    BudgetUnavailable,
    NetworkMismatch,
    NodeAuthError,
    NodeError,
    NodeMethodError,
    NodeProtocolError,
    NodeRateLimited,
    NodeServerError,
    NodeTimeout,
    NodeTransientError,
    NodeUnreachable,
)
from bot.nodes.guard import NetworkGuard, ReleaseRefused
from bot.nodes.health import (
    Condition,
    GateResult,
    HealthConditions,
    HealthSample,
    HealthSampler,
    evaluate,
)
from bot.nodes.metrics import NodeMetrics, parse_metrics
from bot.nodes.network import GENESIS_HASHES, Network, network_of_genesis
from bot.nodes.replies import NodeHealth, StopOutcome, StopResult, Tip
from bot.nodes.retries import RetryPolicy
from bot.nodes.rpc import (
    DEFAULT_CONCURRENCY,
    READ_METHODS,
    NodeClient,
    NodeResult,
    Timeouts,
)

__all__ = [
    "DEFAULT_BUDGET_LIMIT",
    "DEFAULT_CONCURRENCY",
    "GENESIS_HASHES",
    "READ_METHODS",
    "BudgetUnavailable",
    "Condition",
    "GateResult",
    "HealthConditions",
    "HealthSample",
    "HealthSampler",
    "Network",
    "NetworkGuard",
    "NetworkMismatch",
    "NodeAuthError",
    "NodeClient",
    "NodeError",
    "NodeHealth",
    "NodeMethodError",
    "NodeMetrics",
    "NodeProtocolError",
    "NodeRateLimited",
    "NodeResult",
    "NodeServerError",
    "NodeTimeout",
    "NodeTransientError",
    "NodeUnreachable",
    "PostBudget",
    "ReleaseRefused",
    "RetryPolicy",
    "StopOutcome",
    "StopResult",
    "Timeouts",
    "Tip",
    "evaluate",
    "network_of_genesis",
    "parse_metrics",
]
