"""`/parthenon promote v1.4.2 3f9c2ab testnet` and `... mainnet` to the end through signed Slack
requests, on devnets that speak the real daemon's dialect (getinfo.version is the constant 100):
every "the nodes run the release" gate passes on the deploy receiver's word, and says so on the
card, in the step result and in the audit log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import yaml

from bot.config import BotConfig, parse_config
from bot.devnet import Devnet
from bot.devnet.dialect import Dialect
from bot.runtime import DEFINITIONS_DIR
from bot.testing.devnets import three_devnets
from bot.testing.slackworkspace import PostedMessage
from tests.integration.runbook.conftest import GROUPS, PASSWORD, TEST_POLICY
from tests.scenarios.harness import Harness, button_step, running_bot
from workflows.definition import load_definitions, parse_definition
from workflows.model import Run, RunStatus
from workflows.step_models import StepKind

SHA = "3f9c2ab"
APPROVERS = {"security": ["USEC", "USEC2"], "release-managers": ["URM1", "URM2", "URM3"]}
# This file is about the release evidence: validation errors are explicitly not checked here
# (their sources have their own tests), and the card says so.
EVIDENCE = {"release": {"source": "deploy"}, "validation_errors": {"source": "none"}}


def devnet_config(devnets: dict[str, Devnet], evidence: dict[str, Any] | None = None) -> BotConfig:
    env = {"PCB_RPC_PASSWORD": PASSWORD}
    environments: dict[str, Any] = {}
    for name, net in devnets.items():
        secret_env = f"PCB_HOOK_{name.upper()}"
        env[secret_env] = f"hook-secret-{name}"
        net.deploy.secret = env[secret_env]
        net.deploy.environment = name
        entry = net.config_entry(secret_env=secret_env, password_env="PCB_RPC_PASSWORD")
        entry["policy"] = TEST_POLICY
        entry["evidence"] = evidence or EVIDENCE
        environments[name] = entry
    doc = {
        "environments": environments,
        "groups": GROUPS,
        "permissions": {
            "default": {
                "start": ["operators", "release-managers", "security"],
                "operate": ["operators"],
            }
        },
    }
    return parse_config(yaml.safe_dump(doc), env=env)


@pytest.fixture
async def devnets() -> AsyncIterator[dict[str, Devnet]]:
    """regtest (1 node), testnet (3, one canary), mainnet (3, one canary); the daemon's dialect."""
    async with three_devnets(regtest=1, testnet=3, mainnet=3) as nets:
        yield nets


@pytest.fixture
async def bot(redis_url: str, devnets: dict[str, Devnet]) -> AsyncIterator[Harness]:
    async with running_bot(
        redis_url, load_definitions(DEFINITIONS_DIR), config=devnet_config(devnets)
    ) as h:
        await h.seed_restore_drill(days_ago=3)
        yield h


def approve_button_for(step_id: str) -> Callable[[PostedMessage], bool]:
    def check(message: PostedMessage) -> bool:
        return button_step(message, "run.approve") == step_id

    return check


def later_than(version: int) -> Callable[[Run], bool]:
    def check(run: Run) -> bool:
        return run.version > version

    return check


async def promote_to_the_end(h: Harness, environment: str) -> Run:
    """Start by slash command; approve every request by button as distinct group members."""
    reply = await h.command(
        "UOP", f"promote v1.4.2 {SHA} {environment} canary_window=1s wave_window=1s"
    )
    run_id = await h.started_run(reply)
    for _ in range(20):
        run = await h.wait_run(
            run_id,
            lambda r: (
                r.terminal
                or r.status is RunStatus.BLOCKED
                or (
                    r.status is RunStatus.WAITING
                    and r.current is not None
                    and r.current[1].waiting_for in {"approval", "confirmation"}
                )
            ),
            within=90,
        )
        if run.terminal:
            return run
        assert run.status is not RunStatus.BLOCKED, run.reason
        assert run.current is not None
        step, state = run.current
        assert state.approval is not None, f"{step.id} waits for {state.waiting_for}"
        voted = {vote.user for vote in state.approval.votes}
        user = next(u for u in APPROVERS[state.approval.policy.groups[0]] if u not in voted)
        card = await h.card(run_id, approve_button_for(step.id))
        assert (await h.click(user, card, "run.approve")).status == 200
        await h.wait_run(run_id, later_than(run.version))
    raise AssertionError("the promotion asked for more approvals than it has gates")


