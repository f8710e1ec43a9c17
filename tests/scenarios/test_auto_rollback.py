"""Automatic rollback through Slack, on the devnets with the shipped definitions: mainnet's
``policy.on_gate_failure: rollback``; a promotion whose first wave loses a node's peers halts at
its health gate and the bot starts the rollback to the last recorded release at once, says so in
the promotion's thread and on its card, and the rollback's card asks two release managers, who
approve it by button. Without a recorded release the card keeps its button and says why."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest

from bot.devnet import Devnet
from bot.runtime import DEFINITIONS_DIR
from bot.testing.devnets import three_devnets
from bot.testing.slackworkspace import PostedMessage
from tests.integration.runbook.conftest import SHA, config_for
from tests.scenarios.harness import Harness, button_step, find_button, running_bot
from workflows.definition import load_definitions
from workflows.model import Run, RunStatus


@pytest.fixture
async def devnets() -> AsyncIterator[dict[str, Devnet]]:
    """regtest (2 nodes), testnet (3, one canary), mainnet (2, one canary); 0.1 s blocks."""
    async with three_devnets(regtest=2, testnet=3, mainnet=2) as nets:
        yield nets


@pytest.fixture
async def h(redis_url: str, devnets: dict[str, Devnet]) -> AsyncIterator[Harness]:
    config, _ = config_for(devnets, policy={"mainnet": {"on_gate_failure": "rollback"}})
    async with running_bot(redis_url, load_definitions(DEFINITIONS_DIR), config=config) as bot:
        await bot.seed_restore_drill(days_ago=3)
        yield bot


async def approve_by_button(h: Harness, run_id: str, step_id: str, *users: str) -> None:
    await h.wait_run(run_id, lambda r: r.current is not None and r.current[0].id == step_id
                     and r.current[1].approval is not None, within=60)
    for user in users:
        card = await h.card(run_id, lambda m: button_step(m, "run.approve") == step_id)
        assert (await h.click(user, card, "run.approve")).status == 200
    await h.wait_run(run_id, lambda r: r.current is None or r.current[0].id != step_id,
                     within=30)


async def halted_wave(h: Harness, devnets: dict[str, Devnet]) -> str:
    """/parthenon promote v1.5.1 to mainnet, approved by button; main-1 has lost its peers."""
    devnets["mainnet"].nodes[0].faults.peers = 0
    reply = await h.command("UOP", f"promote v1.5.1 {SHA} mainnet canary_window=1s "
                                   "wave_window=1s")
    run_id = await h.started_run(reply)
    await approve_by_button(h, run_id, "security-signoff", "USEC")
    await approve_by_button(h, run_id, "wave-1.approve-mainnet", "URM1", "URM2")
    return run_id


def thread_says(h: Harness, card: PostedMessage, text: str) -> Callable[[], list[str]]:
    def check() -> list[str]:
        return [r.text for r in h.standin.replies(card.channel, card.ts) if text in r.text]
    return check


async def test_the_bot_rolls_back_a_failed_wave_and_people_approve_the_rollback(
    h: Harness, devnets: dict[str, Devnet]
) -> None:
    store = h.runtime.store
    await store.put_record("release:latest:mainnet", {
        "workflow": "promote", "run_id": "r-v142", "version": "v1.4.2", "environment": "mainnet"})
    promotion_id = await halted_wave(h, devnets)
    ended = await h.wait_run(promotion_id, lambda r: r.terminal, within=60)
    assert ended.status is RunStatus.ABORTED
    rollback_id = ended.superseded_by
    assert rollback_id is not None
    said = f"rolled back automatically: {rollback_id}"

    card = await h.card(promotion_id, lambda m: said in json.dumps(m.blocks))
    assert "workflow.start" not in json.dumps(card.blocks)  # nothing left to press
    [line] = await h.standin.wait_for(thread_says(h, card, said))
    assert "on_gate_failure is rollback" in line

    rollback: Run = await h.run(rollback_id)
    assert rollback.parent_run_id == promotion_id
    assert (rollback.params["environment"], rollback.params["version"]) == ("mainnet", "v1.4.2")
    # The rollback's own approval: two release managers, by button on its card.
    await approve_by_button(h, rollback_id, "approve-mainnet", "URM1", "URM3")
    moved = await h.run(rollback_id)
    assert moved.current is not None
    assert moved.current[0].id != "approve-mainnet"
    assert [r.id for r in await h.runtime.service.recent_runs(50)
            if r.workflow == "rollback"] + [r.id for r in await h.runtime.service.active_runs()
                                             if r.workflow == "rollback"] == [rollback_id]


async def test_without_a_recorded_release_the_card_keeps_its_button_and_says_why(
    h: Harness, devnets: dict[str, Devnet]
) -> None:
    promotion_id = await halted_wave(h, devnets)
    run = await h.wait_run(promotion_id, lambda r: r.auto_rollback is not None, within=60)
    assert run.status is RunStatus.BLOCKED
    card = await h.card(promotion_id, lambda m: "Not rolled back automatically" in
                        json.dumps(m.blocks))
    assert "no release of mainnet has been recorded" in json.dumps(card.blocks)
    assert find_button(card.blocks, "workflow.start")["text"]["text"] == "Start rollback…"
    [line] = await h.standin.wait_for(
        thread_says(h, card, "Not rolled back automatically: no release of mainnet"))
    assert "give the version" in line
    active = await h.runtime.service.active_runs()
    assert [r.workflow for r in active if r.workflow == "rollback"] == []
