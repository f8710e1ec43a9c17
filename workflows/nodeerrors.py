"""Errors of a node call: every failure of one becomes exactly one of these. The bot's node
client (bot/nodes/) raises them and the steps catch them, so they are defined here, with the
workflow layer that names what it needs from the nodes.

```
NodeError                         code
├── NodeTransientError            (worth retrying, subject to the method being safe to repeat)
│   ├── NodeUnreachable           node_unreachable    refused, reset, disconnected
│   ├── NodeTimeout               node_timeout        no (complete) answer in time
│   ├── NodeServerError           node_server_error   HTTP 5xx
│   └── NodeRateLimited           node_rate_limited   HTTP 429, or our own POST budget is spent
├── NodeAuthError                 node_auth           HTTP 401: wrong or missing credentials
├── NodeMethodError               node_method         JSON-RPC error -1 (the node's own message)
├── NodeProtocolError             node_protocol       -32700, non-JSON, too large, wrong shape
├── NetworkMismatch               network_mismatch    the node's genesis is not its environment's
└── BudgetUnavailable             budget_unavailable  the shared POST budget (Redis) is unreachable
```

Every error names its node and never carries a credential: messages are built from the node's
name, the method and what the node answered, nothing else. `sent` tells whether the request may
have reached the node (False only when we know it did not), which is what decides whether a
call with side effects may be repeated.
"""

from __future__ import annotations

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


class NodeError(Exception):
    """A node call failed; `code` is stable, `node` is the node's configured name."""

    code = "node_error"

    def __init__(
        self, node: str, message: str, *, method: str | None = None, sent: bool = True
    ) -> None:
        self.node = node
        self.method = method
        self.sent = sent
        self.message = message
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f"node {self.node}"
        if self.method:
            where += f" ({self.method})"
        return f"{where}: {self.message}"


class NodeTransientError(NodeError):
    """A failure that may clear by itself; retried for idempotent calls."""

    code = "node_transient"


class NodeUnreachable(NodeTransientError):
    """No HTTP answer: connection refused, reset or closed before the reply."""

    code = "node_unreachable"


class NodeTimeout(NodeTransientError):
    """The node did not answer completely within the call's timeout."""

    code = "node_timeout"


class NodeServerError(NodeTransientError):
    """The node (or a proxy in front of it) answered HTTP 5xx."""

    code = "node_server_error"

    def __init__(self, node: str, status: int, *, method: str | None = None) -> None:
        self.status = status
        super().__init__(node, f"HTTP {status} from the node", method=method)


class NodeRateLimited(NodeTransientError):
    """HTTP 429 from the node, or (local=True) our POST budget is spent and nothing was sent.

    `retry_after` is how long, in seconds, until a request would be allowed again (our best
    estimate: the node sends no Retry-After).
    """

    code = "node_rate_limited"

    def __init__(
        self,
        node: str,
        message: str,
        *,
        retry_after: float,
        local: bool,
        method: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.local = local
        super().__init__(node, message, method=method, sent=not local)


class NodeAuthError(NodeError):
    """HTTP 401: the node refused our credentials (or we had none); never retried."""

    code = "node_auth"


class NodeMethodError(NodeError):
    """A method-level error (JSON-RPC code -1, or another code): `node_message` is the node's."""

    code = "node_method"

    def __init__(
        self, node: str, node_message: str, *, rpc_code: int = -1, method: str | None = None
    ) -> None:
        self.node_message = node_message
        self.rpc_code = rpc_code
        super().__init__(node, f"error {rpc_code}: {node_message}", method=method)


class NodeProtocolError(NodeError):
    """The reply is not what the node's RPC dialect allows; `reason` says which way.

    Reasons: parse_error (-32700), not_json, too_large, wrong_shape, id_mismatch,
    wrong_result_type, unexpected_status.
    """

    code = "node_protocol"

    def __init__(self, node: str, reason: str, message: str, *, method: str | None = None) -> None:
        self.reason = reason
        super().__init__(node, message, method=method)


class NetworkMismatch(NodeError):
    """The node's genesis hash is not the one pinned for its environment; nothing is sent."""

    code = "network_mismatch"

    def __init__(self, node: str, message: str, *, reported: str, expected: str) -> None:
        self.reported = reported
        self.expected = expected
        super().__init__(node, message, method="getblock")


class BudgetUnavailable(NodeError):
    """The shared POST budget could not be consulted, so nothing was sent (fail closed)."""

    code = "budget_unavailable"

    def __init__(self, node: str, message: str) -> None:
        super().__init__(node, message, sent=False)
