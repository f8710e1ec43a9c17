"""Prometheus metrics of one bot process, in a registry this module builds (never the global one).

Two sources:

- maintained here as things happen: step executions (`instrument` wraps the executors), node
  RPC latency and errors (`observe_rpc`, the node client's observer), Slack Web API errors and
  retries (`slack_api_error`, `slack_api_retry`, called by the Slack notifier);
- read at scrape time: the engine's own counters (`EngineStats`: lease takeovers, in doubt...)
  and, from Redis, the active runs by workflow and state, the approvals waiting and their age,
  and how many runs are overdue for a worker. The Redis read is one ZRANGE plus pipelined HGETs
  of the active runs, cached for a few seconds so several scrapers cost one read (about 0.1 ms
  of CPU per active run: 100 ms for 1,000 active runs, parsed in chunks so the event loop keeps
  answering Slack in between).

The Redis-derived gauges describe the whole deployment, so every replica reports the same
values: aggregate them with `max`, not `sum`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from workflows.model import Outcome, RunStatus
from workflows.steps.base import StepContext, StepExecutor

if TYPE_CHECKING:
    from bot.slack.notifier import Notifier
    from workflows.engine import Engine
    from workflows.store import RunStore

__all__ = ["BotMetrics", "RunsSnapshot", "TimedExecutor"]

log = logging.getLogger(__name__)

_STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
_RPC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_MAX_RUNS_READ = 10_000
_CHUNK = 200  # runs parsed between yields to the event loop (about 20 ms of CPU)


@dataclass(frozen=True)
class RunsSnapshot:
    """What Redis said about the active runs at one moment."""

    at: float
    runs: dict[tuple[str, str], int] = field(default_factory=dict)  # (workflow, status) -> n
    approvals: dict[str, int] = field(default_factory=dict)  # workflow -> waiting approvals
    approval_age: dict[str, float] = field(default_factory=dict)  # workflow -> oldest, seconds
    confirmations: dict[str, int] = field(default_factory=dict)  # workflow -> waiting
    due: int = 0  # runs whose wake time has passed (work waiting for a worker)
    truncated: bool = False


class BotMetrics:
    """Every metric of the process; `exposition()` renders them for `/metrics`."""

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None = None,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._store: RunStore | None = None
        self._snapshot: RunsSnapshot | None = None
        self._redis_ok = False
        self._refresh_lock = asyncio.Lock()
        self.step_seconds = Histogram(
            "parthenon_step_duration_seconds",
            "Time an executor spent on one step attempt (not the time a person or timer took).",
            ["workflow", "kind", "outcome"],
            buckets=_STEP_BUCKETS,
            registry=self.registry,
        )
        self.node_rpc_seconds = Histogram(
            "parthenon_node_rpc_duration_seconds",
            "One HTTP exchange with a node (JSON-RPC POST or GET /health, /metrics).",
            ["node", "method"],
            buckets=_RPC_BUCKETS,
            registry=self.registry,
        )
        self.node_rpc_errors = Counter(
            "parthenon_node_rpc_errors",
            "Failed exchanges with a node, by the node error's code.",
            ["node", "kind"],
            registry=self.registry,
        )
        self.slack_api_errors = Counter(
            "parthenon_slack_api_errors",
            "Slack Web API calls that failed, by method and Slack's error code.",
            ["method", "error"],
            registry=self.registry,
        )
        self.slack_api_retries = Counter(
            "parthenon_slack_api_retries",
            "Slack Web API calls sent again, by method and reason (rate_limited, server_error).",
            ["method", "reason"],
            registry=self.registry,
        )
        self.refresh_errors = Counter(
            "parthenon_metrics_redis_errors",
            "Scrapes whose Redis read failed (the Redis-derived gauges are then stale).",
            registry=self.registry,
        )
        self.registry.register(_RunsCollector(self))

    # --- hooks other modules call ------------------------------------------------------------

    def observe_rpc(self, node: str, method: str, seconds: float, error: str | None) -> None:
        """The node client's observer: one exchange took ``seconds``; ``error`` is its code."""
        self.node_rpc_seconds.labels(node, method).observe(seconds)
        if error is not None:
            self.node_rpc_errors.labels(node, error).inc()

    def slack_api_error(self, method: str, error: str) -> None:
        """A Slack Web API call failed for good (``error``: Slack's code: channel_not_found...)."""
        self.slack_api_errors.labels(method, error).inc()

    def slack_api_retry(self, method: str, reason: str) -> None:
        """A Slack Web API call is being sent again (``reason``: rate_limited, server_error...)."""
        self.slack_api_retries.labels(method, reason).inc()

    def instrument(self, executors: Iterable[StepExecutor]) -> list[StepExecutor]:
        """The executors, each timed into `parthenon_step_duration_seconds`."""
        return [TimedExecutor(executor, self.step_seconds) for executor in executors]

    def watch_engine(self, engine: Engine) -> None:
        """Expose the engine's counters (lease takeovers, steps in doubt, ...) at scrape time."""
        self.registry.register(_StatsCollector(engine, "parthenon_engine", _ENGINE_COUNTERS))

    def watch_notifier(self, notifier: Notifier) -> None:
        """Expose the Slack notifier's counters (cards posted, 429s, 5xx, failures) at scrape
        time, beside the per-method counts of `slack_api_error` / `slack_api_retry`."""
        self.registry.register(_StatsCollector(notifier, "parthenon_slack_notifier", _NOTIFIER))

    def watch_store(self, store: RunStore) -> None:
        """Read the run gauges from this store's Redis on `refresh`."""
        self._store = store

    # --- scrape ------------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Re-read the Redis-derived gauges unless a read younger than the cache is at hand."""
        if self._store is None:
            return
        async with self._refresh_lock:
            now = self._clock()
            if self._snapshot is not None and now - self._snapshot.at < self._cache_seconds:
                return
            try:
                self._snapshot = await read_runs(self._store, now)
                self._redis_ok = True
            except RedisError as exc:
                self._redis_ok = False
                self.refresh_errors.inc()
                log.warning("metrics: could not read runs from redis: %s", type(exc).__name__)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    @property
    def snapshot(self) -> RunsSnapshot | None:
        return self._snapshot

    @property
    def redis_ok(self) -> bool:
        return self._redis_ok

    @property
    def watching_store(self) -> bool:
        return self._store is not None


