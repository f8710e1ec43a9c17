"""Request messages in a run's thread are settled in place: once the step is approved, rejected,
confirmed or the run aborted, the request loses its buttons and says what happened."""

from __future__ import annotations

import json

from bot.testing.slackworkspace import PostedMessage
from tests.scenarios.harness import (
    OPERATOR,
    Harness,
    action_ids,
    button_step,
    status_is,
    waiting_at,
)
from workflows.model import RunStatus

SUM = "ab" * 32


async def _settled(h: Harness, request: PostedMessage, needle: str) -> str:
    """The request's text once it has no buttons and says ``needle``."""
    def done() -> str | None:
        body = json.dumps(request.blocks)
        return body if not action_ids(request.blocks) and needle in body else None

    return await h.standin.wait_for(done, within=15)


async def test_approved_and_confirmed_requests_lose_their_buttons(harness: Harness) -> None:
    """The approval request ends "Approved by" both release managers, the confirmation request
    "Confirmed by" the operator; neither offers a button afterwards, and each was posted once."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(run_id, waiting_at("approve"))
    card = await h.card(run_id)
    approval = await h.reply_with(card, "run.approve")
    assert (await h.click("URM0002", approval, "run.approve")).status == 200
    card = await h.card(run_id, lambda m: "approved by <@URM0002>" in str(m.blocks))
    assert action_ids(approval.blocks)  # one of two approvals: the request stays open
    assert (await h.click("URM0003", approval, "run.approve")).status == 200
    body = await _settled(h, approval, "Approved by <@URM0002>, <@URM0003>")
    assert "Two release managers approve" in body

    await h.wait_run(run_id, waiting_at("sbom"))
    confirmation = await h.reply_with(card, "run.confirm")
    assert button_step(confirmation, "run.confirm") == "sbom"
    assert (await h.click(OPERATOR, confirmation, "run.confirm")).status == 200
    view = await h.standin.wait_for(lambda: h.standin.opened("modal.confirm"))
    assert (await h.submit(OPERATOR, view[-1], {"modal.input:checksum": SUM})).status == 200
    await _settled(h, confirmation, f"Confirmed by <@{OPERATOR}>")
    replies = h.standin.replies(card.channel, card.ts)
    assert sum("Approval needed" in r.text or "Approval:" in r.text for r in replies) == 1


async def test_a_rejected_request_says_who_rejected_and_why(harness: Harness) -> None:
    """A rejection through the reason modal settles the request: rejected by whom, the reason,
    no buttons; the run has failed."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(run_id, waiting_at("approve"))
    approval = await h.reply_with(await h.card(run_id), "run.approve")
    assert (await h.click("URM0002", approval, "run.reject")).status == 200
    view = await h.standin.wait_for(lambda: h.standin.opened("modal.reject"))
    reply = await h.submit("URM0002", view[-1], {"modal.reason": "wrong sha <!channel>"})
    assert reply.status == 200
    await h.wait_run(run_id, status_is(RunStatus.FAILED))
    body = await _settled(h, approval, "Rejected by <@URM0002>: wrong sha")
    assert "<!channel>" not in body


async def test_aborting_the_run_settles_the_open_confirmation(harness: Harness) -> None:
    """An abort while a confirmation is asked for settles that request: the run was aborted,
    with the reason."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", "maintenance testnet patching"))
    await h.wait_run(run_id, waiting_at("stop"))
    confirmation = await h.reply_with(await h.card(run_id), "run.confirm")
    assert (await h.command(OPERATOR, f"abort {run_id} window closed")).status == 200
    await h.wait_run(run_id, status_is(RunStatus.ABORTED))
    await _settled(h, confirmation, "The run was aborted")
    assert "window closed" in json.dumps(confirmation.blocks)
