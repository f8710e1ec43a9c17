"""The "nodes run the release" gate on each evidence source, against devnets, a real Redis and
the engine: deploy (the deploy answer, else a signed verify-version), rpc (only a daemon that
reports release strings: the opt-in `future` dialect; the real daemon's constant is refused with
the fix) and person (the confirmers, typing the version they saw, which must be the release)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml

from bot.config import BotConfig, parse_config
from bot.devnet import Devnet
from bot.inventory import ConfigAuthority, ConfigInventory
from bot.nodeport import StepNodes
from bot.nodes import NetworkGuard, NodeClient, PostBudget, RetryPolicy
from bot.policies import ConfigPolicies
from bot.runtime import DEFINITIONS_DIR, default_executors
from bot.slack.views.card import evidence_text, run_card
from tests.integration.runbook.conftest import (
    GROUPS,
    PASSWORD,
    TEST_POLICY,
    Bot,
    OffsetClock,
    state_of,
)
from workflows.definition import load_definitions, parse_definition
from workflows.engine import Engine, EngineSettings
from workflows.errors import InvalidCommand, NotAuthorized
from workflows.freezer import Freezer
from workflows.model import Confirm, RunStatus
from workflows.planner import plan_run
from workflows.service import WorkflowService
from workflows.step_models import StepKind
from workflows.steps.base import ExecutorRegistry
from workflows.steps.deps import StepDeps
from workflows.store import RunStore

RELEASE_CHECK = """
name: release-check
title: Release check
parameters:
  - {name: environment, choices: [testnet]}
  - {name: version, pattern: 'v?\\d+\\.\\d+\\.\\d+'}
steps:
  - id: deploy
    title: Deploy the release
    description: "Deploy system: installs the release on every node."
    kind: webhook
    targets: {select: all}
    with: {action: deploy, version: "{{ version }}"}
  - id: runs
    title: The nodes run the release
    description: "Bot: every node runs the release."
    kind: rpc
    targets: {select: all}
    with: {action: version, version: "{{ version }}", ready_within: 10s}
"""
VERSION_ONLY = """
name: version-only
title: Version only
parameters:
  - {name: environment, choices: [testnet]}
  - {name: version, pattern: 'v?\\d+\\.\\d+\\.\\d+'}
steps:
  - id: runs
    title: The nodes run the release
    description: "Bot: every node runs the release."
    kind: rpc
    targets: {select: all}
    with: {action: version, version: "{{ version }}", ready_within: 10s}
"""


def config_with(net: Devnet, evidence: dict[str, Any] | None) -> BotConfig:
    """One testnet environment on `net`, its deploy receiver, and the given evidence section."""
    env = {"PCB_RPC_PASSWORD": PASSWORD, "PCB_HOOK": "hook-secret"}
    net.deploy.secret = "hook-secret"
    net.deploy.environment = "testnet"
    entry = net.config_entry(secret_env="PCB_HOOK", password_env="PCB_RPC_PASSWORD")
    entry["policy"] = TEST_POLICY
    if evidence is not None:
        entry["evidence"] = evidence
    doc = {
        "environments": {"testnet": entry},
        "groups": GROUPS,
        "permissions": {"default": {"start": ["operators"], "operate": ["operators"]}},
    }
    return parse_config(yaml.safe_dump(doc), env=env)


@asynccontextmanager
async def running(
    redis: aioredis.Redis, net: Devnet, evidence: dict[str, Any] | None
) -> AsyncIterator[Bot]:
    config = config_with(net, evidence)
    clock = OffsetClock()
    store = RunStore(redis, clock=clock)
    definitions = {
        **load_definitions(DEFINITIONS_DIR),
        "version-only": parse_definition(yaml.safe_load(VERSION_ONLY), "version-only.yaml"),
        "release-check": parse_definition(yaml.safe_load(RELEASE_CHECK), "release-check.yaml"),
    }
    service = WorkflowService(
        store,
        definitions,
        ConfigInventory(config),
        ConfigAuthority(config),
        policies=ConfigPolicies(config),
    )
    nodes = NodeClient(budget=PostBudget(redis), retry=RetryPolicy(attempts=2, total=5.0))
    guard = NetworkGuard(nodes)
    service.freezer = Freezer(store, rules=config.incidents)  # as bot/runtime.py wires it
    deps = StepDeps(store=store, runs=service, freezer=service.freezer, config=config,
                    nodes=StepNodes(config, nodes, guard))
    engine = Engine(
        store,
        ExecutorRegistry(default_executors()),
        settings=EngineSettings(worker_id="t", poll_interval=0.02, lease=timedelta(seconds=10)),
        deps=deps,
    )
    task = asyncio.create_task(engine.run_forever())
    try:
        yield Bot(config, store, service, engine, nodes, guard, {"testnet": net}, clock, deps)
    finally:
        await engine.stop(deadline=2)
        await task
        await nodes.aclose()


@pytest.fixture
async def daemon_net() -> AsyncIterator[Devnet]:
    """Three testnet nodes speaking the real daemon's dialect (getinfo.version is 100)."""
    async with Devnet("testnet", nodes=3, block_interval=0.1, canaries=1) as net:
        yield net