@pytest.mark.parametrize("environment", ["testnet", "mainnet"])
async def test_promotion_runs_to_the_end_on_deploy_evidence(
    bot: Harness, devnets: dict[str, Devnet], environment: str
) -> None:
    h = bot
    assert all(n.dialect is Dialect.DAEMON for net in devnets.values() for n in net.nodes)
    run = await promote_to_the_end(h, environment)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    gates = [
        (step, state)
        for step, state in zip(run.plan, run.steps, strict=True)
        if isinstance(step.with_.get("evidence"), dict)
        and step.with_["evidence"].get("source") == "deploy"
        and step.with_.get("action") == "verify-version"
    ]
    ids = [step.id for step, _ in gates]
    assert ids[:2] == ["regtest-version", "canary-version"]
    waves = len([s for s in run.plan if s.id.endswith(".deploy")])
    assert ids[2:] == [f"wave-{i}.version" for i in range(1, waves + 1)]
    for step, state in gates:
        assert step.kind is StepKind.WEBHOOK
        assert state.result is not None
        evidence = state.result["evidence"]
        assert evidence["by"] == "deploy system"
        assert evidence["value"] == dict.fromkeys(step.targets, "v1.4.2")
        assert {v["from"] for v in state.result["nodes"].values()} <= {
            "regtest-deploy",
            "canary-deploy",
            f"{step.group}.deploy",
        }
    nodes = [n for name in ("regtest", environment) for n in devnets[name].nodes]
    assert all(n.version == "v1.4.2" for n in nodes if n.starts > 1)
    final = await h.card(run.id, lambda m: m.text.endswith(": succeeded"))
    shown = json.dumps(final.blocks)
    assert "evidence: deploy system reports v1.4.2 on" in shown
    assert "constant 100" not in shown
    audit = await h.runtime.store.read_audit(run.id)
    finished = json.dumps(
        [e.detail for e in audit if e.step_id == "canary-version" and e.type == "step_finished"]
    )
    assert "deploy system" in finished


PERSON_GATE = """
name: promote
title: Release gate alone
parameters:
  - {name: version, pattern: 'v?\\d+\\.\\d+\\.\\d+'}
  - {name: environment, choices: [testnet]}
steps:
  - id: runs
    title: The nodes run the release
    description: "Bot: every node runs the release."
    kind: rpc
    targets: {select: all}
    with: {action: version, version: "{{ version }}"}
"""


@asynccontextmanager
async def one_workflow_on_testnet(
    redis_url: str, evidence: dict[str, Any], source: str, text: str
) -> AsyncIterator[Harness]:
    """The bot serving the one workflow ``text`` (from file ``source``) on a testnet of two
    peered nodes (one canary) whose evidence section is ``evidence``."""
    async with Devnet("testnet", nodes=2, block_interval=0.1, canaries=1) as net:
        config = devnet_config({"testnet": net}, evidence)
        definition = parse_definition(yaml.safe_load(text), source)
        async with running_bot(redis_url, {definition.name: definition}, config=config) as h:
            yield h


@pytest.fixture
async def person_bot(redis_url: str) -> AsyncIterator[Harness]:
    """testnet whose release evidence is a release manager's word; a one-gate workflow."""
    evidence = {
        "release": {"source": "person", "confirmers": ["release-managers"]},
        "validation_errors": {"source": "none"},
    }
    async with one_workflow_on_testnet(redis_url, evidence, "promote.yaml", PERSON_GATE) as h:
        yield h


async def submit_confirm(h: Harness, user: str, run_id: str, seen: str) -> dict[str, Any] | None:
    """Press Confirm on the card and submit the modal with the version seen."""
    return await h.confirm(user, run_id, "runs", {"modal.input:version_seen": seen})


def confirm_button_for(step_id: str) -> Callable[[PostedMessage], bool]:
    def check(message: PostedMessage) -> bool:
        return button_step(message, "run.confirm") == step_id

    return check


async def test_person_evidence_through_the_slack_form(person_bot: Harness) -> None:
    """The gate is a confirmation by release managers with the version they saw: an operator is
    refused, a release manager typing another version is refused on the field, the release
    typed by a release manager passes, and the card says who saw what."""
    h = person_bot
    run_id = await h.started_run(await h.command("UOP", "promote v1.4.2 testnet"))
    await h.wait_run(run_id, lambda r: r.status is RunStatus.WAITING)
    card = await h.card(run_id, confirm_button_for("runs"))
    assert "evidence: a person" in json.dumps(card.blocks)
    refused = await submit_confirm(h, "UOP", run_id, "v1.4.2")
    assert "only members of release-managers may confirm" in json.dumps(refused)
    wrong = await submit_confirm(h, "URM1", run_id, "v1.4.1")
    assert wrong is not None
    assert wrong["response_action"] == "errors"
    assert "'v1.4.1' is not the release v1.4.2" in json.dumps(wrong["errors"])
    assert (await h.run(run_id)).status is RunStatus.WAITING
    assert await submit_confirm(h, "URM1", run_id, "v1.4.2") is None
    run = await h.wait_run(run_id, lambda r: r.terminal)
    assert run.status is RunStatus.SUCCEEDED
    final = await h.card(run_id, lambda m: m.text.endswith(": succeeded"))
    shown = json.dumps(final.blocks)
    assert "confirmed by <@URM1>" in shown
    assert "saw v1.4.2" in shown
