"""A rollback's card shows the last known good height and hash its first step found (on the
devnet, through Slack): the people who approve the rollback point see the point."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.devnet import Devnet
from bot.runtime import DEFINITIONS_DIR
from tests.integration.runbook.conftest import config_for
from tests.scenarios.harness import Harness, button_step, running_bot, waiting_at
from workflows.definition import load_definitions
from workflows.model import StepStatus


@pytest.fixture
async def h(redis_url: str, testnet: Devnet) -> AsyncIterator[Harness]:
    config, _ = config_for({"testnet": testnet})
    async with running_bot(redis_url, load_definitions(DEFINITIONS_DIR), config=config) as bot:
        yield bot


async def test_the_rollback_card_shows_the_last_known_good_point_it_found(
    h: Harness, testnet: Devnet
) -> None:
    reply = await h.command("URM1", "rollback testnet v1.4.3")
    run_id = await h.started_run(reply)
    run = await h.wait_run(run_id, waiting_at("approve"), within=30)
    lkg = run.steps[run.index_of("lkg") or 0]
    assert lkg.status is StepStatus.SUCCEEDED
    height, found_hash = run.values["last_good_height"], run.values["last_good_hash"]
    assert found_hash == testnet.chain.block_hash(int(height))  # what the nodes agree on
    card = await h.card(run_id, lambda m: button_step(m, "run.approve") == "approve")
    steps = " ".join(b["text"]["text"] for b in card.blocks
                     if str(b.get("block_id", "")).startswith("card.steps"))
    line = next(line for line in steps.splitlines() if "last known good" in line)
    assert f"found: last_good_height `{height}`, last_good_hash `{found_hash}`" in line