@pytest.fixture
async def future_net() -> AsyncIterator[Devnet]:
    """Three testnet nodes of the opt-in `future` dialect (getinfo.version is the release)."""
    async with Devnet("testnet", nodes=3, block_interval=0.1, canaries=1, dialect="future") as net:
        yield net


async def verified_run(bot: Bot, workflow: str, version: str = "v1.4.2") -> Any:
    run = await bot.start(workflow, environment="testnet", version=version)
    return await bot.wait(
        run.id,
        lambda r: (
            r.terminal
            or r.status is RunStatus.BLOCKED
            or (
                r.status is RunStatus.WAITING
                and r.current is not None
                and r.current[1].waiting_for == "confirmation"
            )
        ),
    )


def card_text(run: Any) -> str:
    return json.dumps(run_card(run).blocks)


# --------------------------------------------------------------------------- deploy


async def test_deploy_evidence_from_the_deploy_answer(
    redis: aioredis.Redis, daemon_net: Devnet
) -> None:
    """Default with a deploy webhook: the gate trusts what the deploy system answered when it
    installed the release; no node is asked for a version, nothing more is sent."""
    async with running(redis, daemon_net, None) as bot:
        planned = await bot.start("release-check", environment="testnet", version="v1.4.2")
        step = planned.plan[1]
        assert step.kind is StepKind.WEBHOOK
        assert step.with_["evidence"] == {"source": "deploy", "label": "deploy system"}
        assert "evidence: deploy system" in card_text(planned)
        run = await bot.wait(planned.id, lambda r: r.terminal or r.status is RunStatus.BLOCKED)
        assert run.status is RunStatus.SUCCEEDED, run.reason
        result = state_of(run, "runs").result
        names = [n.name for n in daemon_net.nodes]
        assert result["nodes"] == {n: {"version": "v1.4.2", "from": "deploy"} for n in names}
        assert result["evidence"]["source"] == "deploy"
        assert result["evidence"]["by"] == "deploy system"
        assert result["evidence"]["value"] == dict.fromkeys(names, "v1.4.2")
        actions = [r.action for r in daemon_net.deploy.requests]
        assert "verify-version" not in actions
        text = evidence_text(run.plan[run.index_of("runs") or 0], state_of(run, "runs"))
        assert text is not None
        assert "deploy system reports v1.4.2" in text
        audit = await bot.store.read_audit(run.id)
        finished = [e.detail for e in audit if e.step_id == "runs" and e.type == "step_finished"]
        assert "deploy system" in json.dumps(finished)


