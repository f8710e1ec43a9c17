"""On the devnet (simulated nodes speaking the real RPC dialect) with the shipped definitions:
a full promotion to testnet driven from Slack, and `/parthenon health`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.devnet import Devnet
from bot.runtime import DEFINITIONS_DIR
from bot.testing.devnets import three_devnets
from tests.integration.runbook.conftest import SHA, config_for
from tests.scenarios.harness import Harness, button_step, running_bot
from workflows.definition import load_definitions
from workflows.model import RunStatus

APPROVER_FOR = {"security": "USEC", "release-managers": "URM2"}


@pytest.fixture
async def devnets() -> AsyncIterator[dict[str, Devnet]]:
    """regtest (2 nodes), testnet (4, one canary), mainnet (2); blocks every 0.1 s."""
    async with three_devnets(regtest=2, testnet=4, mainnet=2) as nets:
        yield nets


@pytest.fixture
async def devnet_bot(redis_url: str, devnets: dict[str, Devnet]) -> AsyncIterator[Harness]:
    config, _ = config_for(devnets)
    async with running_bot(redis_url, load_definitions(DEFINITIONS_DIR), config=config) as h:
        yield h


async def test_full_promotion_to_testnet_with_approvers_clicking(
    devnet_bot: Harness, devnets: dict[str, Devnet]
) -> None:
    """`/parthenon promote` on the devnet: security signs off and a release manager approves
    each wave by button; the deploy system installs, the bot verifies, the card ends green."""
    h = devnet_bot
    await h.seed_restore_drill(days_ago=3)
    reply = await h.command("URM1", f"promote v1.4.2 {SHA} testnet canary_window=1s "
                                    "wave_window=1s")
    run_id = await h.started_run(reply)
    clicked: list[tuple[str, str]] = []
    loop_guard = 0
    while True:
        run = await h.wait_run(run_id, lambda r: r.terminal or (
            r.status is RunStatus.WAITING and r.current is not None
            and r.current[1].approval is not None), within=90)
        if run.terminal:
            break
        assert run.current is not None
        step, state = run.current
        assert state.approval is not None
        user = APPROVER_FOR[state.approval.policy.groups[0]]
        card = await h.card(run_id, lambda m, s=step.id: button_step(m, "run.approve") == s)
        assert (await h.click(user, card, "run.approve")).status == 200
        await h.wait_run(run_id, lambda r, s=step.id: r.current is None or r.current[0].id != s)
        clicked.append((step.id, user))
        loop_guard += 1
        assert loop_guard < 10
    assert run.status is RunStatus.SUCCEEDED, run.reason
    assert clicked == [("security-signoff", "USEC"), ("wave-1.approve", "URM2"),
                       ("wave-2.approve", "URM2"), ("wave-3.approve", "URM2")]
    assert all(node.version == "v1.4.2" for node in devnets["testnet"].nodes)
    final = await h.card(run_id, lambda m: m.text.endswith(": succeeded"))
    assert ":x:" not in json.dumps(final.blocks)
    assert ":no_entry:" not in json.dumps(final.blocks)
    requests = [r for r in h.standin.replies(final.channel, final.ts)
                if "Approval needed" in (r.edits[0]["text"] if r.edits else r.text)]
    assert len(requests) == 4
    settled = await h.standin.wait_for(lambda: all(
        "run.approve" not in json.dumps(r.blocks) for r in requests))
    assert settled
    assert all("Approved by <@" in json.dumps(r.blocks) for r in requests)
    [end] = await h.standin.wait_for(lambda: [
        r for r in h.standin.replies(final.channel, final.ts) if "Release metadata" in
        json.dumps(r.blocks)])
    posted = json.dumps(end.blocks)
    assert "`release:v1.4.2`" in posted
    assert f"Release v1.4.2 ({SHA[:12]}) to testnet" in posted
    assert "approved by <@URM2>, <@USEC>" in posted
    record = await h.runtime.store.get_record("release:v1.4.2")
    assert record["git_sha"] == SHA


async def test_health_shows_each_nodes_figures(
    devnet_bot: Harness, devnets: dict[str, Devnet]
) -> None:
    """`/parthenon health testnet` acks at once, then answers with every node's height, tip,
    peers, syncing and version, read from /health and RPC."""
    h = devnet_bot
    reply = await h.command("UOP", "health testnet")
    assert "Asking the 4 nodes" in reply.text
    [(_, table)] = await h.standin.wait_for(lambda: h.standin.responses, within=20)
    body = json.dumps(table["blocks"])
    assert "4 of 4 nodes ok" in body
    for node in devnets["testnet"].nodes:
        assert node.name in body
    # getinfo.version, which the daemon answers as the constant 100, not the installed release
    assert "1.0.0" not in body
    unknown = await h.command("UOP", "health nowhere")
    assert "no environment 'nowhere'" in unknown.json["text"]
    outsider = await h.command("UOUT001", "health testnet")
    assert "only members of a configured group" in outsider.json["text"]
