"""The node-facing executors called directly against the devnets: stop verification, webhook
signing and de-duplication, the guard in front of every node action, monitor windows, and the
engine recovering a webhook step whose worker died after sending."""

from __future__ import annotations

import asyncio

from tests.integration.runbook.conftest import Bot, context
from workflows.apply import apply
from workflows.model import (
    OutcomeFailed,
    OutcomeReschedule,
    OutcomeSucceeded,
    RunStatus,
    StepBegan,
)
from workflows.steps.base import StepContext
from workflows.steps.health import HealthExecutor
from workflows.steps.rpc import RpcExecutor
from workflows.steps.webhook import WebhookExecutor
from workflows.storecommit import LedgerWrite
from workflows.template import context_for, render

STOP_ONE = """
name: adhoc
title: Adhoc
parameters: [{name: environment}]
steps:
  - {id: stop, title: Stop, kind: rpc, effect: write, targets: {nodes: [test-2]},
     with: {action: stop, stop_timeout: 0.2s, verify_window: 5s}}
"""
STOP_ALL = """
name: adhoc
title: Adhoc
parameters: [{name: environment}]
steps:
  - {id: stop, title: Stop, kind: rpc, effect: write,
     with: {action: stop, stop_timeout: 0.2s, verify_window: 0.5s}}
"""
DEPLOY = """
name: adhoc
title: Adhoc
parameters: [{name: environment}]
steps:
  - {id: deploy, title: Deploy, kind: webhook, targets: {nodes: [test-3]},
     with: {action: deploy, version: v9.9.9}}
"""
CALLS = """
name: adhoc
title: Adhoc
parameters: [{name: environment}]
steps:
  - {id: info, title: Info, kind: rpc, with: {action: call, method: getinfo,
     expect: [{path: version, equals: 9.9.9}]}}
  - {id: pay, title: Pay, kind: rpc, with: {action: call, method: sendtoaddress,
     params: ["00", 1]}}
  - {id: lkg, title: LKG, kind: rpc, with: {action: lkg}}
  - {id: look, title: Look, kind: health, targets: {nodes: [test-3]}}
  - {id: watch, title: Watch, kind: health, with: {window: 0.6s, interval: 0.2s}}
"""


async def test_a_hanging_stop_is_verified_not_assumed(parts: Bot) -> None:
    """A stop that does not answer within its timeout is judged by watching the node, whose
    process exits a moment later: the step succeeds, with the evidence."""
    node = parts.net("testnet").node("test-2")
    node.faults.hanging_stop = True

    async def exits_later() -> None:
        await asyncio.sleep(0.8)
        await node.stop_process()

    exiting = asyncio.create_task(exits_later())
    outcome = await RpcExecutor().execute(context(parts, STOP_ONE, "stop"))
    await exiting
    assert isinstance(outcome, OutcomeSucceeded), outcome
    found = outcome.result["nodes"]["test-2"]
    assert found["outcome"] == "stopped"
    assert "stop call" in found["evidence"]
    assert not node.running


async def test_a_miner_that_will_not_stop_halts_the_stop_order(parts: Bot) -> None:
    """The miner never goes down: the step fails for it, and no validator or edge is stopped."""
    net = parts.net("testnet")
    net.node("test-1").faults.hanging_stop = True
    outcome = await RpcExecutor().execute(context(parts, STOP_ALL, "stop"))
    assert isinstance(outcome, OutcomeFailed)
    assert "test-1: did not verifiably stop (still_running" in outcome.error
    assert "stopped nothing after the miner nodes: test-2, test-3, test-4 still run" in (
        outcome.error
    )
    assert all(net.node(n).running for n in ("test-2", "test-3", "test-4"))
    assert not [r for n in ("test-2", "test-3", "test-4") for r in net.node(n).request_log
                if r.method == "stop"]


async def test_verify_after_a_crash_looks_at_the_nodes(parts: Bot) -> None:
    """An interrupted stop is settled by looking: down is success, still up is a failure."""
    ctx = context(parts, STOP_ONE, "stop")
    assert isinstance(await RpcExecutor().verify(ctx), OutcomeFailed)
    await parts.net("testnet").node("test-2").stop_process()
    verified = await RpcExecutor().verify(ctx)
    assert isinstance(verified, OutcomeSucceeded)
    assert verified.result["verified"] == {"test-2": "the RPC port refuses connections"}