async def test_deploy_evidence_by_verify_version(redis: aioredis.Redis, daemon_net: Devnet) -> None:
    """No deploy answer in the run: the gate asks the deploy system (signed verify-version) for
    every node's installed release; it acts on no node."""
    for node in daemon_net.nodes:
        node.version = "1.4.2"  # installed outside this run
    async with running(redis, daemon_net, None) as bot:
        run = await verified_run(bot, "version-only")
        assert run.status is RunStatus.SUCCEEDED, run.reason
        result = state_of(run, "runs").result
        assert {v["from"] for v in result["nodes"].values()} == {"verify-version"}
    [request] = daemon_net.deploy.requests
    assert request.action == "verify-version"
    assert request.status == 200
    assert request.body is not None
    assert request.body["nodes"] == [n.name for n in daemon_net.nodes]
    assert not request.applied
    assert all(node.starts == 1 for node in daemon_net.nodes)


async def test_a_wrong_installed_version_fails_naming_node_and_version(
    redis: aioredis.Redis, daemon_net: Devnet
) -> None:
    """One node has another release installed: the gate blocks, naming the node and what the
    deploy system reports, and does not pass on the others' word."""
    for node in daemon_net.nodes:
        node.version = "v1.4.2"
    daemon_net.nodes[1].version = "v1.4.1"
    async with running(redis, daemon_net, None) as bot:
        run = await verified_run(bot, "version-only")
        assert run.status is RunStatus.BLOCKED
        error = state_of(run, "runs").error or ""
        name = daemon_net.nodes[1].name
        assert f"{name}: the deploy system reports v1.4.1 installed, not v1.4.2" in error
        assert daemon_net.nodes[0].name not in error


async def test_a_deploy_system_that_does_not_report_fails_clearly(
    redis: aioredis.Redis, daemon_net: Devnet
) -> None:
    """A deploy system that answers without `installed` gives no evidence: the gate fails and
    says what is missing and the fix, never passes."""
    async with running(redis, daemon_net, None) as bot:
        original = daemon_net.deploy._act  # a deploy system without the contract

        async def without_installed(body: dict[str, Any]) -> tuple[int, dict[str, Any], bool]:
            status, answer, applied = await original(body)
            answer.pop("installed", None)
            return status, answer, applied

        daemon_net.deploy._act = without_installed  # type: ignore[method-assign]
        run = await verified_run(bot, "version-only")
        assert run.status is RunStatus.BLOCKED
        error = state_of(run, "runs").error or ""
        assert "did not report its installed release" in error
        assert "evidence.release: person" in error


# --------------------------------------------------------------------------- rpc


async def test_rpc_evidence_on_a_daemon_reporting_release_strings(
    redis: aioredis.Redis, future_net: Devnet
) -> None:
    """evidence.release: rpc, on the opt-in `future` dialect: getinfo.version is the release,
    and the gate passes when every node runs it and fails naming a node that does not."""
    async with running(redis, future_net, {"release": {"source": "rpc"}}) as bot:
        run = await verified_run(bot, "release-check")
        assert run.status is RunStatus.SUCCEEDED, run.reason
        state = state_of(run, "runs")
        assert run.plan[run.index_of("runs") or 0].kind is StepKind.RPC
        assert state.result["evidence"]["source"] == "rpc"
        assert state.result["evidence"]["value"] == {n.name: "v1.4.2" for n in future_net.nodes}
        failing = await verified_run(bot, "version-only", version="v1.5.0")
        assert failing.status is RunStatus.BLOCKED
        assert "runs version 'v1.4.2', not v1.5.0" in (state_of(failing, "runs").error or "")


async def test_rpc_evidence_on_the_real_daemon_is_refused_with_the_fix(
    redis: aioredis.Redis, daemon_net: Devnet
) -> None:
    """evidence.release: rpc on the daemon's dialect: the constant 100 cannot tell a release,
    and the step says so and what to set instead, even when the right release is installed."""
    for node in daemon_net.nodes:
        node.version = "v1.4.2"
    async with running(redis, daemon_net, {"release": {"source": "rpc"}}) as bot:
        run = await verified_run(bot, "version-only")
        assert run.status is RunStatus.BLOCKED
        error = state_of(run, "runs").error or ""
        assert (
            "this node's getinfo.version is the daemon's constant 100, it cannot tell the "
            "release: set evidence.release to deploy or person"
        ) in error


