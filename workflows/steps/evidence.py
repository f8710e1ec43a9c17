"""The ``evidence`` step: "no rise in validation errors over the window", from the source the
environment names (``evidence.validation_errors`` in the config; see ``bot/evidence.py``).

The node daemon does not export validation errors (``docs/node-dialect.md``): they reach only its
log. So the planner fixes, per environment, where this step gets them
(``workflows/evidence_plan.py``):

- ``prometheus``: an instant PromQL query against the top-level ``prometheus_url``;
- ``deploy``: a signed ``check-logs`` call to the environment's deploy webhook, which reads the
  node logs over the window (contract in docs/configuration.md);
- ``person``: a member of the confirmers group reads the logs and confirms, typing what they saw;
- ``none``: not checked, and the card says so.

(``metric``, a counter on the node's own /metrics, is judged by the health window itself.)

Where a source cannot answer (Prometheus down, an empty vector, a deploy system that does not
check logs), the step says exactly that and asks a person instead: it never fails forever for
want of a signal, and never passes without evidence. The evidence (source, value, who) is in the
step's result and note, hence on the card and in the run's audit log.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from workflows.model import Outcome, OutcomeFailed, OutcomeSucceeded, OutcomeWait
from workflows.ports import ConfigView, EnvironmentView, WebhookView
from workflows.prometheus import PrometheusUnavailable, instant_query, render_query
from workflows.step_models import StepKind
from workflows.steps._rpcactions import seconds
from workflows.steps.base import StepContext
from workflows.steps.nodeaccess import StepSetupError, step_config, step_environment
from workflows.steps.webhook import sign

__all__ = ["CHECK_LOGS_ACTION", "EvidenceExecutor", "check_logs_body"]

CHECK_LOGS_ACTION = "check-logs"
_MAX_REPLY = 64 * 1024
_FACT = "validation errors"


class EvidenceExecutor:
    kind = StepKind.EVIDENCE

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    async def execute(self, ctx: StepContext) -> Outcome:
        source = str(ctx.args.get("source") or "person")
        try:
            since, until = _window(ctx)
        except ValueError as exc:
            return OutcomeFailed(error=str(exc))
        if source == "none":
            said = f"{_FACT}: not checked (evidence: none)"
            return OutcomeSucceeded(
                result=_evidence("none", checked=False, summary=said), note=said
            )
        if source == "person":
            return _ask_person(ctx, since, until, because=None)
        try:
            config = step_config(ctx)
            env = step_environment(config, ctx)
        except StepSetupError as exc:
            return OutcomeFailed(error=str(exc))
        if source == "prometheus":
            return await self._prometheus(ctx, config, since, until)
        if source == "deploy":
            return await self._deploy(ctx, env, since, until)
        if source == "metric":
            return OutcomeFailed(
                error="source metric is judged by the health window (its /metrics samples); "
                "this step is not planned for it: start a new run"
            )
        return OutcomeFailed(error=f"unknown {_FACT} evidence source {source!r}")

    async def verify(self, ctx: StepContext) -> Outcome | None:
        return await self.execute(ctx)  # looking only: always safe to do again

    async def _prometheus(
        self, ctx: StepContext, config: ConfigView, since: datetime, until: datetime
    ) -> Outcome:
        template = ctx.args.get("query")
        if config.prometheus_url is None or not isinstance(template, str) or not template:
            return _ask_person(ctx, since, until, because="no Prometheus query is configured")
        query = render_query(
            template,
            window_seconds=(until - since).total_seconds(),
            nodes=list(ctx.step.targets),
        )
        try:
            answer = await instant_query(config.prometheus_url, query, at=until.timestamp())
        except PrometheusUnavailable as exc:
            return _ask_person(ctx, since, until, because=f"Prometheus cannot tell: {exc.reason}")
        where = f"Prometheus query {query}"
        evidence = _evidence("prometheus", value=answer.value, query=query, series=answer.series,
                             summary=f"{_summary(answer.value)} ({where})"[:300])
        return _judged(answer.value, evidence, where)

    async def _deploy(
        self, ctx: StepContext, env: EnvironmentView, since: datetime, until: datetime
    ) -> Outcome:
        hook = env.deploy_webhook
        if hook is None:
            return _ask_person(
                ctx, since, until, because=f"{env.name} has no deploy webhook to check the logs"
            )
        body = check_logs_body(ctx, env.name, since, until)
        status, reply, problem = await self._post(ctx, hook, body)
        if problem is not None:
            return _ask_person(ctx, since, until, because=f"the deploy system {problem}")
        counts, missing = _counts(reply, list(ctx.step.targets))
        if status != 200 or counts is None:
            why = f"did not check the logs (HTTP {status}: {_short(reply)})"
            return _ask_person(ctx, since, until, because=f"the deploy system {why}")
        if missing:
            return _ask_person(
                ctx, since, until,
                because="the deploy system did not report the logs of " + ", ".join(missing),
            )
        total = float(sum(counts.values()))
        detail = ", ".join(f"{name} {count}" for name, count in counts.items())
        where = f"deploy system log check: {detail}"
        evidence = _evidence("deploy", value=total, nodes=counts,
                             summary=f"{_summary(total)} ({where})"[:300])
        return _judged(total, evidence, where)

    async def _post(
        self, ctx: StepContext, hook: WebhookView, body: bytes
    ) -> tuple[int, Any, str | None]:
        """(status, reply, None), or (0, None, what went wrong) when nothing usable came back."""
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "X-Parthenon-Timestamp": str(timestamp),
            "X-Parthenon-Signature": sign(hook.secret.get_secret_value(), timestamp, body),
            "Idempotency-Key": ctx.idempotency_key,
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=hook.timeout)) as s,
                s.post(hook.url, data=body, headers=headers) as response,
            ):
                raw = await response.content.read(_MAX_REPLY)
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return 0, None, f"did not answer ({detail})"
        try:
            return status, json.loads(raw), None
        except ValueError:
            return status, raw.decode("utf-8", errors="replace")[:300], None


def check_logs_body(ctx: StepContext, environment: str, since: datetime, until: datetime) -> bytes:
    """The ``check-logs`` request: which nodes, which fact, over which window (epoch seconds)."""
    payload = {
        "action": CHECK_LOGS_ACTION,
        "fact": "validation_errors",
        "environment": environment,
        "nodes": list(ctx.step.targets),
        "since": int(since.timestamp()),
        "until": math.ceil(until.timestamp()),  # the window's last second included
        "run_id": ctx.run.id,
        "workflow": ctx.run.workflow,
        "step_id": ctx.step.id,
        "requested_by": ctx.run.initiator,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def _window(ctx: StepContext) -> tuple[datetime, datetime]:
    """The watched window: the ``window_of`` step's start to end, else ``window`` up to now,
    else (the watched step never began) the run's whole life so far."""
    watched = ctx.args.get("window_of")
    if isinstance(watched, str):
        state = next((s for s in ctx.run.steps if s.id == watched), None)
        if state is not None and state.started_at is not None:
            return state.started_at, state.finished_at or ctx.now
    length = seconds(ctx.args.get("window"), 0.0)
    if length > 0:
        return ctx.now - timedelta(seconds=length), ctx.now
    # The watched step never ran (skipped before it began): everything since the run began.
    return ctx.run.created_at, ctx.now


