"""The node's /metrics text, faithfully broken: its `# TYPE` lines carry labels.

Exactly the daemon's five families (docs/node-dialect.md): best block height, peer count, syncing,
RPC requests by method and status, and the RPC duration histogram. The `future` dialect adds
`pantheon_validation_errors_total`, which the daemon does not have. A `# TYPE` line carries its
family's label names with empty values (`{}` for a gauge): nothing names the network, whose only
identity is the genesis hash.

Strict Prometheus parsers (prometheus_client's included) reject this text; the bot must parse it
line by line. Counters and the histogram are in memory and lost on restart, like the daemon's.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DURATION_BUCKETS", "MetricsSnapshot", "NodeMetrics"]

DURATION_BUCKETS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)


@dataclass(frozen=True)
class MetricsSnapshot:
    """The gauges a /metrics render needs, read from the node at request time."""

    best_height: int
    peer_count: int
    syncing: bool
    validation_errors: int | None  # None: not exported (the daemon's dialect)


class NodeMetrics:
    """RPC request counters and a duration histogram since the node (re)started."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = {}
        self._bucket_counts = [0] * len(DURATION_BUCKETS)
        self._duration_sum = 0.0
        self._duration_count = 0

    def observe(self, method: str, status: str, seconds: float) -> None:
        key = (method, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        for index, bound in enumerate(DURATION_BUCKETS):
            if seconds <= bound:
                self._bucket_counts[index] += 1
        self._duration_sum += seconds
        self._duration_count += 1

    def render(self, snapshot: MetricsSnapshot) -> str:
        lines = [
            "# HELP pantheon_best_block_height Height of the best block",
            "# TYPE pantheon_best_block_height{} gauge",
            f"pantheon_best_block_height {snapshot.best_height}",
            "# HELP pantheon_peer_count Connected peers",
            "# TYPE pantheon_peer_count{} gauge",
            f"pantheon_peer_count {snapshot.peer_count}",
            "# HELP pantheon_syncing Whether the node is syncing",
            "# TYPE pantheon_syncing{} gauge",
            f"pantheon_syncing {int(snapshot.syncing)}",
        ]
        if snapshot.validation_errors is not None:  # the `future` dialect only
            lines += [
                "# HELP pantheon_validation_errors_total Blocks or transactions that failed "
                "validation",
                "# TYPE pantheon_validation_errors_total{} counter",
                f"pantheon_validation_errors_total {snapshot.validation_errors}",
            ]
        lines += [
            "# HELP pantheon_rpc_requests_total RPC requests by method and status",
            '# TYPE pantheon_rpc_requests_total{method="",status=""} counter',
        ]
        for (method, status), count in sorted(self.requests.items()):
            lines.append(
                f'pantheon_rpc_requests_total{{method="{method}",status="{status}"}} {count}'
            )
        lines += [
            "# HELP pantheon_rpc_request_duration_seconds RPC request duration",
            '# TYPE pantheon_rpc_request_duration_seconds{le=""} histogram',
        ]
        for bound, count in zip(DURATION_BUCKETS, self._bucket_counts, strict=True):
            lines.append(f'pantheon_rpc_request_duration_seconds_bucket{{le="{bound}"}} {count}')
        lines += [
            f'pantheon_rpc_request_duration_seconds_bucket{{le="+Inf"}} {self._duration_count}',
            f"pantheon_rpc_request_duration_seconds_sum {self._duration_sum:.6f}",
            f"pantheon_rpc_request_duration_seconds_count {self._duration_count}",
        ]
        return "\n".join(lines) + "\n"