# --------------------------------------------------------------------------- person


async def test_person_evidence_needs_the_group_and_the_matching_version(
    redis: aioredis.Redis, daemon_net: Devnet
) -> None:
    """evidence.release: person: the gate waits for a confirmer, who must be in the configured
    group and type the version they saw, which must be the release; who and what is kept."""
    evidence = {"release": {"source": "person", "confirmers": ["release-managers"]}}
    async with running(redis, daemon_net, evidence) as bot:
        run = await verified_run(bot, "version-only")
        assert run.status is RunStatus.WAITING
        step = run.plan[0]
        assert step.kind is StepKind.MANUAL
        assert step.responders == ["release-managers"]
        assert "evidence: a person's confirmation" in card_text(run)
        with pytest.raises(NotAuthorized):
            await bot.service.command(
                run.id, Confirm(actor="UOP", step_id="runs", inputs={"version_seen": "v1.4.2"})
            )
        with pytest.raises(InvalidCommand) as wrong:
            await bot.service.command(
                run.id, Confirm(actor="URM1", step_id="runs", inputs={"version_seen": "v1.4.1"})
            )
        assert "'v1.4.1' is not the release v1.4.2" in str(wrong.value)
        with pytest.raises(InvalidCommand):
            await bot.service.command(run.id, Confirm(actor="URM1", step_id="runs", inputs={}))
        run = await bot.service.command(
            run.id, Confirm(actor="URM1", step_id="runs", inputs={"version_seen": "1.4.2"})
        )
        run = await bot.finished(run.id)
        assert run.status is RunStatus.SUCCEEDED
        evidence_found = state_of(run, "runs").result["evidence"]
        assert evidence_found["source"] == "person"
        assert evidence_found["by"] == "URM1"
        assert evidence_found["value"] == {"version_seen": "1.4.2"}
        assert "saw 1.4.2" in card_text(run)
        audit = await bot.store.read_audit(run.id)
        assert [e.actor for e in audit if e.type == "confirm"] == ["URM1"]


async def test_release_default_is_person_without_a_deploy_webhook(
    redis: aioredis.Redis, daemon_net: Devnet
) -> None:
    """Without a deploy webhook the default evidence is a person from operators."""
    config = config_with(daemon_net, None)
    assert config.environment("testnet").evidence.release.source.value == "deploy"
    raw = daemon_net.config_entry(secret_env="X", password_env="PCB_RPC_PASSWORD")
    raw.pop("deploy_webhook")
    raw.pop("evidence", None)
    doc = {"environments": {"testnet": raw}, "groups": GROUPS}
    bare = parse_config(yaml.safe_dump(doc), env={"PCB_RPC_PASSWORD": PASSWORD})
    release = bare.environment("testnet").evidence.release
    assert (release.source.value, release.confirmers) == ("person", ("operators",))


async def test_rollback_wave_gates_take_the_environment_source(
    redis: aioredis.Redis, daemon_net: Devnet
) -> None:
    """Every shipped release gate is re-planned: promote's and rollback's version steps."""
    async with running(redis, daemon_net, None) as bot:
        inventory = ConfigInventory(bot.config)
        params = {"environment": "testnet", "version": "v1.4.1"}
        run = plan_run(
            bot.service.definitions["rollback"],
            params,
            inventory=inventory,
            run_id="r-x",
            initiator="UOP",
            now=bot.store.now(),
        )
        gates = [s for s in run.plan if s.id.endswith(".version")]
        assert [s.id for s in gates] == [f"wave-{i}.version" for i in range(1, len(gates) + 1)]
        assert all(s.with_["evidence"]["source"] == "deploy" for s in gates)
        assert all(s.kind is StepKind.WEBHOOK for s in gates)
        assert all(s.with_["action"] == "verify-version" for s in gates)
