"""The three incident workflows on the devnets, and the exported incident log."""

from __future__ import annotations

import re

import pytest

from tests.integration.runbook.conftest import SHA, SUM, Bot, state_of
from workflows.errors import PromotionFrozen
from workflows.export import render_incident_log
from workflows.model import RunStatus

REVIEW = {
    "root_cause": "a consensus rule change shipped behind a flag that was on by default",
    "remediation": "flag disabled, rolled back to v1.4.1",
    "follow_ups": "- default flags off in release builds\n- add a regtest case",
}


async def test_release_incident_pauses_a_running_promotion(bot: Bot) -> None:
    """A release incident pauses every running promotion, freezes new ones, supplies the last
    known good block from the nodes, and its exported log has the timeline in order."""
    await bot.seed_restore_drill()
    promote = await bot.start("promote", version="v1.4.2", git_sha=SHA, environment="mainnet",
                              canary_window="1s", wave_window="1s")
    await bot.at(promote.id, "security-signoff")
    incident = await bot.start("incident-release", actor="UOP2", environment="mainnet",
                               severity="sev1", summary="chain split after v1.4.2")
    await bot.confirm(incident.id, "freeze-transactions", actor="UOP")
    promote = await bot.wait(promote.id, lambda r: r.status is RunStatus.PAUSED)
    assert await bot.service.freeze_state() is not None
    with pytest.raises(PromotionFrozen):
        await bot.start("promote", version="v1.4.3", git_sha=SHA, environment="mainnet")

    run = await bot.at(incident.id, "identify")
    height, block_hash = run.values["last_good_height"], run.values["last_good_hash"]
    assert bot.net("mainnet").nodes[0].block(height)["hash"] == block_hash
    assert run.values["paused_runs"] == [promote.id]
    await bot.confirm(incident.id, "identify", release="v1.4.2", reverted_to="v1.4.1")
    await bot.confirm(incident.id, "coordinate", rollback_height=str(height), snapshot="snap-42")
    await bot.confirm(incident.id, "advisory", link="https://status.example/advisory/7")
    await bot.confirm(incident.id, "review", actor="UOP2", **REVIEW)
    run = await bot.finished(incident.id)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    promote = await bot.store.get(promote.id)
    assert promote.status is RunStatus.PAUSED  # stays halted until someone resumes it

    log = render_incident_log(run, await bot.service.audit(run.id))
    assert "| Severity | sev1 |" in log
    assert f"| Last known good height | {height} |" in log
    assert REVIEW["root_cause"] in log
    assert "- [ ] default flags off in release builds" in log
    lines = [line for line in log.splitlines() if re.match(r"- \d{4}-\d\d-\d\d ", line)]
    order = [
        "**UOP2** started",
        "**parthenon-bot** Halt every running promotion: done",
        "**parthenon-bot** Freeze new promotions: done",
        "**UOP** confirmed Freeze new transactions",
        "**parthenon-bot** Last known good height and hash: done",
        "**UOP** confirmed Identify the affected release",
        "**UOP** confirmed Agree the rollback height",
        "**UOP** confirmed Publish the advisory",
        "**UOP2** confirmed Post-incident review",
    ]
    positions = [next(i for i, line in enumerate(lines) if want in line) for want in order]
    assert positions == sorted(positions)
    times = [line[2:25] for line in lines]
    assert times == sorted(times)
    assert all(t.endswith("UTC") for t in times)


async def test_supply_chain_incident_freezes_promotions(bot: Bot) -> None:
    """The bot freezes promotions first; security and release managers confirm the rest."""
    run = await bot.start("incident-supply-chain", environment="mainnet", severity="sev2")
    await bot.confirm(run.id, "rebuild", actor="URM1", commit=SHA, sbom_checksum=SUM)
    assert await bot.service.freeze_state() is not None
    with pytest.raises(PromotionFrozen):
        await bot.start("promote", version="v1.4.2", git_sha=SHA, environment="mainnet")
    await bot.confirm(run.id, "revoke", actor="USEC", revoked="npm publish token, signing key")
    await bot.confirm(run.id, "review", actor="USEC", **REVIEW)
    run = await bot.finished(run.id)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    assert run.values["trusted_commit"] == SHA
    assert [r.action for r in bot.net("mainnet").deploy.requests] == ["verify-ci"]


async def test_key_compromise_incident_restores_and_verifies_nodes(bot: Bot) -> None:
    """People isolate and rotate; the deploy system restores; the bot verifies network and
    health of every node before the review."""
    run = await bot.start("incident-key-compromise", environment="testnet", severity="sev2")
    await bot.confirm(run.id, "isolate", actor="USEC", host="test-3.example")
    await bot.confirm(run.id, "rotate", actor="USEC", rotated="rpc password, TLS cert")
    run = await bot.at(run.id, "review")
    assert set(state_of(run, "network").result["nodes"]) == {"test-1", "test-2", "test-3",
                                                             "test-4"}
    await bot.confirm(run.id, "review", **REVIEW)
    run = await bot.finished(run.id)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    log = render_incident_log(run, await bot.service.audit(run.id))
    assert "| Affected host | test-3.example |" in log
    assert "confirmed Isolate the affected host (host: test-3.example)" in log
