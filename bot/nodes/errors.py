"""Errors of the node layer (the tree is drawn in workflows/nodeerrors.py, where they are
defined: the steps catch them, and the workflow layer imports nothing from the bot)."""

from workflows.nodeerrors import (
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

__all__ = [
    "BudgetUnavailable",
    "NetworkMismatch",
    "NodeAuthError",
    "NodeError",
    "NodeMethodError",
    "NodeProtocolError",
    "NodeRateLimited",
    "NodeServerError",
    "NodeTimeout",
    "NodeTransientError",
    "NodeUnreachable",
]
