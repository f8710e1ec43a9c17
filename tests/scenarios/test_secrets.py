"""No token and no signing secret in any log line or any call the bot makes to Slack."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import pytest

from bot.serve import serve
from bot.testing.standin import SlackStandIn
from tests.scenarios.harness import (
    APP_TOKEN,
    BOT_TOKEN,
    OPS,
    SIGNING_SECRET,
    Harness,
    running_bot,
    scenario_config,
    settings_for,
    status_is,
    waiting_at,
)
from tests.unit.slack.definitions import definitions
from workflows.model import RunStatus

SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET)


def leaks(text: str) -> list[str]:
    found = []
    for secret in SECRETS:
        for part in (secret, secret[5:25], secret[-20:]):
            if part in text:
                found.append(part)
    return found


def recorded(standin: SlackStandIn) -> str:
    return json.dumps({
        "calls": [[c.method, c.args, c.response] for c in standin.calls],
        "responses": standin.responses,
        "socket": standin.socket_messages,
    }, default=str)


async def drive(h: Harness) -> None:
    """Commands, clicks, a modal, errors, and card updates: most of what the bot does."""
    run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(run_id, waiting_at("approve"))
    card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))
    await h.click("UOUT001", card, "run.approve")  # refused
    await h.command("URM0001", "promote nope")  # wrong form
    await h.command("URM0001", "health testnet")  # nodes unreachable: errors after the ack
    await h.click("URM0002", card, "run.reject")
    [view] = await h.standin.wait_for(lambda: h.standin.opened("modal.reject"))
    await h.submit("URM0002", view, {"modal.reason": "no"})
    await h.wait_run(run_id, status_is(RunStatus.FAILED))
    await h.card(run_id, lambda m: m.text.endswith(": failed"))
    await h.standin.wait_for(lambda: len(h.standin.responses) >= 2)
    await h.bot.deferred.drain()


async def test_no_secret_in_logs_or_slack_calls_over_http(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, across a whole run driven over HTTP, no secret appears in a log line, a
    recorded Web API call, its answer, or a response_url post."""
    caplog.set_level(logging.DEBUG)
    async with running_bot(redis_url, definitions()) as h:
        await drive(h)
        assert h.standin.calls
        assert all(c.authorized for c in h.standin.calls)  # the token was sent, in the header
        assert leaks(recorded(h.standin)) == []
        assert leaks(repr(h.bot.settings)) == []
    assert len(caplog.records) > 20
    assert leaks(caplog.text) == []


async def test_no_secret_in_logs_in_socket_mode(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """In Socket Mode (the app token opens the socket) no secret reaches a log or the socket."""
    caplog.set_level(logging.DEBUG)
    standin = SlackStandIn(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    await standin.start()
    stop = asyncio.Event()
    up = asyncio.Event()
    task = asyncio.create_task(serve(
        settings_for(standin, redis_url, socket_mode=True), scenario_config(), port=0,
        definitions=definitions(), stop=stop, on_started=lambda *_: up.set()))
    await asyncio.wait_for(up.wait(), 15)
    payload = {
        "team_id": standin.team_id, "channel_id": OPS, "user_id": "URM0001",
        "command": "/parthenon", "text": "promote v1.4.2 abc1234 testnet",
        "response_url": standin.response_url("s"), "trigger_id": uuid.uuid4().hex,
    }
    await standin.send_envelope("slash_commands", payload)
    await standin.wait_for(lambda: standin.channel_messages(OPS))
    stop.set()
    await asyncio.wait_for(task, 20)
    await standin.stop()
    assert leaks(recorded(standin)) == []
    assert leaks(caplog.text) == []
