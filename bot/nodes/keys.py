"""Every Redis key the node layer uses, in one place.

Node names sit in a hash tag (`{...}`) so a node's keys share a slot on Redis Cluster and one
script can touch them together.
"""

from __future__ import annotations

__all__ = ["NODE_KEY_PREFIX", "budget_key", "cooldown_key", "guard_audit_key", "refusal_key"]

NODE_KEY_PREFIX = "pcb:node:"


def budget_key(node: str) -> str:
    """Sorted set of the POSTs sent to `node` in the current window (score: Redis time, µs)."""
    return f"{NODE_KEY_PREFIX}{{{node}}}:budget"


def cooldown_key(node: str) -> str:
    """Present while `node` is known to be rate-limiting us (it answered 429)."""
    return f"{NODE_KEY_PREFIX}{{{node}}}:cooldown"


def refusal_key(node: str) -> str:
    """Hash present while the network guard refuses `node` (wrong genesis); shared by replicas."""
    return f"{NODE_KEY_PREFIX}{{{node}}}:refused"


def guard_audit_key(node: str) -> str:
    """Stream of the network guard's events for `node`: refused, released, release refused."""
    return f"{NODE_KEY_PREFIX}{{{node}}}:guard-audit"
