"""What the bot offers to start: a rollback after a halted release, a drill that is due."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.scenarios.harness import OPERATOR, OPS, Harness, find_button, running_bot, status_is
from tests.unit.slack.definitions import definition, definitions
from workflows.model import Run, RunStatus

# A maintenance whose check always fails and offers a rollback, like a halted canary.
HALTING = """
name: maintenance
title: Halting maintenance
category: release
parameters:
  - {name: environment, choices: [testnet]}
steps:
  - id: watch
    title: Watch the canary
    kind: bot
    with: {action: no-such-check}
    on_failure: abort
    offer_on_failure: rollback
"""


@pytest.fixture
async def harness(redis_url: str) -> AsyncIterator[Harness]:
    defs = {**definitions(), "maintenance": definition(HALTING)}
    async with running_bot(redis_url, defs) as h:
        yield h


async def runs_of(h: Harness, workflow: str, within: float = 10.0) -> list[Run]:
    """Every run of ``workflow`` (active or recent), once there is at least one."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        service = h.runtime.service
        found = [r for r in [*await service.active_runs(), *await service.recent_runs(50)]
                 if r.workflow == workflow]
        if found or asyncio.get_running_loop().time() > deadline:
            return list({r.id: r for r in found}.values())
        await asyncio.sleep(0.02)


async def test_a_halted_release_offers_a_rollback_that_starts_once(harness: Harness) -> None:
    """The failed run's card carries "Start rollback"; pressing it twice starts one rollback
    with the parameters it shares with the failed run, linked to it, in the same channel."""
    h = harness
    canary_id = await h.started_run(await h.command(OPERATOR, "maintenance testnet"))
    failed = await h.wait_run(canary_id, status_is(RunStatus.FAILED))
    assert failed.offer == "rollback"
    card = await h.card(canary_id, lambda m: "workflow.start" in str(m.blocks))
    assert find_button(card.blocks, "workflow.start")["text"]["text"] == "Start rollback"
    assert (await h.click(OPERATOR, card, "workflow.start")).status == 200
    assert (await h.click(OPERATOR, card, "workflow.start")).status == 200
    [rollback] = await runs_of(h, "rollback")
    assert rollback.params == {"environment": "testnet"}
    assert rollback.parent_run_id == canary_id
    assert rollback.channel == OPS
    await h.standin.wait_for(lambda: [r for r in h.standin.responses
                                      if rollback.id in str(r[1])])


async def test_the_offer_is_refused_to_someone_who_may_not_start_it(harness: Harness) -> None:
    """An outsider pressing "Start rollback" is told why and nothing starts."""
    h = harness
    canary_id = await h.started_run(await h.command(OPERATOR, "maintenance testnet"))
    await h.wait_run(canary_id, status_is(RunStatus.FAILED))
    card = await h.card(canary_id, lambda m: "workflow.start" in str(m.blocks))
    await h.click("UOUT001", card, "workflow.start")
    [(_, answer)] = await h.standin.wait_for(lambda: h.standin.responses)
    assert "not allowed to start rollback" in answer["text"]
    assert await runs_of(h, "rollback", within=0.3) == []


async def test_a_due_drill_is_reminded_in_the_ops_channel_with_a_start_button(
    harness: Harness,
) -> None:
    """The drill scheduler's reminder is posted to the ops channel; its button starts the
    drill (drills whose workflow is not loaded get no button)."""
    h = harness
    queued = await h.bot.drills.tick()
    assert {r.workflow for r in queued} >= {"restore-drill"}
    posted = await h.standin.wait_for(lambda: [
        m for m in h.standin.channel_messages(OPS) if "restore drill" in m.text.lower()])
    reminder = posted[0]
    assert find_button(reminder.blocks, "workflow.start")["text"]["text"] == "Start drill"
    others = [m for m in h.standin.channel_messages(OPS)
              if "drill" in m.text.lower() and m is not reminder]
    assert all("workflow.start" not in str(m.blocks) for m in others)
    await h.click(OPERATOR, reminder, "workflow.start")
    [drill] = await runs_of(h, "restore-drill")
    assert drill.initiator == OPERATOR
