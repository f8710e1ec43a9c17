"""startup-check, maintenance, backup and restore-drill on the devnets, through the service."""

from __future__ import annotations

import asyncio

from bot.devnet import Devnet
from bot.runtime import build_runtime
from tests.integration.runbook.conftest import SHA, SUM, Bot, blocked_at, config_for, state_of
from workflows.drills import DrillKind
from workflows.drillscheduler import DrillBook
from workflows.model import Confirm, Retry, RunStatus
from workflows.step_models import StepKind

TESTNET_GENESIS = "fe739e3c1e27509a9c7d2260e39438f1ff1c44dc03a6309e68737b2cc62c3875"
MAINNET_GENESIS = "660189b8466fa2957f0a8bf9bbe6fdda5cc4eb79ae57f24161df726cee4b8544"


async def test_startup_check_end_to_end(bot: Bot) -> None:
    """A person confirms the config; the bot proves genesis, chainstate, RPC auth and health."""
    run = await bot.start("startup-check", environment="testnet", window="1s")
    await bot.confirm(run.id, "config", config_checksum=SUM)
    run = await bot.finished(run.id)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    auth = state_of(run, "rpc-auth").result["nodes"]
    assert set(auth) == {"test-1", "test-2", "test-3", "test-4"}
    assert all(v["unauthenticated"] == "refused (401)" for v in auth.values())
    assert set(run.values["startup_tips"]) == set(auth)
    starts = [r for r in bot.net("testnet").deploy.requests if r.action == "start"]
    assert len(starts) == 1


async def test_a_node_on_the_wrong_network_is_refused(bot: Bot) -> None:
    """A node reporting another network's genesis fails the step with what it reports and what
    was expected; after that one getblock nothing more reaches it, not even on a retry."""
    wrong = bot.net("testnet").node("test-2")
    wrong.faults.wrong_network = True
    run = await bot.start("startup-check", environment="testnet", window="1s")
    await bot.confirm(run.id, "config")
    run = await bot.wait(run.id, blocked_at("genesis"))
    error = state_of(run, "genesis").error or ""
    assert "test-2" in error
    assert MAINNET_GENESIS in error
    assert TESTNET_GENESIS in error
    posts = [r for r in wrong.request_log if r.http_method == "POST"]
    assert len(posts) == 1
    seen = len(wrong.request_log)
    assert wrong.request_log[-1].http_method == "POST"  # the guard's getblock was the last
    await bot.service.command(run.id, Retry(actor="UOP", step_id="genesis"))
    run = await bot.wait(run.id, lambda r: r.status is RunStatus.BLOCKED
                         and (state_of(r, "genesis").attempt or 0) >= 2)
    assert "test-2" in (state_of(run, "genesis").error or "")
    assert len(wrong.request_log) == seen
    healthy = bot.net("testnet").node("test-1")
    assert not [r for r in healthy.request_log if r.method == "getblockcount"]


async def test_maintenance_stops_by_role_and_restarts_continuously(bot: Bot) -> None:
    """Final tips are captured, nodes stop miners first, then validators, then RPC edges (each
    verified down), and after the restart every node is continuous and healthy."""
    net = bot.net("testnet")
    run = await bot.start("maintenance", environment="testnet", reason="disk swap", window="1s")
    await bot.approve(run.id, "approve", "UOP2")
    run = await bot.at(run.id, "work")
    assert not any(node.running for node in net.nodes)
    stop_at = {
        node.name: next(r.time for r in node.request_log if r.method == "stop")
        for node in net.nodes
    }
    roles = {node.name: node.role for node in net.nodes}
    assert roles == {"test-1": "miner", "test-2": "validator", "test-3": "validator",
                     "test-4": "rpc-edge"}
    assert stop_at["test-1"] < min(stop_at["test-2"], stop_at["test-3"])
    assert max(stop_at["test-2"], stop_at["test-3"]) < stop_at["test-4"]
    assert state_of(run, "stop").result["order"] == ["miner", "validator", "rpc-edge"]
    await bot.confirm(run.id, "work")
    run = await bot.finished(run.id)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    assert all(node.running for node in net.nodes)
    final = run.values["final_tips"]
    checked = state_of(run, "continuity").result["nodes"]
    assert {n: v["checked_height"] for n, v in checked.items()} == {
        n: v["height"] for n, v in final.items()
    }


