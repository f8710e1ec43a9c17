"""rollback, the periodic drills, an expired approval and the manual fallback of webhooks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.runbook.conftest import SUM, Bot, blocked_at, state_of
from workflows.drills import DrillKind
from workflows.drillscheduler import DrillBook
from workflows.errors import InvalidCommand
from workflows.model import Approve, RunStatus, StepStatus


async def test_rollback_end_to_end_in_waves(bot: Bot) -> None:
    """The nodes agree on a last known good block, a release manager approves, staging is
    restored, the fixed build goes out wave by wave with traffic and a health gate each."""
    net = bot.net("testnet")
    run = await bot.start("rollback", environment="testnet", version="v1.4.1",
                          disabled_flags="fast_sync", wave_window="1s")
    run = await bot.approve(run.id, "approve", "URM1")
    await bot.confirm(run.id, "mempool-wallet", evidence="https://ops.example/recon/9")
    run = await bot.finished(run.id, timeout=60)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    assert all(node.version == "v1.4.1" for node in net.nodes)
    deploys = [r for r in net.deploy.applied if r.action == "deploy"]
    assert {r.body["disabled_flags"] for r in deploys if r.body} == {"fast_sync"}
    traffic = [r.body["percent"] for r in net.deploy.requests
               if r.action == "enable-traffic" and r.body]
    assert traffic == [10, 50, 100]
    assert state_of(run, "lkg").result["source"] == "nodes"


async def test_rollback_finds_agreement_despite_a_diverged_node(bot: Bot) -> None:
    """One node on a fork does not stop the others from agreeing on the last known good."""
    net = bot.net("mainnet")
    net.node("main-4").faults.divergent_tip = True
    run = await bot.start("rollback", environment="mainnet", version="v1.4.1")
    run = await bot.at(run.id, "approve-mainnet")
    result = state_of(run, "lkg").result
    assert result["agreed_by"] == ["main-1", "main-2", "main-3"]
    assert list(result["disagree"]) == ["main-4"]


async def test_rollback_refuses_an_operator_block_the_nodes_do_not_have(bot: Bot) -> None:
    """An operator-given height and hash no node confirms blocks the rollback at once."""
    run = await bot.start("rollback", environment="testnet", version="v1.4.1",
                          lkg_height="3", lkg_hash="ee" * 32)
    run = await bot.wait(run.id, blocked_at("lkg"))
    assert "confirmed by 0 node(s), 2 needed" in (run.reason or "")


async def test_rollback_accepts_an_operator_block_the_nodes_confirm(bot: Bot) -> None:
    """An operator-given height and hash the nodes have becomes the last known good."""
    good = bot.net("testnet").nodes[0].block(2)["hash"]
    run = await bot.start("rollback", environment="testnet", version="v1.4.1",
                          lkg_height="2", lkg_hash=good)
    run = await bot.at(run.id, "approve")
    assert run.values["last_good_height"] == 2
    assert run.values["last_good_hash"] == good
    assert state_of(run, "lkg").result["source"] == "operator"


async def test_an_expired_approval_blocks_the_run(bot: Bot) -> None:
    """Nobody approves the rollback within 24 hours: the step fails as expired, the run is
    blocked for a human, and a late approval is refused."""
    run = await bot.start("rollback", environment="testnet", version="v1.4.1")
    run = await bot.at(run.id, "approve")
    bot.clock.offset = timedelta(hours=25)
    await bot.store.wake(run.id, bot.store.now())
    run = await bot.wait(run.id, blocked_at("approve"))
    assert state_of(run, "approve").error == "approval expired"
    with pytest.raises(InvalidCommand):
        await bot.service.command(
            run.id, Approve(actor="URM1", step_id="approve", plan_hash=run.plan_hash)
        )
    kinds = [n.kind for n in await bot.store.take_outbox(run.id)]
    assert "approval_expired" in kinds


async def test_key_rotation_drill_moves_the_schedule(bot: Bot) -> None:
    """A passed key rotation drill is recorded and next falls due three months later."""
    run = await bot.start("drill-key-rotation", environment="testnet")
    await bot.confirm(run.id, "rotate", actor="USEC", rotated="rpc credentials")
    run = await bot.finished(run.id)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    schedule = {d.kind: d for d in await DrillBook(bot.store).schedule(bot.store.now())}
    rotation = schedule[DrillKind.KEY_ROTATION]
    assert rotation.last_run_id == run.id
    assert not rotation.is_due
    assert 89 <= (rotation.due_at - bot.store.now()).days <= 92
    assert schedule[DrillKind.RESTORE].is_due  # never run


async def test_incident_simulation_drill(bot: Bot) -> None:
    """The tabletop walks compromise and rollback, finds a real last known good, records."""
    run = await bot.start("drill-incident-simulation", environment="testnet")
    await bot.confirm(run.id, "compromise", actor="USEC", notes="isolated test-3")
    await bot.confirm(run.id, "rollback", actor="URM1", notes="rolled back on staging")
    await bot.confirm(run.id, "lessons", follow_ups="rotate faster")
    run = await bot.finished(run.id)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    assert run.values["last_good_height"] >= 1
    record = await DrillBook(bot.store).record_of(DrillKind.INCIDENT_SIMULATION)
    assert record is not None
    assert record.run_id == run.id


async def test_dr_failover_drill(bot: Bot) -> None:
    """Fail over, stay continuous and healthy, fail back, record."""
    run = await bot.start("drill-dr-failover", environment="testnet", window="1s")
    await bot.approve(run.id, "approve", "UOP2")
    run = await bot.finished(run.id)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    moves = [r.body["to"] for r in bot.net("testnet").deploy.requests
             if r.action == "failover" and r.body]
    assert moves == ["secondary", "primary"]
    assert await DrillBook(bot.store).record_of(DrillKind.DR_FAILOVER) is not None


async def test_without_a_deploy_endpoint_webhook_steps_become_confirmations(
    manual_bot: Bot,
) -> None:
    """No deploy_webhook for the environment: the provenance and start steps wait for a person,
    say so, and take the step's inputs; the bot's own checks still run."""
    bot = manual_bot
    run = await bot.start("startup-check", environment="testnet", window="1s")
    run = await bot.at(run.id, "provenance")
    note = state_of(run, "provenance").note or ""
    assert note.startswith("no deploy endpoint for testnet: do it by hand and confirm")
    await bot.confirm(run.id, "provenance", sbom_checksum=SUM)
    await bot.confirm(run.id, "config")
    await bot.confirm(run.id, "start")
    # No deploy system to read the logs either: an operator says what the logs showed.
    run = await bot.at(run.id, "validation-errors")
    assert "Evidence: a person's confirmation" in (state_of(run, "validation-errors").note or "")
    await bot.confirm(run.id, "validation-errors", logs_seen="no validation errors since start")
    run = await bot.finished(run.id)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    saw = {"logs_seen": "no validation errors since start"}
    assert state_of(run, "validation-errors").result == {
        "confirmed_by": "UOP", "inputs": saw,
        "evidence": {"by": "UOP", "label": "a person's confirmation", "source": "person",
                     "value": saw},
    }
    assert state_of(run, "provenance").inputs == {"sbom_checksum": SUM}
    assert state_of(run, "start").status is StepStatus.SUCCEEDED
    assert bot.net("testnet").deploy.requests == []