def _ask_person(
    ctx: StepContext, since: datetime, until: datetime, *, because: str | None
) -> OutcomeWait:
    groups = ", ".join(ctx.step.responders or ["operators"])
    nodes = ", ".join(ctx.step.targets) or "the nodes"
    ask = (
        f"Evidence: a person's confirmation. A member of {groups} reads the logs of {nodes} for "
        f"validation and chain errors from {since:%H:%M:%S} to {until:%H:%M:%S} UTC and confirms "
        "with what they saw; if the logs show errors, do not confirm: abort or roll back."
    )
    note = f"{because}; asked a person instead. {ask}" if because else ask
    return OutcomeWait(waiting_for="confirmation", note=note[:1500])


def _judged(value: float, evidence: dict[str, Any], where: str) -> Outcome:
    if value > 0:
        return OutcomeFailed(
            error=f"{_FACT} rose: {value:g} over the window ({where})", result=evidence
        )
    return OutcomeSucceeded(
        result=evidence, note=f"no {_FACT} over the window ({where})"[:1500]
    )


def _summary(value: float) -> str:
    return f"{value:g} {_FACT}" if value else f"no {_FACT}"


def _evidence(source: str, *, checked: bool = True, **facts: Any) -> dict[str, Any]:
    return {"evidence": {"fact": "validation_errors", "source": source, "checked": checked,
                         **facts}}


def _counts(reply: Any, targets: list[str]) -> tuple[dict[str, int] | None, list[str]]:
    """Per-node counts from ``{"nodes": {name: {"validation_errors": n}}}``; the unreported."""
    if not isinstance(reply, dict) or not isinstance(reply.get("nodes"), dict):
        return None, targets
    nodes: dict[str, Any] = reply["nodes"]
    counts: dict[str, int] = {}
    missing: list[str] = []
    for name in targets:
        entry = nodes.get(name)
        value = entry.get("validation_errors") if isinstance(entry, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            counts[name] = value
        else:
            missing.append(name)
    return counts, missing


def _short(reply: Any) -> str:
    text = reply if isinstance(reply, str) else json.dumps(reply, default=str)
    return text[:200]