async def test_a_diverged_node_after_restart_halts_maintenance(bot: Bot) -> None:
    """A node whose chain no longer has its captured block halts the run and offers the
    release incident workflow."""
    net = bot.net("testnet")
    run = await bot.start("maintenance", environment="testnet", reason="upgrade", window="1s")
    await bot.approve(run.id, "approve", "UOP2")
    await bot.at(run.id, "work")
    captured = (await bot.store.get(run.id)).values["final_tips"]["test-3"]["height"]
    net.node("test-3").faults.divergent_tip = max(2, captured - 1)
    await bot.confirm(run.id, "work")
    run = await bot.wait(run.id, blocked_at("continuity"))
    assert run.offer == "incident-release"
    assert "test-3" in (state_of(run, "continuity").error or "")


async def test_backup_then_restore_drill_records_rto_rpo_for_the_promote_gate(bot: Bot) -> None:
    """A backup keeps snapshot metadata; a restore drill restores it, proves network and
    continuity, records RTO/RPO, and a promotion's drill gate then passes on that record."""
    backup = await bot.start("backup", environment="testnet")
    await bot.confirm(backup.id, "store-primary", location="eu-west/bucket-a", checksum=SUM)
    await bot.confirm(backup.id, "store-secondary", location="us-east/bucket-b", checksum=SUM)
    backup = await bot.finished(backup.id)
    assert backup.status is RunStatus.SUCCEEDED, backup.reason
    snapshot = await bot.store.get_record("snapshot:testnet")
    assert snapshot["snapshot_height"] == backup.values["snapshot_height"]
    assert snapshot["snapshot_locations"] == ["eu-west/bucket-a", "us-east/bucket-b"]
    actions = [r.action for r in bot.net("testnet").deploy.requests]
    assert actions.index("pause-writes") < actions.index("snapshot") < actions.index(
        "resume-writes"
    )

    drill = await bot.start("restore-drill", environment="testnet", source="testnet")
    await bot.approve(drill.id, "approve-promotion", "UOP2")
    drill = await bot.finished(drill.id)
    assert drill.status is RunStatus.SUCCEEDED, drill.reason
    record = await DrillBook(bot.store).record_of(DrillKind.RESTORE)
    assert record is not None
    assert record.run_id == drill.id
    assert record.details["rto_seconds"] >= 0
    assert record.details["rpo_seconds"] > 0
    assert record.details["snapshot_height"] == snapshot["snapshot_height"]
    assert record.details["drift_blocks"] >= 0

    promote = await bot.start("promote", version="v2.0.0", git_sha=SHA, environment="mainnet")
    promote = await bot.at(promote.id, "security-signoff")
    assert drill.id in (state_of(promote, "restore-drill-gate").note or "")


async def test_backup_refuses_to_unlock_on_mismatched_checksums(bot: Bot) -> None:
    """Two copies whose checksums differ block the run before writes are unlocked."""
    run = await bot.start("backup", environment="testnet")
    await bot.confirm(run.id, "store-primary", location="eu", checksum=SUM)
    await bot.confirm(run.id, "store-secondary", location="us", checksum="cd" * 32)
    run = await bot.wait(run.id, blocked_at("checksums"))
    assert "differ" in (run.reason or "")
    assert "resume-writes" not in [r.action for r in bot.net("testnet").deploy.requests]


async def test_restore_drill_without_a_backup_says_what_to_do(bot: Bot) -> None:
    """A restore drill with no recorded snapshot blocks at once and says to run a backup."""
    run = await bot.start("restore-drill", environment="testnet", source="mainnet")
    run = await bot.wait(run.id, blocked_at("snapshot"))
    assert "run a backup of mainnet first" in (run.reason or "")


async def test_the_runtime_builder_wires_the_runbook(
    devnets: dict[str, Devnet], redis_url: str
) -> None:
    """build_runtime loads every shipped definition and registers every step kind, so a
    startup check runs end to end through the bot's own wiring."""
    config, _ = config_for(devnets)
    runtime = await build_runtime(config, redis_url)
    task = asyncio.create_task(runtime.engine.run_forever())
    try:
        assert len(runtime.definitions) == 12
        assert runtime.engine.registry.kinds() == set(StepKind)
        run = await runtime.service.start(
            "startup-check", {"environment": "regtest", "window": "0.5s"}, actor="UOP"
        )
        for _ in range(500):
            run = await runtime.store.get(run.id)
            if run.current and run.current[0].id == "config" and run.status is RunStatus.WAITING:
                break
            await asyncio.sleep(0.02)
        await runtime.service.command(run.id, Confirm(actor="UOP", step_id="config"))
        for _ in range(500):
            run = await runtime.store.get(run.id)
            if run.terminal:
                break
            await asyncio.sleep(0.02)
        assert run.status is RunStatus.SUCCEEDED, run.reason
    finally:
        await runtime.aclose()
        await task
