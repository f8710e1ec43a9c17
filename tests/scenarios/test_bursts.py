"""Under a burst of Slack requests, acks come first: `status` and `runs` ack at once and answer
through the response_url; alone, they answer in the ack as before."""

from __future__ import annotations

import json
from typing import Any

from tests.scenarios.harness import OPERATOR, OUTSIDER, Harness, waiting_at


async def _answer(h: Harness, before: int) -> tuple[str, dict[str, Any]]:
    """The first response_url answer posted after ``before`` answers had arrived."""
    return await h.standin.wait_for(
        lambda: h.standin.responses[before] if len(h.standin.responses) > before else None)


async def test_status_during_a_burst_acks_at_once_and_answers_through_the_response_url(
    harness: Harness,
) -> None:
    """While other requests are being served, `status` gets an empty ack and its list of
    active runs arrives at its response_url, as an ephemeral message."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(run_id, waiting_at("approve"))
    before = len(h.standin.responses)
    with h.bot.context.pressure.serving():  # another request, still waiting for its ack
        reply = await h.command(OUTSIDER, "status")
    assert reply.status == 200
    assert reply.text == ""
    name, body = await _answer(h, before)
    assert name.startswith("cmd-")
    assert body["response_type"] == "ephemeral"
    assert body["replace_original"] is False
    assert run_id in json.dumps(body["blocks"])


async def test_runs_and_one_runs_card_during_a_burst_answer_through_the_response_url(
    harness: Harness,
) -> None:
    """`runs` and `status <id>` answer the same way under a burst; the card shows only the
    buttons the asker may use."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(run_id, waiting_at("approve"))
    with h.bot.context.pressure.serving():
        before = len(h.standin.responses)
        assert (await h.command(OUTSIDER, "runs")).text == ""
        listed = (await _answer(h, before))[1]
        before = len(h.standin.responses)
        assert (await h.command("URM0002", f"status {run_id}")).text == ""
        card = (await _answer(h, before))[1]
        before = len(h.standin.responses)
        assert (await h.command(OUTSIDER, f"status {run_id}")).text == ""
        outsider = (await _answer(h, before))[1]
    assert run_id in json.dumps(listed["blocks"])
    assert card["blocks"][0]["type"] == "header"
    assert "run.approve" in json.dumps(card["blocks"])
    assert "run.approve" not in json.dumps(outsider["blocks"])


async def test_a_refusal_during_a_burst_is_answered_through_the_response_url(
    harness: Harness,
) -> None:
    """`status` of a run that does not exist, asked under a burst, is acked and then told
    what was wrong, as the error handler would have said it in the ack."""
    h = harness
    before = len(h.standin.responses)
    with h.bot.context.pressure.serving():
        reply = await h.command(OPERATOR, "status r20990101-nope")
    assert reply.text == ""
    body = (await _answer(h, before))[1]
    assert "no run 'r20990101-nope'" in body["text"]
    assert body["response_type"] == "ephemeral"


async def test_commands_that_change_something_still_answer_in_the_ack_during_a_burst(
    harness: Harness,
) -> None:
    """A start under a burst is recorded before its ack and says so in the ack itself."""
    h = harness
    with h.bot.context.pressure.serving():
        reply = await h.command("URM0001", "promote v1.4.2 abc1234 testnet")
    run_id = await h.started_run(reply)
    assert run_id in reply.text
    assert (await h.run(run_id)).id == run_id


async def test_status_alone_answers_in_the_ack(harness: Harness) -> None:
    """With no other request being served, `status` answers in the ack, as it always did."""
    reply = await harness.command(OUTSIDER, "status")
    assert reply.json["response_type"] == "ephemeral"
    assert "Active runs" in json.dumps(reply.json["blocks"])


async def test_cards_are_still_posted_one_at_a_time_while_requests_are_served(
    harness: Harness,
) -> None:
    """Card work takes its turn while a request is in flight: every run's card is posted all
    the same, each sync having waited for its turn in the background lane."""
    h = harness
    pressure = h.bot.context.pressure
    with pressure.serving():
        ids = [await h.started_run(await h.command("URM0001", f"promote v1.4.{n} abc1234 testnet"))
               for n in range(3)]
        cards = [await h.card(run_id) for run_id in ids]
        assert pressure.waited >= len(ids)
    assert len({(c.channel, c.ts) for c in cards}) == len(ids)


async def test_status_asks_during_a_burst_share_readings_and_each_gets_its_answer(
    harness: Harness,
) -> None:
    """Twenty `status` asks at once, under a burst: each is acked empty and gets its own answer
    at its response_url, showing the run started before it; the asks waiting for their turn
    share readings (fewer readings than asks)."""
    import asyncio

    h = harness
    run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(run_id, waiting_at("approve"))
    shared = h.bot.context.shared
    readings = shared.readings
    before = len(h.standin.responses)
    with h.bot.context.pressure.serving():
        replies = await asyncio.gather(*(h.command(OUTSIDER, "status") for _ in range(20)))
        assert all(r.status == 200 and r.text == "" for r in replies)
    answers = await h.standin.wait_for(
        lambda: h.standin.responses[before:] if len(h.standin.responses) >= before + 20
        else None)
    assert len(answers) == 20
    assert len({name for name, _ in answers}) == 20  # one answer per ask, at its own url
    assert all(run_id in json.dumps(body["blocks"]) for _, body in answers)
    assert shared.readings - readings < 20
