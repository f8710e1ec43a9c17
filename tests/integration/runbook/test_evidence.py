"""The "no rise in validation errors" check on each evidence source the config can name: the
deploy system's log check (the devnet receiver), the operator's Prometheus (a small fake that
answers /api/v1/query as Prometheus does), a person, none; and what the step does when its source
cannot answer (it says so and asks a person: never stuck, never passed without evidence)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import yaml
from aiohttp import web

from bot.config import BotConfig
from bot.evidence import EvidenceConfig
from bot.inventory import ConfigInventory
from bot.slack.views.card import evidence_text
from tests.integration.runbook.conftest import Bot
from workflows.definition import parse_definition
from workflows.evidence_sources import ValidationErrorsEvidence, ValidationErrorsSource
from workflows.model import (
    OutcomeFailed,
    OutcomeReschedule,
    OutcomeSucceeded,
    OutcomeWait,
    StepStatus,
)
from workflows.planner import plan_run
from workflows.steps.base import StepContext
from workflows.steps.evidence import EvidenceExecutor
from workflows.steps.health import HealthExecutor
from workflows.template import context_for, render

DEFINITION = """
name: watch
title: Watch
parameters: [{name: environment}]
steps:
  - id: health
    title: Health over the window
    kind: health
    targets: {select: all}
    with: {window: 1s}
  - id: errors
    title: No rise in validation errors
    kind: evidence
    targets: {select: canary}
    with: {fact: validation_errors, window_of: health}
