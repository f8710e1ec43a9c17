"""A promotion-like run driven from Slack to its end: command, card, two approvers clicking,
a confirmation with an input through a modal, a timer, a last confirmation."""

from __future__ import annotations

from tests.scenarios.harness import (
    OPERATOR,
    OPS,
    Harness,
    action_ids,
    button_step,
    status_is,
    waiting_at,
)
from workflows.model import RunStatus, StepStatus

SUM = "ab" * 32


async def test_promotion_with_two_approvers_clicking_to_the_end(harness: Harness) -> None:
    """Two release managers approve by button, an operator confirms the SBOM checksum in a
    modal and the last step by button; the card ends showing every step done."""
    h = harness
    reply = await h.command("URM0001", "promote v1.4.2 abc1234 testnet")
    assert reply.status == 200
    assert reply.json["response_type"] == "ephemeral"
    run_id = await h.started_run(reply)

    run = await h.wait_run(run_id, waiting_at("approve"))
    card = await h.card(run_id, lambda m: "run.approve" in action_ids(m.blocks))
    assert card.channel == OPS
    request = await h.reply_with(card, "run.approve")
    text = request.blocks[0]["text"]["text"]
    assert "<@URM0002> <@URM0003>" in text
    assert "<@URM0001>" not in text  # the initiator may not approve: not asked to
    assert run.plan_hash in text

    assert (await h.click("URM0002", request, "run.approve")).status == 200
    card = await h.card(run_id, lambda m: "approved by <@URM0002>" in str(m.blocks))
    assert (await h.click("URM0003", card, "run.approve")).status == 200

    run = await h.wait_run(run_id, waiting_at("sbom"))
    card = await h.card(run_id, lambda m: button_step(m, "run.confirm") == "sbom")
    assert (await h.click(OPERATOR, card, "run.confirm")).status == 200
    view = await h.standin.wait_for(lambda: h.standin.opened("modal.confirm"))
    reply = await h.submit(OPERATOR, view[-1], {"modal.input:checksum": SUM})
    assert reply.status == 200
    assert reply.text == ""  # an empty ack closes the modal

    run = await h.wait_run(run_id, waiting_at("done"))
    assert run.values["sbom"] == SUM
    card = await h.card(run_id, lambda m: button_step(m, "run.confirm") == "done")
    assert (await h.click(OPERATOR, card, "run.confirm")).status == 200

    run = await h.wait_run(run_id, status_is(RunStatus.SUCCEEDED))
    assert [s.status for s in run.steps] == [StepStatus.SUCCEEDED] * 5
    final = await h.card(run_id, lambda m: m.text.endswith(": succeeded"))
    assert action_ids(final.blocks) == []
    assert str(final.blocks).count(":white_check_mark:") >= 5
    kinds = [e.type for e in await h.runtime.service.audit(run_id)]
    assert kinds.count("approve") == 2
    assert kinds.count("confirm") == 2
    finished = await h.standin.wait_for(lambda: [
        r for r in h.standin.replies(card.channel, card.ts) if "all steps done" in r.text])
    assert len(finished) == 1
