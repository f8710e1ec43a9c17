"""Health gates: the sampler that takes `/health` (and `/metrics`) samples with the node client;
the pure evaluation of them is workflows/healthgate.py (re-exported here). The sampler polls
`GET /health` (not rate-limited) rather than JSON-RPC, which would spend the node's POST budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from bot.nodes.errors import NodeError
from bot.nodes.metrics import VALIDATION_ERRORS_METRIC
from bot.nodes.replies import NodeHealth
from workflows.healthgate import (
    Condition,
    ConditionResult,
    GateResult,
    HealthConditions,
    HealthSample,
    NodeVerdict,
    evaluate,
)

if TYPE_CHECKING:
    from bot.config import NodeConfig
    from bot.nodes.rpc import NodeClient

__all__ = [
    "Condition",
    "ConditionResult",
    "GateResult",
    "HealthConditions",
    "HealthSample",
    "HealthSampler",
    "NodeVerdict",
    "evaluate",
]


class HealthSampler:
    """Takes samples with the node client: `/health` always, `/metrics` when asked."""

    def __init__(self, client: NodeClient, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._clock = clock

    async def sample(
        self,
        nodes: Iterable[NodeConfig],
        *,
        metrics: bool = False,
        metric: str = VALIDATION_ERRORS_METRIC,
    ) -> list[HealthSample]:
        """One sample of each node, all at once (bounded by the client's concurrency);
        with `metrics`, the counter `metric` is read from /metrics too."""

        async def one(node: NodeConfig) -> HealthSample:
            return await self._one(node, metrics, metric)

        results = await self._client.gather(nodes, one)
        return [result.value for result in results if result.value is not None]

    async def window(
        self,
        nodes: Sequence[NodeConfig],
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

    async def _one(self, node: NodeConfig, metrics: bool, metric: str) -> HealthSample:
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