async def test_webhook_is_signed_and_a_verify_resend_is_deduplicated(parts: Bot) -> None:
    """The receiver accepts the signature and deploys once; verify sends again with the same
    Idempotency-Key and gets the first answer back without a second deploy."""
    net = parts.net("testnet")
    ctx = context(parts, DEPLOY, "deploy")
    executor = WebhookExecutor()
    outcome = await executor.execute(ctx)
    assert isinstance(outcome, OutcomeSucceeded), outcome
    assert outcome.result["response"]["status"] == "done"
    again = await executor.verify(ctx)
    assert isinstance(again, OutcomeSucceeded)
    assert [(r.idempotency_key, r.replay) for r in net.deploy.requests] == [
        (ctx.idempotency_key, False), (ctx.idempotency_key, True),
    ]
    assert len(net.deploy.applied) == 1
    assert net.node("test-3").version_history == ["1.0.0", "v9.9.9"]


async def test_webhook_refused_by_the_receiver_fails_with_its_reason(parts: Bot) -> None:
    """A receiver holding another secret answers 401; the step fails, naming the reason."""
    parts.net("testnet").deploy.secret = "rotated-elsewhere"
    outcome = await WebhookExecutor().execute(context(parts, DEPLOY, "deploy"))
    assert isinstance(outcome, OutcomeFailed)
    assert outcome.error == "the deploy endpoint refused with HTTP 401: bad signature"
    assert not outcome.transient


async def test_webhook_endpoint_down_is_a_transient_failure(parts: Bot) -> None:
    """No deploy system listening: a few quick tries, then a transient failure."""
    await parts.net("testnet").deploy.stop()
    outcome = await WebhookExecutor(retry_delay=0.01).execute(context(parts, DEPLOY, "deploy"))
    assert isinstance(outcome, OutcomeFailed)
    assert outcome.transient
    assert "did not answer" in outcome.error


async def test_webhook_is_not_sent_for_a_node_on_the_wrong_network(parts: Bot) -> None:
    """The guard refuses a target on another chain before the deploy system is asked."""
    parts.net("testnet").node("test-3").faults.wrong_network = "regtest"
    outcome = await WebhookExecutor().execute(context(parts, DEPLOY, "deploy"))
    assert isinstance(outcome, OutcomeFailed)
    assert outcome.error.startswith("refused: node test-3 reports genesis f85d0bad")
    assert parts.net("testnet").deploy.requests == []


async def test_failed_assertions_name_every_node(parts: Bot) -> None:
    """An expectation that no node meets fails the step with each node's value."""
    outcome = await RpcExecutor().execute(context(parts, CALLS, "info"))
    assert isinstance(outcome, OutcomeFailed)
    assert outcome.error.startswith("4 of 4 node(s) failed: test-1: version is 100")


async def test_a_write_method_in_a_read_step_is_refused_before_sending(parts: Bot) -> None:
    """A payment declared as a read step would be repeated after a crash: it is refused."""
    outcome = await RpcExecutor().execute(context(parts, CALLS, "pay"))
    assert isinstance(outcome, OutcomeFailed)
    assert "declare the step 'effect: write'" in outcome.error
    net = parts.net("testnet")
    assert not [r for n in net.nodes for r in n.request_log if r.method == "sendtoaddress"]


async def test_last_known_good_leaves_out_an_unreachable_node(parts: Bot) -> None:
    """A node that is down does not vote; the others still agree and the result says who."""
    parts.net("testnet").node("test-4").faults.refuse_connections = True
    outcome = await RpcExecutor().execute(context(parts, CALLS, "lkg"))
    assert isinstance(outcome, OutcomeSucceeded), outcome
    assert outcome.result["agreed_by"] == ["test-1", "test-2", "test-3"]
    assert "test-4" in outcome.result["unreachable"]


