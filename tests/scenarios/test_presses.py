"""A press is de-duplicated by what identifies its delivery (the action's action_ts, the trigger),
never by what the button showed: Slack delivering the same press again applies it once and
quietly; a second press is a press of its own, applied when it still applies and otherwise
answered with the reason."""

from __future__ import annotations

import copy
import json

from bot.testing.slackworkspace import PostedMessage
from tests.scenarios.harness import (
    OPERATOR,
    Harness,
    button_step,
    find_button,
    status_is,
    waiting_at,
)
from workflows.model import RunStatus

COMMAND = "promote v1.4.2 abc1234 testnet"


async def at_approval(h: Harness) -> tuple[str, PostedMessage]:
    run_id = await h.started_run(await h.command("URM0001", COMMAND))
    await h.wait_run(run_id, waiting_at("approve"))
    card = await h.card(run_id, lambda m: button_step(m, "run.pause") == "approve")
    return run_id, copy.deepcopy(card)  # the card as it stood: its buttons are not re-rendered


def said(h: Harness) -> list[str]:
    return [str(body.get("text", "")) + json.dumps(body.get("blocks", []))
            for _, body in h.standin.responses]


async def test_a_second_pause_from_a_card_not_yet_re_rendered_pauses_again(
    harness: Harness,
) -> None:
    """Pause, Resume, then Pause again from the card as it was before either (it has not been
    re-rendered yet): the run is paused again, not dropped as a redelivery."""
    h = harness
    run_id, old_card = await at_approval(h)
    assert (await h.click(OPERATOR, old_card, "run.pause")).status == 200
    await h.wait_run(run_id, status_is(RunStatus.PAUSED))
    assert (await h.command(OPERATOR, f"resume {run_id}")).status == 200
    await h.wait_run(run_id, status_is(RunStatus.WAITING))
    assert (await h.click(OPERATOR, old_card, "run.pause")).status == 200
    run = await h.wait_run(run_id, status_is(RunStatus.PAUSED))
    pauses = [e for e in await h.runtime.service.audit(run_id) if e.type == "pause"]
    assert len(pauses) == 2
    assert run.status is RunStatus.PAUSED


async def test_a_press_that_no_longer_applies_is_answered_with_why(harness: Harness) -> None:
    """Pause pressed twice (two presses, the run paused by the first): the second is told the
    run is already paused; Slack redelivering the first press says nothing."""
    h = harness
    run_id, card = await at_approval(h)
    first = h.click_body(OPERATOR, find_button(card.blocks, "run.pause"), card)
    assert (await h.post(first)).status == 200
    await h.wait_run(run_id, status_is(RunStatus.PAUSED))
    assert (await h.post(first, headers={"X-Slack-Retry-Num": "1",
                                         "X-Slack-Retry-Reason": "http_timeout"})).status == 200
    await h.bot.deferred.drain()
    assert h.standin.responses == []  # the redelivery is quiet
    assert (await h.click(OPERATOR, card, "run.pause")).status == 200
    await h.bot.deferred.drain()
    assert any("already paused" in s for s in said(h))
    assert len([e for e in await h.runtime.service.audit(run_id) if e.type == "pause"]) == 1


async def test_a_second_approve_by_the_same_person_is_told_they_already_approved(
    harness: Harness,
) -> None:
    """One vote counts; the second press is answered "you have already approved this step"."""
    h = harness
    run_id, card = await at_approval(h)
    assert (await h.click("URM0002", card, "run.approve")).status == 200
    assert (await h.click("URM0002", card, "run.approve")).status == 200
    await h.bot.deferred.drain()
    run = await h.run(run_id)
    approval = run.current[1].approval if run.current else None
    assert approval is not None
    assert [v.user for v in approval.votes] == ["URM0002"]
    assert any("you have already approved this step" in s for s in said(h))


async def test_export_pressed_twice_posts_once_and_says_so(harness: Harness) -> None:
    """The incident card's Export pressed twice: the log is posted once, the second press is
    told it was just asked for; Slack redelivering the first press says nothing."""
    h = harness
    run_id = await h.started_run(await h.command("UOP0001", "incident release node 3 forked"))
    card = copy.deepcopy(await h.card(run_id, lambda m: "run.export" in str(m.blocks)))
    first = h.click_body("UOP0001", find_button(card.blocks, "run.export"), card)
    assert (await h.post(first)).status == 200
    assert (await h.post(first, headers={"X-Slack-Retry-Num": "1"})).status == 200
    await h.bot.deferred.drain()
    assert h.standin.responses == []
    assert (await h.click("UOP0001", card, "run.export")).status == 200
    await h.bot.deferred.drain()
    posted = [r for r in h.standin.replies(card.channel, card.ts)
              if r.text.startswith("Incident log of")]
    assert len(posted) == 1
    assert any("was asked for a moment ago" in s for s in said(h))