"""
QUERY = 'sum(increase(node_log_validation_errors_total{node=~"$nodes"}[$window]))'


class FakePrometheus:
    """Answers GET /api/v1/query like Prometheus; records the queries it was asked."""

    def __init__(self, answer: dict[str, Any], status: int = 200) -> None:
        self.answer = answer
        self.status = status
        self.queries: list[dict[str, str]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _query(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        return web.json_response(self.answer, status=self.status)

    async def __aenter__(self) -> FakePrometheus:
        app = web.Application()
        app.router.add_get("/api/v1/query", self._query)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def vector(*values: str) -> dict[str, Any]:
    result = [{"metric": {"node": f"n{i}"}, "value": [time.time(), v]}
              for i, v in enumerate(values)]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def with_source(
    config: BotConfig, evidence: ValidationErrorsEvidence, prometheus_url: str | None = None,
    *, webhook: bool = True,
) -> BotConfig:
    env = config.environment("testnet")
    changes: dict[str, Any] = {"evidence": EvidenceConfig(validation_errors=evidence)}
    if not webhook:
        changes["deploy_webhook"] = None
    environments = {**config.environments, "testnet": env.model_copy(update=changes)}
    return config.model_copy(
        update={"environments": environments, "prometheus_url": prometheus_url}
    )


def planned(bot: Bot, config: BotConfig, step_id: str = "errors") -> StepContext:
    """A step of a run planned now (the evidence step by default), its watched window over."""
    defn = parse_definition(yaml.safe_load(DEFINITION), "watch.yaml", DEFINITION)
    now = bot.store.now()
    run = plan_run(defn, {"environment": "testnet"}, inventory=ConfigInventory(config),
                   run_id="r-watch", initiator="UOP", now=now)
    watched = run.steps[0].model_copy(
        update={"started_at": now - timedelta(seconds=60), "finished_at": now}
    )
    run = run.model_copy(update={"steps": [watched, *run.steps[1:]]})
    index = run.index_of(step_id)
    assert index is not None
    step = run.plan[index]
    return StepContext(
        run=run, step=step, state=run.steps[index],
        args=render(step.with_, context_for(run, step, now)), now=now, attempt=1,
        idempotency_key=f"{run.id}:{step.id}:1", deps=replace(bot.deps, config=config),
    )


async def test_deploy_log_check_passes_with_the_count_on_the_result(parts: Bot) -> None:
    """The devnet config's source: a signed check-logs call over the watched window; no errors
    logged means the step passes, saying where the evidence came from."""
    ctx = planned(parts, parts.config)
    assert ctx.step.with_["source"] == "deploy"
    assert ctx.step.responders == ["operators"]  # whom a fallback would ask
    outcome = await EvidenceExecutor().execute(ctx)
    assert isinstance(outcome, OutcomeSucceeded), outcome
    assert outcome.note == (
        "no validation errors over the window (deploy system log check: test-1 0)"
    )
    assert outcome.result["evidence"] == {
        "fact": "validation_errors", "source": "deploy", "checked": True, "value": 0.0,
        "nodes": {"test-1": 0},
        "summary": "no validation errors (deploy system log check: test-1 0)",
    }
    # The card names the source before the step runs, and what it found once it passed.
    waiting = ctx.state
    assert evidence_text(ctx.step, waiting) == "evidence: deploy system log check"
    done = waiting.model_copy(update={"status": StepStatus.SUCCEEDED, "result": outcome.result})
    assert evidence_text(ctx.step, done) == (
        "evidence: no validation errors (deploy system log check: test-1 0)"
    )
    calls = [r for r in parts.net("testnet").deploy.requests if r.action == "check-logs"]
    assert len(calls) == 1
    assert calls[0].body is not None
    assert calls[0].body["until"] - calls[0].body["since"] in (60, 61)  # whole seconds


async def test_deploy_log_check_fails_on_logged_errors(parts: Bot) -> None:
    """A canary that logged validation errors in the window fails the step with the count."""
    parts.net("testnet").node("test-1").faults.validation_errors = True
    outcome = await EvidenceExecutor().execute(planned(parts, parts.config))
    assert isinstance(outcome, OutcomeFailed)
    assert outcome.error.startswith("validation errors rose: ")
    assert "(deploy system log check: test-1 " in outcome.error


async def test_a_deploy_system_that_does_not_check_logs_hands_over_to_a_person(
    parts: Bot,
) -> None:
    """A deploy system that accepts check-logs without reporting (it does not read logs): the
    step says so and asks the confirmers, with the window and the nodes."""
    net = parts.net("testnet")
    net.deploy.environment = "elsewhere"  # answers 400: "this deploy system serves elsewhere"
    outcome = await EvidenceExecutor().execute(planned(parts, parts.config))
    assert isinstance(outcome, OutcomeWait)
    assert outcome.waiting_for == "confirmation"
    note = outcome.note or ""
    assert note.startswith("the deploy system did not check the logs (HTTP 400")
    assert "asked a person instead" in note
    assert "A member of operators reads the logs of test-1" in note


@pytest.fixture
async def prometheus() -> AsyncIterator[FakePrometheus]:
    async with FakePrometheus(vector("0")) as fake:
        yield fake


async def test_prometheus_query_over_the_window(parts: Bot, prometheus: FakePrometheus) -> None:
    """A PromQL source: one instant query at the window's end, $nodes and $window filled in;
    zero passes with the query on the result."""
    evidence = ValidationErrorsEvidence(source=ValidationErrorsSource.PROMETHEUS, query=QUERY)
    ctx = planned(parts, with_source(parts.config, evidence, prometheus.url))
    outcome = await EvidenceExecutor().execute(ctx)
    assert isinstance(outcome, OutcomeSucceeded), outcome
    sent = 'sum(increase(node_log_validation_errors_total{node=~"test-1"}[60s]))'
    assert [q["query"] for q in prometheus.queries] == [sent]
    assert float(prometheus.queries[0]["time"]) == pytest.approx(ctx.now.timestamp(), abs=1)
    assert outcome.result["evidence"]["source"] == "prometheus"
    assert outcome.result["evidence"]["query"] == sent


async def test_prometheus_rise_fails(parts: Bot, prometheus: FakePrometheus) -> None:
    """Two series summing to 3 errors fail the step, naming the query."""
    prometheus.answer = vector("1", "2")
    evidence = ValidationErrorsEvidence(source=ValidationErrorsSource.PROMETHEUS, query=QUERY)
    outcome = await EvidenceExecutor().execute(
        planned(parts, with_source(parts.config, evidence, prometheus.url))
    )
    assert isinstance(outcome, OutcomeFailed)
    assert outcome.error.startswith("validation errors rose: 3 over the window (Prometheus query")


@pytest.mark.parametrize(
    ("answer", "status", "said"),
    [
        ({"status": "success", "data": {"resultType": "vector", "result": []}}, 200,
         "the query matched no series"),
        ({"status": "error", "errorType": "bad_data", "error": "parse error"}, 400,
         "Prometheus refused the query (HTTP 400): parse error"),
        (vector("NaN"), 200, "NaN"),
    ],
)
async def test_prometheus_that_cannot_tell_hands_over_to_a_person(
    parts: Bot, prometheus: FakePrometheus, answer: dict[str, Any], status: int, said: str
) -> None:
    """No series, a refused query or NaN is not "no errors": the step says what Prometheus
    answered and waits for a person instead."""
    prometheus.answer, prometheus.status = answer, status
    evidence = ValidationErrorsEvidence(source=ValidationErrorsSource.PROMETHEUS, query=QUERY)
    outcome = await EvidenceExecutor().execute(
        planned(parts, with_source(parts.config, evidence, prometheus.url))
    )
    assert isinstance(outcome, OutcomeWait)
    assert (outcome.note or "").startswith("Prometheus cannot tell: ")
    assert said in (outcome.note or "")
    assert "asked a person instead" in (outcome.note or "")


async def test_prometheus_down_hands_over_without_its_password(parts: Bot) -> None:
    """An unreachable Prometheus is said (without the URL's password) and a person is asked."""
    evidence = ValidationErrorsEvidence(source=ValidationErrorsSource.PROMETHEUS, query=QUERY)
    url = "http://watcher:s3cret-pw@127.0.0.1:9"
    outcome = await EvidenceExecutor().execute(
        planned(parts, with_source(parts.config, evidence, url))
    )
    assert isinstance(outcome, OutcomeWait)
    assert "did not answer" in (outcome.note or "")
    assert "s3cret-pw" not in (outcome.note or "")


async def test_person_source_asks_the_confirmers_for_what_they_saw(parts: Bot) -> None:
    """The daemon's default: the named group confirms, typing what the logs showed."""
    evidence = ValidationErrorsEvidence(confirmers=("security",))
    ctx = planned(parts, with_source(parts.config, evidence, webhook=False))
    assert ctx.step.responders == ["security"]
    assert [i.name for i in ctx.step.inputs] == ["logs_seen"]
    assert ctx.step.inputs[0].required
    outcome = await EvidenceExecutor().execute(ctx)
    assert isinstance(outcome, OutcomeWait)
    assert (outcome.note or "").startswith("Evidence: a person's confirmation. A member of "
                                           "security reads the logs of test-1")


async def test_none_says_not_checked(parts: Bot) -> None:
    """Explicitly none: the step passes saying on the card that nothing was checked."""
    evidence = ValidationErrorsEvidence(source=ValidationErrorsSource.NONE)
    outcome = await EvidenceExecutor().execute(
        planned(parts, with_source(parts.config, evidence))
    )
    assert isinstance(outcome, OutcomeSucceeded)
    assert outcome.note == "validation errors: not checked (evidence: none)"
    assert outcome.result["evidence"]["checked"] is False


async def test_metric_source_moves_the_check_into_the_window(parts: Bot) -> None:
    """A /metrics counter: the evidence step is not planned; the window health step reads it."""
    evidence = ValidationErrorsEvidence(
        source=ValidationErrorsSource.METRIC, metric="pantheon_validation_errors_total"
    )
    config = with_source(parts.config, evidence)
    defn = parse_definition(yaml.safe_load(DEFINITION), "watch.yaml", DEFINITION)
    run = plan_run(defn, {"environment": "testnet"}, inventory=ConfigInventory(config),
                   run_id="r-m", initiator="UOP", now=parts.store.now())
    assert [p.id for p in run.plan] == ["health"]
    assert run.plan[0].with_["validation_metric"] == "pantheon_validation_errors_total"


async def test_metric_the_daemon_lacks_fails_the_window_naming_node_and_metric(
    parts: Bot,
) -> None:
    """On the daemon's dialect a `metric` source cannot be fed: the window's first look reads
    /metrics and, at the second, fails every node naming it and the metric (check-config
    refuses such a config beforehand); it never passes for want of a number."""
    metric = "pantheon_validation_errors_total"
    evidence = ValidationErrorsEvidence(source=ValidationErrorsSource.METRIC, metric=metric)
    config = with_source(parts.config, evidence)
    executor = HealthExecutor()
    ctx = planned(parts, config, "health")
    first = await executor.execute(ctx)
    assert isinstance(first, OutcomeReschedule), first
    again = replace(ctx, state=ctx.state.model_copy(update={"data": first.data}),
                    now=ctx.now + timedelta(seconds=2))
    final = await executor.execute(again)
    assert isinstance(final, OutcomeFailed), final
    for node in ("test-1", "test-2", "test-3", "test-4"):
        need = f"{node}: validation errors need 2 readable /metrics samples of {metric}"
        assert need in final.error
    assert f"(no {metric} in /metrics)" in final.error


async def test_a_watched_step_that_never_ran_means_the_runs_whole_life(parts: Bot) -> None:
    """A window skipped before it began leaves no window: the check covers the run from its
    start to now rather than failing for want of one."""
    ctx = planned(parts, parts.config)
    unwatched = ctx.run.steps[0].model_copy(update={"started_at": None, "finished_at": None})
    run = ctx.run.model_copy(update={"steps": [unwatched, *ctx.run.steps[1:]]})
    outcome = await EvidenceExecutor().execute(replace(ctx, run=run))
    assert isinstance(outcome, OutcomeSucceeded), outcome
    [call] = [r for r in parts.net("testnet").deploy.requests if r.action == "check-logs"]
    assert call.body is not None
    assert call.body["since"] == int(run.created_at.timestamp())
