"""The promote workflow on the devnets: gates, regtest smoke, canary window, approved waves."""

from __future__ import annotations

import pytest

from tests.integration.runbook.conftest import SHA, Bot, blocked_at, state_of, status_of
from workflows.errors import PromotionFrozen
from workflows.model import RunStatus, StepStatus

FAST = {"canary_window": "1s", "wave_window": "1s"}


async def test_promote_to_mainnet_end_to_end(bot: Bot) -> None:
    """Gates pass, regtest smoke proves a transaction and a continuous rebuild, the canary is
    watched, each mainnet wave needs two release managers, and the release is recorded."""
    await bot.seed_restore_drill(days_ago=10)
    regtest_node = bot.net("regtest").nodes[0]
    starts_before = regtest_node.starts
    run = await bot.start("promote", version="v1.4.2", git_sha=SHA, environment="mainnet", **FAST)
    await bot.approve(run.id, "security-signoff", "USEC")
    for wave in (1, 2, 3):
        await bot.approve(run.id, f"wave-{wave}.approve-mainnet", "URM1", "URM2")
    run = await bot.finished(run.id, timeout=60)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    assert [p.id for p in run.plan if "approve" in p.id] == [
        "wave-1.approve-mainnet", "wave-2.approve-mainnet", "wave-3.approve-mainnet",
    ]
    # regtest smoke: installed, a transaction accepted, restarted, continuous
    assert regtest_node.version == "v1.4.2"
    assert regtest_node.starts >= starts_before + 2  # deploy and the rebuild restart
    tx = state_of(run, "regtest-transaction").result["first"]
    assert len(tx["txid"]) == 64
    # canary then every mainnet node on the release, in wave order
    assert bot.net("testnet").nodes[0].version == "v1.4.2"
    assert all(n.version == "v1.4.2" for n in bot.net("mainnet").nodes)
    deploys = [r for r in bot.net("mainnet").deploy.applied if r.action == "deploy"]
    assert [r.body["nodes"] for r in deploys if r.body] == [["main-1"], ["main-2"],
                                                           ["main-3", "main-4"]]
    record = await bot.store.get_record("release:v1.4.2")
    assert record["git_sha"] == SHA
    assert set(record["approvers"]["wave-1.approve-mainnet"]) == {"URM1", "URM2"}
    assert record["approvers"]["security-signoff"] == ["USEC"]
    assert [w["percent"] for w in record["waves"]] == [10, 50, 100]
    assert record["started_at"] < record["finished_at"]
    assert "v1.4.2" in (state_of(run, "release-record").note or "")


async def test_a_failed_canary_halts_the_run_and_offers_rollback(bot: Bot) -> None:
    """A canary whose validation errors rise during its window halts the promotion before
    any production wave, and the run offers a rollback. The daemon exports no metric for them:
    the evidence is the deploy system's log check over the window (the devnet config's source)."""
    await bot.seed_restore_drill()
    canary = bot.net("testnet").nodes[0]
    run = await bot.start("promote", version="v1.5.0", git_sha=SHA, environment="mainnet",
                          canary_window="3s", wave_window="1s")
    await bot.approve(run.id, "security-signoff", "USEC")
    await bot.wait(run.id, lambda r: r.current is not None
                   and r.current[0].id == "canary-monitor")
    canary.faults.validation_errors = True
    run = await bot.wait(run.id, blocked_at("canary-validation-errors"))
    assert run.offer == "rollback"
    assert status_of(run, "canary-monitor") is StepStatus.SUCCEEDED  # /health was fine
    state = state_of(run, "canary-validation-errors")
    error = state.error or ""
    assert "validation errors rose" in error
    assert f"deploy system log check: {canary.name} " in error
    assert (state.result or {})["evidence"]["source"] == "deploy"
    checks = [r for r in bot.net("testnet").deploy.requests if r.action == "check-logs"]
    assert [r.body["nodes"] for r in checks if r.body] == [[canary.name]]
    assert bot.net("mainnet").deploy.applied == []  # no wave was deployed


async def test_a_failed_wave_halts_the_rollout(bot: Bot) -> None:
    """A first-wave node that loses its peers fails the wave's health gate: the rollout stops
    there, later waves are not deployed, and a rollback is offered."""
    await bot.seed_restore_drill()
    bot.net("mainnet").nodes[0].faults.peers = 0
    run = await bot.start("promote", version="v1.5.1", git_sha=SHA, environment="mainnet", **FAST)
    await bot.approve(run.id, "security-signoff", "USEC")
    await bot.approve(run.id, "wave-1.approve-mainnet", "URM1", "URM2")
    run = await bot.wait(run.id, blocked_at("wave-1.health"))
    assert run.offer == "rollback"
    assert "main-1" in (state_of(run, "wave-1.health").error or "")
    assert status_of(run, "wave-2.deploy") is StepStatus.PENDING
    deployed = {n for r in bot.net("mainnet").deploy.applied if r.body for n in r.body["nodes"]}
    assert deployed == {"main-1"}


async def test_testnet_waves_need_one_release_manager(bot: Bot) -> None:
    """On testnet the environment-filtered alternative asks one release manager per wave."""
    await bot.seed_restore_drill()
    run = await bot.start("promote", version="v1.6.0", git_sha=SHA, environment="testnet", **FAST)
    assert [p.id for p in run.plan if "approve" in p.id] == [
        "wave-1.approve", "wave-2.approve", "wave-3.approve",
    ]
    await bot.approve(run.id, "security-signoff", "USEC2")
    for wave in (1, 2, 3):
        await bot.approve(run.id, f"wave-{wave}.approve", "URM3")
    run = await bot.finished(run.id, timeout=60)
    assert run.status is RunStatus.SUCCEEDED, run.reason


async def test_a_freeze_blocks_promote(bot: Bot) -> None:
    """While promotions are frozen a promote is refused at start and nothing runs."""
    await bot.service.freeze("UOP", "supply-chain concern")
    with pytest.raises(PromotionFrozen):
        await bot.start("promote", version="v1.4.2", git_sha=SHA, environment="mainnet")
    assert await bot.service.active_runs() == []


async def test_a_stale_restore_drill_blocks_until_security_approves_the_skip(bot: Bot) -> None:
    """A drill older than the SLO blocks the gate; a skip needs the security group's approval."""
    from workflows.model import Approve, Skip

    await bot.seed_restore_drill(days_ago=120)
    run = await bot.start("promote", version="v1.4.2", git_sha=SHA, environment="mainnet", **FAST)
    run = await bot.wait(run.id, blocked_at("restore-drill-gate"))
    assert "more than the 90-day SLO" in (run.reason or "")
    await bot.service.command(
        run.id, Skip(actor="UOP", step_id="restore-drill-gate", reason="drill scheduled Friday")
    )
    run = await bot.at(run.id, "restore-drill-gate")
    await bot.service.command(
        run.id, Approve(actor="USEC", step_id="restore-drill-gate", plan_hash=run.plan_hash)
    )
    run = await bot.at(run.id, "security-signoff")
    assert status_of(run, "restore-drill-gate") is StepStatus.SKIPPED
