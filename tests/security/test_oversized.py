"""Oversized input is refused with a message that says what was too long, and changes nothing:
a command line, a free-text parameter, a named parameter, a reason typed in a form, a manual
step's input, a button's value, a request body."""

from __future__ import annotations

import io
import json
import time

from bot.slack.ids import CallbackId
from tests.scenarios.harness import OPERATOR, Harness, find_button, sign, waiting_at

COMMAND = "promote v1.4.2 abc1234 testnet"


async def no_run(h: Harness) -> bool:
    return await h.runtime.service.active_runs() == []


async def test_an_oversized_command_line_is_refused(harness: Harness) -> None:
    """More than 4,000 characters: told so, nothing starts."""
    reply = await harness.command(OPERATOR, f"maintenance testnet {'x' * 4100}")
    assert reply.status == 200
    assert "longer than 4000 characters" in reply.json["text"]
    assert await no_run(harness)


async def test_an_oversized_free_text_parameter_is_refused(harness: Harness) -> None:
    """A maintenance reason over 1,000 characters: named and refused."""
    reply = await harness.command(OPERATOR, f"maintenance testnet {'why ' * 300}")
    assert "reason is longer than 1000 characters" in reply.json["text"]
    assert await no_run(harness)


async def test_an_oversized_named_parameter_is_refused(harness: Harness) -> None:
    """An optional parameter given by name beyond its definition's length: named, refused."""
    reply = await harness.command(OPERATOR, f"maintenance testnet disks window={'9' * 300}")
    assert "window is longer than 200 characters" in reply.json["text"]
    assert await no_run(harness)


async def test_an_oversized_abort_reason_is_refused(harness: Harness) -> None:
    """An abort reason typed on the command line over 1,000 characters: refused, still running."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", COMMAND))
    reply = await h.command(OPERATOR, f"abort {run_id} {'no ' * 400}")
    assert "longer than 1000 characters" in reply.json["text"]
    assert not (await h.run(run_id)).terminal


async def test_an_oversized_reason_in_a_form_is_refused_on_its_field(harness: Harness) -> None:
    """A reject form carrying 1,500 characters (Slack's own limit bypassed): the form shows
    the error on the reason field; the run is not rejected."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", COMMAND))
    await h.wait_run(run_id, waiting_at("approve"))
    card = await h.card(run_id, lambda m: "run.reject" in str(m.blocks))
    await h.click("URM0002", card, "run.reject")
    [view] = await h.standin.wait_for(lambda: h.standin.opened(str(CallbackId.REJECT)))
    reply = await h.submit("URM0002", view, {"modal.reason": "r" * 1500})
    assert reply.json["response_action"] == "errors"
    assert "longer than 1000 characters" in json.dumps(reply.json["errors"])
    run = await h.run(run_id)
    assert not run.terminal


async def test_an_oversized_step_input_is_refused_on_its_field(harness: Harness) -> None:
    """A manual step's input longer than its definition allows: shown on the field, the step
    still waits."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", COMMAND))
    await h.wait_run(run_id, waiting_at("approve"))
    for user in ("URM0002", "URM0003"):
        card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))
        await h.click(user, card, "run.approve")
    await h.wait_run(run_id, waiting_at("sbom"))
    card = await h.card(run_id, lambda m: "run.confirm" in str(m.blocks))
    await h.click(OPERATOR, card, "run.confirm")
    [view] = await h.standin.wait_for(lambda: h.standin.opened(str(CallbackId.CONFIRM)))
    reply = await h.submit(OPERATOR, view, {"modal.input:checksum": "a" * 5000})
    assert reply.json["response_action"] == "errors"
    assert "longer than" in json.dumps(reply.json["errors"])
    assert (await h.run(run_id)).current[0].id == "sbom"  # type: ignore[index]


async def test_an_oversized_button_value_is_refused(harness: Harness) -> None:
    """A button value far beyond what the bot writes: refused as unreadable, nothing changes."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", COMMAND))
    await h.wait_run(run_id, waiting_at("approve"))
    card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))
    before = await h.run(run_id)
    button = {**find_button(card.blocks, "run.approve"), "value": "{" + " " * 5000 + "}"}
    assert (await h.post(h.click_body("URM0002", button, card))).status == 200
    [(_, answer)] = await h.standin.wait_for(lambda: h.standin.responses)
    assert "no readable data" in answer["text"]
    assert (await h.run(run_id)).version == before.version


async def test_an_oversized_request_body_is_refused(harness: Harness) -> None:
    """A body over 1 MiB, signed, is refused by the web server before anything reads it."""
    body = harness.command_body(OPERATOR, "x" * (1024 * 1024 + 10))
    ts = int(time.time())
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sign(body, ts)}
    async with harness.http.post(f"{harness.url}/slack/events",
                                 data=io.BytesIO(body.encode()), headers=headers) as response:
        assert response.status == 413
    assert await no_run(harness)
