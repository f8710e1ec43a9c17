"""The ``health`` step: one look at the targets' ``/health`` (and ``/metrics``), or a monitor
window of looks spread over durable timers.

``with: {window: 60m, interval: 1m, conditions: {...}, ready_within: 30s}``. Without a window,
one sample judges status ok, peers >= the environment's min_peers, not syncing and tips
consistent. A window also requires the tip to advance; it fails as soon as a sample breaks a
condition (a canary does not get an hour to keep failing), and judges the tip over the whole
window at its end. Validation errors are not a /health fact: where the environment's evidence
is a counter on the node's /metrics, the planner adds ``validation_metric: NAME`` and the window
also reads that counter with every look (it must not rise); every other source is judged by the
``evidence`` step that follows the window (workflows/steps/evidence.py). Between samples the step is
rescheduled; only the first and latest sample per node are kept in the run. Only GETs are
polled: the node's JSON-RPC budget is spent once per window, on the network guard.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from workflows.healthgate import (
    GateEnvironment,
    GateResult,
    HealthConditions,
    HealthSample,
    HealthSampler,
    evaluate,
)
from workflows.model import Outcome, OutcomeFailed, OutcomeReschedule, OutcomeSucceeded
from workflows.step_models import StepKind
from workflows.steps._rpcactions import seconds
from workflows.steps.base import StepContext
from workflows.steps.nodeaccess import NodeAccess, StepSetupError, guard_nodes, wait_until_up

__all__ = ["HealthExecutor", "conditions_for", "default_interval"]

_MAX_INTERVAL = 60.0
_MIN_INTERVAL = 0.05


def conditions_for(
    environment: GateEnvironment,
    window: bool,
    overrides: object = None,
    *,
    validation_metric: object = None,
) -> HealthConditions:
    """Every condition for a window; the single-look ones otherwise; ``overrides`` on top.

    A window with a ``validation_metric`` also requires no rise of that /metrics counter.
    """
    extra = dict(overrides) if isinstance(overrides, dict) else {}
    if overrides is not None and not isinstance(overrides, dict):
        raise ValueError("conditions must be a mapping of condition -> value")
    if validation_metric is not None and not isinstance(validation_metric, str):
        raise ValueError("validation_metric must be a metric name")
    if window and validation_metric:
        extra = {"no_validation_error_rise": True, "validation_metric": validation_metric,
                 **extra}
    if not window:
        extra = {"tip_advancing": False, "no_validation_error_rise": False, **extra}
    try:
        return HealthConditions.for_environment(environment, **extra)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"conditions.{where}: {first['msg']}") from None


def default_interval(window: float) -> float:
    """About six looks per window, at most a minute apart."""
    return max(_MIN_INTERVAL, min(_MAX_INTERVAL, window / 6))


def _gate_result(gate: GateResult) -> dict[str, Any]:
    return {
        "passed": gate.passed,
        "summary": gate.summary,
        "failures": gate.reasons(),
        "nodes": {v.node: {"passed": v.passed} for v in gate.nodes},
    }


class HealthExecutor:
    kind = StepKind.HEALTH

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    async def execute(self, ctx: StepContext) -> Outcome:
        try:
            access = NodeAccess.of(ctx)
            env = access.environment(ctx)
            nodes = access.targets(ctx)
            window = seconds(ctx.args.get("window"), 0.0)
            interval = seconds(ctx.args.get("interval"), default_interval(window))
            if interval <= 0:
                raise ValueError("interval must be more than zero")
            conditions = conditions_for(env, window > 0, ctx.args.get("conditions"),
                                        validation_metric=ctx.args.get("validation_metric"))
            ready_within = seconds(ctx.args.get("ready_within"), 0.0)
        except (StepSetupError, ValueError) as exc:
            return OutcomeFailed(error=str(exc))
        data = dict(ctx.state.data)
        if data.get("attempt") != ctx.attempt:  # a new attempt (a retry) opens a new window
            if ready_within > 0:  # just (re)started: let the nodes come up before the first look
                await wait_until_up(access, nodes, ready_within)
            report = await guard_nodes(access, nodes, env)
            if not report.ok:  # wrong chain, or a genesis that cannot be read: not healthy
                return OutcomeFailed(error=report.error(), result={"guard": report.as_result()})
            data = {"attempt": ctx.attempt, "start": ctx.now.isoformat(), "rounds": 0,
                    "first": {}, "last": {}}
        names = [node.name for node in nodes]
        sampler = HealthSampler(access.client, clock=self._clock)
        samples = await sampler.sample(nodes, metrics=conditions.no_validation_error_rise,
                                       metric=conditions.validation_metric)
        rounds = int(data["rounds"]) + 1
        if window <= 0:
            gate = evaluate(samples, conditions, targets=names)
            return self._judged(gate, {"rounds": 1, **_gate_result(gate)}, "one look")
        first: dict[str, Any] = dict(data["first"])
        last: dict[str, Any] = dict(data["last"])
        for sample in samples:
            dumped = sample.model_dump(mode="json")
            if sample.node not in first and sample.health is not None:
                first[sample.node] = dumped
            last[sample.node] = dumped
        pool = _pool(first, last)
        start = datetime.fromisoformat(str(data["start"]))
        until = start + timedelta(seconds=window)
        interim = conditions.model_copy(
            update={
                "tip_advancing": False,
                "no_validation_error_rise": conditions.no_validation_error_rise and rounds > 1,
            }
        )
        gate = evaluate(pool, interim, targets=names)
        base: dict[str, Any] = {"window": window, "rounds": rounds}
        if not gate.passed:
            return self._judged(gate, {**base, **_gate_result(gate)}, f"look {rounds}")
        if ctx.now >= until and rounds >= 2:
            final = evaluate(pool, conditions, targets=names)
            what = f"{rounds} looks"
            if conditions.no_validation_error_rise:  # the evidence, named on the card
                metric = conditions.validation_metric
                what += f"; validation errors (evidence: node /metrics {metric}): no rise"
                base["evidence"] = {"fact": "validation_errors", "source": "metric",
                                    "metric": metric, "checked": True,
                                    "summary": f"no rise in {metric} (node /metrics)"}
            return self._judged(final, {**base, **_gate_result(final)}, what)
        at = min(ctx.now + timedelta(seconds=interval), until)
        if at <= ctx.now:
            at = ctx.now + timedelta(seconds=interval)
        elapsed = (ctx.now - start).total_seconds()
        return OutcomeReschedule(
            at=at,
            data={**data, "rounds": rounds, "first": first, "last": last},
            progress=min(max(elapsed / window, 0.0), 1.0),
            progress_text=(
                f"look {rounds}: {len(names)} node(s) healthy so far; "
                f"window ends {until:%H:%M:%S} UTC"
            ),
            waiting_for="monitor",
        )

    async def verify(self, ctx: StepContext) -> Outcome | None:
        return await self.execute(ctx)  # looking only: always safe to do again

    @staticmethod
    def _judged(gate: GateResult, result: dict[str, Any], what: str) -> Outcome:
        if gate.passed:
            return OutcomeSucceeded(result=result, note=f"{gate.summary} ({what})")
        return OutcomeFailed(error=f"health gate failed at {what}: {gate.summary}", result=result)


def _pool(first: dict[str, Any], last: dict[str, Any]) -> list[HealthSample]:
    """The first readable and the latest sample of each node (once when they are the same)."""
    pool: list[HealthSample] = []
    for name, dumped in last.items():
        earliest = first.get(name)
        if earliest is not None and earliest != dumped:
            pool.append(HealthSample.model_validate(earliest))
        pool.append(HealthSample.model_validate(dumped))
    return pool
