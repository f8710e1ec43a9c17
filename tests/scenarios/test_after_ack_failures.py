"""Slack failing after the ack: a 5xx whose body is not JSON (as Slack's edge, or a proxy,
answers), a refused response_url. Whatever fails, the person who pressed or typed is told what did
not happen and what to do, by the next way that works (response_url, ephemeral, direct message),
and nothing is logged as an unexpected error."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from bot.testing.slackworkspace import PostedMessage
from tests.scenarios.harness import OPS, Harness, button_step, find_button, waiting_at

COMMAND = "promote v1.4.2 abc1234 testnet"
UNREACHABLE = "http://127.0.0.1:9/response-url"  # loopback, nothing listens: refused


async def waiting_card(h: Harness) -> tuple[str, PostedMessage]:
    run_id = await h.started_run(await h.command("URM0001", COMMAND))
    await h.wait_run(run_id, waiting_at("approve"))
    card = await h.card(run_id, lambda m: button_step(m, "run.abort") == "approve")
    await h.reply_with(card, "run.approve")  # the request is posted: the notifier is quiet
    return run_id, card


def answers(h: Harness) -> list[str]:
    """Everything said to people after the ack: response_url posts, ephemerals, DMs."""
    said = [json.dumps(body) for _, body in h.standin.responses]
    said += [json.dumps(c.args) for c in h.standin.calls
             if c.method == "chat.postEphemeral" and c.ok]
    said += [json.dumps(c.args) for c in h.standin.calls_of("chat.postMessage")
             if c.ok and str(c.args.get("channel", "")).startswith("U")]
    return said


def unexpected(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if r.levelno >= logging.ERROR or r.exc_info]


def with_response_url(body: str, url: str | None) -> str:
    params = dict(parse_qsl(body))
    payload: dict[str, Any] = json.loads(params["payload"])
    if url is None:
        payload.pop("response_url", None)
    else:
        payload["response_url"] = url
    return urlencode({"payload": json.dumps(payload)})


async def test_a_form_slack_fails_to_open_is_said_to_the_one_who_pressed(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Abort… while views.open answers 503 with an HTML-ish body (twice: the retry too): the
    presser is told the form did not open and to press again; no unexpected error."""
    h = harness
    _, card = await waiting_card(h)
    h.standin.fail("views.open", status=503, times=2)
    assert (await h.click("UOP0001", card, "run.abort")).status == 200
    await h.bot.deferred.drain()
    assert h.standin.opened("modal.abort") == []
    assert any("The form did not open" in said and "press the button again" in said
               for said in answers(h))
    assert unexpected(caplog.records) == []


async def test_the_abort_form_slack_fails_to_open_from_the_command_says_how_to_give_a_reason(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """`/parthenon abort <run>` without a reason while views.open fails: told to give the
    reason in the command."""
    h = harness
    run_id, _ = await waiting_card(h)
    h.standin.fail("views.open", status=502, times=2)
    assert (await h.command("UOP0001", f"abort {run_id}")).status == 200
    await h.bot.deferred.drain()
    assert any("give the reason in the command" in said for said in answers(h))
    assert unexpected(caplog.records) == []


async def test_every_way_of_answering_failing_but_one_still_reaches_the_person(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The click's response_url refuses the connection, chat.postEphemeral answers 503 (not
    JSON): the answer arrives as a direct message."""
    h = harness
    _, card = await waiting_card(h)
    h.standin.fail("views.open", status=503, times=2)
    h.standin.fail("chat.postEphemeral", status=503, times=2)
    body = with_response_url(
        h.click_body("UOP0001", find_button(card.blocks, "run.reject"), card), UNREACHABLE)
    assert (await h.post(body)).status == 200
    await h.bot.deferred.drain()
    dms = [c for c in h.standin.calls_of("chat.postMessage")
           if c.ok and c.args.get("channel") == "UOP0001"]
    assert len(dms) == 1
    assert "The form did not open" in json.dumps(dms[0].args)
    assert unexpected(caplog.records) == []


async def test_an_export_slack_fails_to_post_says_so_and_how_else(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """`/parthenon export` while chat.postMessage answers 503 (not JSON) in the run's channel:
    the person is told it was not posted, with the code, and the CLI to use instead; asking
    again once Slack is back posts it."""
    h = harness
    run_id, card = await waiting_card(h)
    h.standin.fail("chat.postMessage", status=503, times=2, channel=OPS)
    assert (await h.command("UOP0001", f"export {run_id}")).status == 200
    await h.bot.deferred.drain()
    said = [s for s in answers(h) if "could not be posted" in s]
    assert len(said) == 1
    assert "HTTP 503" in said[0]
    assert f"parthenon-bot runs export {run_id}" in said[0]
    assert not [r for r in h.standin.replies(card.channel, card.ts)
                if r.text.startswith("Incident log of")]
    assert (await h.command("UOP0001", f"export {run_id}")).status == 200
    await h.bot.deferred.drain()
    assert [r for r in h.standin.replies(card.channel, card.ts)
            if r.text.startswith("Incident log of")]
    assert unexpected(caplog.records) == []


async def test_app_home_slack_fails_to_publish_is_said_in_a_direct_message(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Opening App Home while views.publish answers 500 (not JSON): a direct message says the
    Home could not be updated and to open it again."""
    h = harness
    h.standin.fail("views.publish", status=500, times=2)
    event = {"type": "app_home_opened", "user": "UOP0001", "channel": "D0OP", "tab": "home"}
    assert (await h.event(event)).status == 200
    await h.bot.deferred.drain()
    assert "UOP0001" not in h.standin.home
    assert any("App Home could not be updated" in said for said in answers(h))
    assert unexpected(caplog.records) == []