async def read_runs(store: RunStore, now: float) -> RunsSnapshot:
    """Count the active runs by workflow and state, and the people they wait for."""
    ids = await store.active_ids(limit=_MAX_RUNS_READ)
    runs: Tally[tuple[str, str]] = Tally()
    approvals: Tally[str] = Tally()
    confirmations: Tally[str] = Tally()
    oldest: dict[str, float] = {}
    for start in range(0, len(ids), _CHUNK):
        if start:
            await asyncio.sleep(0)  # parsing is CPU: let Slack's requests in between chunks
        for run in await store.load_many(ids[start : start + _CHUNK]):
            runs[(run.workflow, run.status.value)] += 1
            current = run.current
            if current is None or run.status is not RunStatus.WAITING:
                continue
            _, state = current
            if state.waiting_for == "approval" and state.approval is not None:
                approvals[run.workflow] += 1
                age = max(0.0, now - state.approval.requested_at.timestamp())
                oldest[run.workflow] = max(oldest.get(run.workflow, 0.0), age)
            elif state.waiting_for == "confirmation":
                confirmations[run.workflow] += 1
    due = await store.due_count(store.now())
    return RunsSnapshot(
        at=now,
        runs=dict(runs),
        approvals=dict(approvals),
        approval_age=oldest,
        confirmations=dict(confirmations),
        due=due,
        truncated=len(ids) >= _MAX_RUNS_READ,
    )


