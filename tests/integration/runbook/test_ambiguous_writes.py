"""A call with side effects that got no definite answer is in doubt, never a plain failure: a
plain failure offers Retry, and a retry (a new attempt) would pay or deploy a second time. Found
by the chaos suite: a payment whose connection was cut by another run's restart of the node."""

from __future__ import annotations

import pytest
import yaml
from aiohttp import web

from tests.integration.runbook.conftest import Bot, context
from workflows.definition import parse_definition
from workflows.errors import OutcomeUnknown
from workflows.model import OutcomeFailed, RunStatus, StepStatus
from workflows.steps.rpc import RpcExecutor
from workflows.steps.webhook import WebhookExecutor

ADDRESS = "ab" * 32
PAY = f"""
name: adhoc
title: Adhoc
parameters: [{{name: environment}}]
steps:
  - {{id: pay, title: Pay, kind: rpc, effect: write, targets: {{nodes: [test-2]}},
     with: {{action: call, method: sendtoaddress, params: ["{ADDRESS}", 1]}}}}
  - {{id: tx, title: Transaction, kind: rpc, effect: write, targets: {{nodes: [test-2]}},
     with: {{action: transaction, amount: 1}}}}
"""
DEPLOY = """
name: adhoc
title: Adhoc
parameters: [{name: environment}]
steps:
  - {id: deploy, title: Deploy, kind: webhook, targets: {nodes: [test-3]},
     with: {action: deploy, version: v9.9.9}}
"""


FUNDS = 1_000 * 10**8  # a devnet node's starting balance of each asset


def payments(bot: Bot) -> int:
    """Payments made, from the node's own wallet (each pays one base unit)."""
    wallet = bot.net("testnet").node("test-2").wallet
    return FUNDS - wallet.balance(wallet.asset(0))


async def break_replies(bot: Bot) -> None:
    """test-2 answers garbage from now on, after the guard has checked its network."""
    env = bot.config.environment("testnet")
    await bot.guard.check(next(n for n in env.nodes if n.name == "test-2"), env)
    bot.net("testnet").node("test-2").faults.garbage_reply = True


async def test_a_payment_without_a_readable_answer_is_unknown_not_failed(parts: Bot) -> None:
    """The node pays, then answers garbage: the executor says the outcome is unknown."""
    await break_replies(parts)
    with pytest.raises(OutcomeUnknown, match="test-2"):
        await RpcExecutor().execute(context(parts, PAY, "pay"))
    assert payments(parts) == 1


async def test_a_refused_payment_is_a_plain_failure(parts: Bot) -> None:
    """A payment the node definitely refused (an RPC error) fails as before: safe to retry."""
    bad = PAY.replace(f'"{ADDRESS}", 1', f'"{ADDRESS}", 0')
    outcome = await RpcExecutor().execute(context(parts, bad, "pay"))
    assert isinstance(outcome, OutcomeFailed)
    assert payments(parts) == 0


async def test_a_transaction_cut_before_the_payment_is_a_plain_failure(parts: Bot) -> None:
    """Only getnewaddress (harmless to repeat) met the broken node: a failure, nothing paid."""
    await break_replies(parts)
    outcome = await RpcExecutor().execute(context(parts, PAY, "tx"))
    assert isinstance(outcome, OutcomeFailed)
    assert "getnewaddress" in outcome.error
    assert payments(parts) == 0


async def test_the_engine_blocks_an_unknown_payment_in_doubt(parts: Bot) -> None:
    """Through the engine the run is blocked in doubt (not failed), and nothing is re-sent."""
    definition = parse_definition(yaml.safe_load(PAY), "adhoc.yaml", PAY)
    parts.service.definitions["adhoc"] = definition
    await break_replies(parts)
    run = await parts.service.start("adhoc", {"environment": "testnet"}, actor="UOP")
    await parts.engine.process(run.id)
    await parts.engine.process(run.id)
    run = await parts.store.get(run.id)
    assert run.status is RunStatus.BLOCKED
    assert run.steps[0].status is StepStatus.BLOCKED
    assert (run.steps[0].error or "").startswith("in doubt")
    assert payments(parts) == 1


async def test_a_deploy_answered_with_5xx_is_unknown(parts: Bot) -> None:
    """A deploy system that answers 502 three times may have acted: unknown, not failed."""
    receiver = parts.net("testnet").deploy
    port = receiver.port
    await receiver.stop()
    hits: list[str] = []

    async def broken(request: web.Request) -> web.Response:
        hits.append(request.headers.get("Idempotency-Key", ""))
        return web.Response(status=502, text="bad gateway")

    app = web.Application()
    app.router.add_post("/deploy", broken)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_address=True).start()
    try:
        ctx = context(parts, DEPLOY, "deploy")
        with pytest.raises(OutcomeUnknown, match="HTTP 502"):
            await WebhookExecutor(retry_delay=0.01).execute(ctx)
    finally:
        await runner.cleanup()
    assert hits == [ctx.idempotency_key] * 3
