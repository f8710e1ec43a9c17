"""Health gates: a pure evaluation of `/health` (and `/metrics`) samples, and a sampler.

`evaluate(samples, conditions)` decides, for every target node and every condition, pass or fail
with a reason a human can read in Slack. It takes no clock and does no I/O, so a monitor window
can be sampled by durable timers, stored in the run, and judged at the end. The sampler polls
`GET /health` (not rate-limited) through the node port rather than JSON-RPC, which would spend
the node's POST budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from workflows.nodeerrors import NodeError
from workflows.nodereplies import NodeHealth
from workflows.ports import NodePort, NodeRef

__all__ = [
    "VALIDATION_ERRORS_METRIC",
    "Condition",
    "ConditionResult",
    "GateEnvironment",
    "GateResult",
    "HealthConditions",
    "HealthSample",
    "HealthSampler",
    "NodeVerdict",
    "evaluate",
]

VALIDATION_ERRORS_METRIC = "pantheon_validation_errors_total"
"""A validation-error counter the node daemon does NOT export (docs/node-dialect.md); the devnet's
opt-in `future` dialect does. A gate reads a counter only where `evidence.validation_errors` is
`metric` and names it; this is the name when a condition is asked for without one."""


class GateEnvironment(Protocol):
    """The environment's numbers a gate takes (the bot's EnvironmentConfig has them)."""

    @property
    def min_peers(self) -> int: ...

    @property
    def max_tip_lag(self) -> int: ...


class Condition(StrEnum):
    STATUS_OK = "status_ok"
    MIN_PEERS = "min_peers"
    NOT_SYNCING = "not_syncing"
    TIP_ADVANCING = "tip_advancing"
    TIPS_CONSISTENT = "tips_consistent"
    NO_VALIDATION_ERROR_RISE = "no_validation_error_rise"


class HealthConditions(BaseModel):
    """What a gate requires; unset conditions are not checked (status_ok is on by default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status_ok: bool = True
    min_peers: int | None = Field(default=None, ge=0)
    not_syncing: bool = False
    tip_advancing: bool = False
    min_advance: int = Field(default=1, ge=1)  # blocks the tip must gain over the window
    max_tip_lag: int | None = Field(default=None, ge=0)  # tips consistent within k blocks
    no_validation_error_rise: bool = False
    # The counter no_validation_error_rise reads on /metrics: only where the environment's
    # evidence.validation_errors is `metric` (the node daemon itself exports none).
    validation_metric: str = VALIDATION_ERRORS_METRIC

    @classmethod
    def for_environment(
        cls, environment: GateEnvironment, **overrides: object
    ) -> HealthConditions:
        """Every /health condition on, with the environment's min_peers and max_tip_lag.

        Validation errors are not a /health fact: a window gate adds them only where the
        environment's evidence is a /metrics counter (workflows/evidence_plan.py).
        """
        values: dict[str, object] = {
            "min_peers": environment.min_peers,
            "not_syncing": True,
            "tip_advancing": True,
            "max_tip_lag": environment.max_tip_lag,
        }
        values.update(overrides)
        return cls.model_validate(values)


class HealthSample(BaseModel):
    """One look at one node: its /health (or why there was none) and its validation errors."""

    model_config = ConfigDict(frozen=True)

    node: str
    at: float  # seconds since the epoch
    health: NodeHealth | None = None
    error: str | None = None
    validation_errors: float | None = None
    metrics_error: str | None = None


class ConditionResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    condition: Condition
    passed: bool
    reason: str


class NodeVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    node: str
    results: tuple[ConditionResult, ...]

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    @property
    def failures(self) -> list[ConditionResult]:
        return [result for result in self.results if not result.passed]


class GateResult(BaseModel):
    """The gate's decision, per node and per condition."""

    model_config = ConfigDict(frozen=True)

    nodes: tuple[NodeVerdict, ...]

    @property
    def passed(self) -> bool:
        return bool(self.nodes) and all(verdict.passed for verdict in self.nodes)

    def reasons(self) -> list[str]:
        """One line per failed condition: `node: reason`."""
        return [
            f"{verdict.node}: {failure.reason}"
            for verdict in self.nodes
            for failure in verdict.failures
        ]

    @property
    def summary(self) -> str:
        if not self.nodes:
            return "no target nodes"
        failed = [verdict for verdict in self.nodes if not verdict.passed]
        if not failed:
            return f"all {len(self.nodes)} nodes healthy"
        return f"{len(failed)} of {len(self.nodes)} nodes failed: " + "; ".join(self.reasons())


def evaluate(
    samples: Iterable[HealthSample],
    conditions: HealthConditions,
    *,
    targets: Sequence[str] | None = None,
) -> GateResult:
    """Judge the samples of `targets` (default: every node sampled) against `conditions`.

    Status must be ok in every sample; peers and syncing are read from the latest readable
    sample; the tip and the validation error count are compared between the first and the last
    readable sample; tip consistency compares the latest heights across all targets.
    """
    by_node: dict[str, list[HealthSample]] = {}
    for sample in samples:
        by_node.setdefault(sample.node, []).append(sample)
    names = list(targets) if targets is not None else list(by_node)
    for name in names:
        by_node.setdefault(name, []).sort(key=lambda s: s.at)
    latest = {
        name: readable[-1][1].best_height
        for name in names
        if (readable := _readable(by_node[name]))
    }
    verdicts = [
        NodeVerdict(node=name, results=tuple(_judge(by_node[name], conditions, latest, name)))
        for name in names
    ]
    return GateResult(nodes=tuple(verdicts))


_Readable = list[tuple[HealthSample, NodeHealth]]


def _readable(samples: list[HealthSample]) -> _Readable:
    """The samples that carry a /health reply, paired with it (typed, no None)."""
    return [(s, s.health) for s in samples if s.health is not None]


def _judge(
    samples: list[HealthSample],
    conditions: HealthConditions,
    latest: dict[str, int],
    name: str,
) -> Iterable[ConditionResult]:
    readable = _readable(samples)
    if conditions.status_ok:
        yield _status(samples)
    checks: list[tuple[Condition, Callable[[], tuple[bool, str]]]] = []
    if conditions.min_peers is not None:
        need = conditions.min_peers
        checks.append((Condition.MIN_PEERS, lambda: _peers(readable, need)))
    if conditions.not_syncing:
        checks.append((Condition.NOT_SYNCING, lambda: _syncing(readable)))
    if conditions.tip_advancing:
        advance = conditions.min_advance
        checks.append((Condition.TIP_ADVANCING, lambda: _advancing(readable, advance)))
    if conditions.max_tip_lag is not None:
        lag = conditions.max_tip_lag
        checks.append((Condition.TIPS_CONSISTENT, lambda: _consistent(name, latest, lag)))
    if conditions.no_validation_error_rise:
        metric = conditions.validation_metric
        checks.append((Condition.NO_VALIDATION_ERROR_RISE, lambda: _validation(readable, metric)))
    for condition, check in checks:
        if not readable:
            yield ConditionResult(
                condition=condition, passed=False, reason=f"{condition}: no readable /health sample"
            )
            continue
        passed, reason = check()
        yield ConditionResult(condition=condition, passed=passed, reason=reason)


def _status(samples: list[HealthSample]) -> ConditionResult:
    total = len(samples)
    if not total:
        return ConditionResult(condition=Condition.STATUS_OK, passed=False, reason="not sampled")
    unreachable = [s for s in samples if s.health is None]
    bad = [health for _, health in _readable(samples) if not health.ok]
    if unreachable:
        last = unreachable[-1].error or "no answer"
        reason = f"unreachable in {len(unreachable)} of {total} samples (last: {last})"
        return ConditionResult(condition=Condition.STATUS_OK, passed=False, reason=reason)
    if bad:
        status = bad[-1].status
        reason = f"status {status!r} in {len(bad)} of {total} samples"
        return ConditionResult(condition=Condition.STATUS_OK, passed=False, reason=reason)
    plural = "s" if total > 1 else ""
    return ConditionResult(
        condition=Condition.STATUS_OK, passed=True, reason=f"status ok in {total} sample{plural}"
    )


def _peers(readable: _Readable, need: int) -> tuple[bool, str]:
    peers = readable[-1][1].peer_count
    if peers >= need:
        return True, f"{peers} peers (at least {need})"
    return False, f"{peers} peers, fewer than the {need} required"


def _syncing(readable: _Readable) -> tuple[bool, str]:
    health = readable[-1][1]
    if not health.syncing:
        return True, "not syncing"
    reason = "still syncing"
    if health.sync_progress is not None:
        reason += f" ({health.sync_progress:g}%)"
    if health.peer_count == 0:
        reason += "; it has no peers, and the node reports syncing for as long as it has none"
    return False, reason


def _advancing(readable: _Readable, advance: int) -> tuple[bool, str]:
    if len(readable) < 2:
        return False, (
            f"tip advancing needs at least 2 readable samples over a window, got {len(readable)}"
        )
    (first, first_health), (last, last_health) = readable[0], readable[-1]
    start, end = first_health.best_height, last_health.best_height
    span = f"over {last.at - first.at:.0f} s ({len(readable)} samples)"
    if end < start:
        return False, f"tip went back from {start} to {end} {span}"
    if end - start < advance:
        if end == start:
            return False, f"tip stuck at {end} {span}"
        return False, f"tip gained {end - start} block(s) {span}, fewer than {advance}"
    return True, f"tip advanced {start} -> {end} {span}"


def _consistent(name: str, latest: dict[str, int], lag: int) -> tuple[bool, str]:
    own = latest[name]
    leader = max(latest, key=lambda n: (latest[n], n))
    behind = latest[leader] - own
    if behind <= lag:
        return True, f"tip {own} within {lag} block(s) of the highest ({latest[leader]})"
    return False, (
        f"tip {own} is {behind} blocks behind the highest ({latest[leader]} at {leader}); "
        f"at most {lag} allowed"
    )


def _validation(readable: _Readable, metric: str) -> tuple[bool, str]:
    counted = [s for s, _ in readable if s.validation_errors is not None]
    if len(counted) < 2:
        missing = next((s.metrics_error for s, _ in reversed(readable) if s.metrics_error), None)
        detail = f" ({missing})" if missing else f" (no {metric} in /metrics)"
        return False, (
            f"validation errors need 2 readable /metrics samples of {metric} over a window, got "
            f"{len(counted)}{detail}"
        )
    start = counted[0].validation_errors or 0.0
    end = counted[-1].validation_errors or 0.0
    rise = end - start if end >= start else end  # a drop means a restart reset the counter
    if rise > 0:
        return False, f"validation errors rose by {rise:g} ({start:g} -> {end:g})"
    return True, f"no new validation errors ({end:g})"


class HealthSampler:
    """Takes samples with the node client: `/health` always, `/metrics` when asked."""

    def __init__(self, client: NodePort, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._clock = clock

    async def sample(
        self,
        nodes: Iterable[NodeRef],
        *,
        metrics: bool = False,
        metric: str = VALIDATION_ERRORS_METRIC,
    ) -> list[HealthSample]:
        """One sample of each node, all at once (bounded by the client's concurrency);
        with `metrics`, the counter `metric` is read from /metrics too."""

        async def one(node: NodeRef) -> HealthSample:
            return await self._one(node, metrics, metric)

        results = await self._client.gather(nodes, one)
        return [result.value for result in results if result.value is not None]

    async def window(
        self,
        nodes: Sequence[NodeRef],
        *,
        duration: float,
        interval: float,
        metrics: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> list[HealthSample]:
        """Rounds of samples every `interval` s for `duration` s (first and last included)."""
        rounds = max(2, int(duration // interval) + 1)
        samples: list[HealthSample] = []
        for i in range(rounds):
            if i:
                await sleep(interval)
            samples.extend(await self.sample(nodes, metrics=metrics))
        return samples

    async def _one(self, node: NodeRef, metrics: bool, metric: str) -> HealthSample:
        at = self._clock()
        health: NodeHealth | None = None
        error: str | None = None
        errors: float | None = None
        metrics_error: str | None = None
        try:
            health = await self._client.health(node, retry=False)
        except NodeError as exc:
            error = f"{exc.code}: {exc.message}"
        if metrics and health is not None:
            try:
                page = await self._client.metrics(node, retry=False)
                errors = page.total(metric)
                if errors is None:
                    metrics_error = f"no {metric} in /metrics"
            except NodeError as exc:
                metrics_error = f"/metrics: {exc.code}: {exc.message}"
        return HealthSample(
            node=node.name,
            at=at,
            health=health,
            error=error,
            validation_errors=errors,
            metrics_error=metrics_error,
        )