class _RunsCollector(Collector):
    """Yields the last snapshot (taken by `BotMetrics.refresh`) as gauges."""

    def __init__(self, metrics: BotMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        if not self._metrics.watching_store:
            return
        up = GaugeMetricFamily(
            "parthenon_redis_up", "Whether the last Redis read for /metrics succeeded."
        )
        up.add_metric([], 1.0 if self._metrics.redis_ok else 0.0)
        yield up
        snap = self._metrics.snapshot
        if snap is None:
            return
        runs = GaugeMetricFamily(
            "parthenon_runs", "Active runs by workflow and state.", labels=["workflow", "state"]
        )
        for (workflow, state), count in sorted(snap.runs.items()):
            runs.add_metric([workflow, state], count)
        yield runs
        yield _by_workflow(
            "parthenon_approvals_waiting", "Runs waiting for an approval.", snap.approvals
        )
        yield _by_workflow(
            "parthenon_approval_oldest_age_seconds",
            "How long the oldest waiting approval of each workflow has been waiting.",
            snap.approval_age,
        )
        yield _by_workflow(
            "parthenon_confirmations_waiting",
            "Runs waiting for a person to confirm a manual step.",
            snap.confirmations,
        )
        due = GaugeMetricFamily(
            "parthenon_runs_due", "Runs whose next step is due now (waiting for a worker)."
        )
        due.add_metric([], snap.due)
        yield due


def _by_workflow(
    name: str, documentation: str, values: dict[str, float] | dict[str, int]
) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=["workflow"])
    for workflow, value in sorted(values.items()):
        family.add_metric([workflow], value)
    return family


_ENGINE_COUNTERS: Sequence[tuple[str, str, str]] = (
    ("takeovers", "lease_takeovers", "Runs resumed after another worker's lease ran out mid-step."),
    ("steps_executed", "steps_executed", "Step attempts executed."),
    ("steps_failed", "steps_failed", "Step attempts that failed."),
    ("in_doubt", "steps_in_doubt",
     "Write steps found begun but unfinished that could not be verified (a human decides)."),
    ("conflicts", "commit_conflicts", "Commits refused by a version check."),
    ("lease_lost", "leases_lost", "Leases lost while a run was in hand."),
    ("claims", "claims", "Runs claimed by this process."),
)

_NOTIFIER: Sequence[tuple[str, str, str]] = (
    ("cards_posted", "cards_posted", "Run cards posted to Slack."),
    ("cards_updated", "cards_updated", "Run cards updated in place."),
    ("thread_posts", "thread_posts", "Messages posted in run threads."),
    ("rate_limited", "rate_limited", "Slack calls answered 429 (the update is retried later)."),
    ("unavailable", "unavailable", "Slack calls that met a 5xx or no connection (retried later)."),
    ("failed", "failed", "Slack calls refused with an error (not retried)."),
    ("coalesced", "coalesced", "Card updates folded into a later one."),
    ("adopted", "adopted", "Messages found in Slack after a lost answer or crash, not re-posted."),
)


class _StatsCollector(Collector):
    """Counters read from an object's `stats` dataclass at scrape time."""

    def __init__(self, owner: Any, prefix: str, fields: Sequence[tuple[str, str, str]]) -> None:
        self._owner = owner
        self._prefix = prefix
        self._fields = fields

    def collect(self) -> Iterator[Metric]:
        stats = self._owner.stats
        for attribute, name, documentation in self._fields:
            family = CounterMetricFamily(f"{self._prefix}_{name}", documentation)
            family.add_metric([], getattr(stats, attribute, 0))
            yield family


class TimedExecutor:
    """An executor as it was, with each attempt's duration and outcome observed."""

    def __init__(self, inner: StepExecutor, histogram: Histogram) -> None:
        self.inner = inner
        self.kind = inner.kind
        self._histogram = histogram

    async def execute(self, ctx: StepContext) -> Outcome:
        started = time.perf_counter()
        result = "error"
        try:
            outcome = await self.inner.execute(ctx)
            result = outcome.kind
            return outcome
        except asyncio.CancelledError:
            result = "cancelled"  # a step timeout, or the engine stopping
            raise
        finally:
            self._histogram.labels(ctx.run.workflow, self.kind.value, result).observe(
                time.perf_counter() - started
            )

    async def verify(self, ctx: StepContext) -> Outcome | None:
        return await self.inner.verify(ctx)