async def test_one_look_at_a_stopped_node_fails(parts: Bot) -> None:
    """A single health look at a node that is down fails with why: its network cannot be
    verified (the guard could not read its genesis), which no gate passes."""
    await parts.net("testnet").node("test-3").stop_process()
    outcome = await HealthExecutor().execute(context(parts, CALLS, "look"))
    assert isinstance(outcome, OutcomeFailed)
    assert "cannot verify node test-3's network" in outcome.error
    assert "cannot connect to" in outcome.error


async def _window(parts: Bot, *, on_second_look: object = None) -> list[object]:
    """Drive a monitor window the way the engine does: execute, keep data, wake at ``at``."""
    executor = HealthExecutor()
    ctx = context(parts, CALLS, "watch")
    outcomes: list[object] = []
    while True:
        outcome = await executor.execute(ctx)
        outcomes.append(outcome)
        if not isinstance(outcome, OutcomeReschedule):
            return outcomes
        if len(outcomes) == 1 and callable(on_second_look):
            on_second_look()
        await asyncio.sleep(max(0.0, (outcome.at - parts.store.now()).total_seconds()))
        ctx = context(parts, CALLS, "watch", data=outcome.data, now=outcome.at)


async def test_a_monitor_window_samples_then_judges_the_tip(parts: Bot) -> None:
    """Looks are rescheduled with progress until the window ends; the tip advanced."""
    outcomes = await _window(parts)
    final = outcomes[-1]
    assert isinstance(final, OutcomeSucceeded), final
    progress = [o.progress for o in outcomes if isinstance(o, OutcomeReschedule)]
    assert len(progress) >= 2
    assert progress == sorted(progress)
    assert final.result["rounds"] == len(outcomes)
    network_checks = [r for r in parts.net("testnet").node("test-1").request_log
                      if r.http_method == "POST"]
    assert len(network_checks) == 1  # the guard, once; the looks are GETs


async def test_a_monitor_window_fails_at_the_first_bad_look(parts: Bot) -> None:
    """A node losing its peers fails the window at the next look, not at its end: it says
    syncing (its peer_count still counts the connections it once accepted, as the daemon's)."""
    node = parts.net("testnet").node("test-2")
    outcomes = await _window(parts, on_second_look=lambda: setattr(node.faults, "peers", 0))
    assert len(outcomes) == 2
    final = outcomes[-1]
    assert isinstance(final, OutcomeFailed)
    assert "test-2: still syncing" in final.error


async def test_engine_verifies_a_webhook_step_whose_worker_died_after_sending(
    parts: Bot,
) -> None:
    """A worker records its intent, sends the webhook and dies; the next worker finds the step
    in doubt, verifies by sending again with the same key (answered from the receiver's
    memory), and the run moves on: the deploy system acted once."""
    run = await parts.start("startup-check", environment="testnet", window="1s")
    token = await parts.store.claim(run.id, "crashed", 200)
    assert token is not None
    began = await apply(
        parts.store, run.id, StepBegan(step_id="provenance", attempt=1, worker="crashed"),
        token=token, now=parts.store.now,
        ledger=lambda _r: LedgerWrite("intent", "provenance", 1, {"worker": "crashed"}),
    )
    assert began.run is not None
    stored = began.run
    step, state = stored.plan[0], stored.steps[0]
    ctx = StepContext(
        run=stored, step=step, state=state,
        args=render(step.with_, context_for(stored, step, stored.updated_at)),
        now=parts.store.now(), attempt=1, idempotency_key=f"{run.id}:provenance:1",
        deps=parts.deps,
    )
    assert isinstance(await WebhookExecutor().execute(ctx), OutcomeSucceeded)
    await asyncio.sleep(0.3)  # the dead worker's lease runs out
    await parts.engine.process(run.id)
    after = await parts.store.get(run.id)
    assert after.steps[0].status.value == "succeeded"
    assert after.status is RunStatus.WAITING  # now at the manual config step
    sent = [r for r in parts.net("testnet").deploy.requests if r.action == "verify-provenance"]
    assert [(r.idempotency_key, r.replay) for r in sent] == [
        (ctx.idempotency_key, False), (ctx.idempotency_key, True),
    ]
    assert parts.engine.stats.takeovers == 1
    assert (await parts.store.ledger_entry(run.id, "provenance", 1) or {}).get("outcome") == (
        "succeeded"
    )
