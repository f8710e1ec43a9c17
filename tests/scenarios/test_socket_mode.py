"""Socket Mode: `serve` with SLACK_APP_TOKEN opens the WebSocket that apps.connections.open
hands out, answers each envelope with its ack, and still serves /healthz on its port."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from bot.app import SlackBot
from bot.serve import serve
from bot.testing.standin import SlackStandIn
from tests.scenarios.harness import (
    APP_TOKEN,
    BOT_TOKEN,
    OPS,
    find_button,
    scenario_config,
    settings_for,
)
from tests.unit.slack.definitions import definitions


@dataclass
class Served:
    standin: SlackStandIn
    bot: SlackBot
    port: int


@pytest.fixture
async def served(redis_url: str) -> AsyncIterator[Served]:
    standin = SlackStandIn(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    await standin.start()
    stop = asyncio.Event()
    started: asyncio.Future[tuple[int, SlackBot]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(
        settings_for(standin, redis_url, socket_mode=True),
        scenario_config(),
        host="127.0.0.1",
        port=0,
        definitions=definitions(),
        stop=stop,
        on_started=lambda port, bot: started.set_result((port, bot)),
    ))
    port, bot = await asyncio.wait_for(started, 15)
    try:
        yield Served(standin, bot, port)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 20) == 0
        await standin.stop()


def command_payload(standin: SlackStandIn, user: str, text: str) -> dict[str, str]:
    return {
        "token": "unused", "team_id": standin.team_id, "team_domain": "parthenon",
        "channel_id": OPS, "channel_name": "ops", "user_id": user, "user_name": user.lower(),
        "command": "/parthenon", "text": text, "api_app_id": "A0PARTHENON",
        "response_url": standin.response_url("socket"), "trigger_id": f"t-{uuid.uuid4().hex}",
    }


async def test_socket_mode_acks_envelopes_and_runs_the_command(served: Served) -> None:
    """A slash command envelope is acked with the ephemeral answer; a start command recorded
    over the socket starts a run whose card the notifier posts."""
    s = served
    assert [c.method for c in s.standin.calls if c.method == "apps.connections.open"]
    ack = await s.standin.send_envelope("slash_commands",
                                        command_payload(s.standin, "URM0001", "help promote"))
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "promote" in json.dumps(ack["payload"]["blocks"])
    ack = await s.standin.send_envelope(
        "slash_commands", command_payload(s.standin, "URM0001", "promote v1.4.2 abc1234 testnet"))
    text = json.dumps(ack["payload"])
    run_id = text[text.index("`r") + 1 : text.index("`", text.index("`r") + 1)]
    card = await s.standin.wait_for(lambda: [
        m for m in s.standin.channel_messages(OPS) if "run.approve" in json.dumps(m.blocks)],
        within=15)
    button = find_button(card[0].blocks, "run.approve")
    click = {
        "type": "block_actions", "user": {"id": "URM0002"}, "team": {"id": s.standin.team_id},
        "trigger_id": "t-click", "api_app_id": "A0PARTHENON", "token": "unused",
        "container": {"type": "message", "message_ts": card[0].ts, "channel_id": OPS},
        "channel": {"id": OPS}, "response_url": s.standin.response_url("socket-click"),
        "actions": [{"action_id": "run.approve", "block_id": button["block_id"],
                     "value": button["value"], "type": "button",
                     "action_ts": f"{time.time():.6f}"}],
    }
    ack = await s.standin.send_envelope("interactive", click)
    assert "envelope_id" in ack
    run = await s.bot.runtime.store.get(run_id)
    assert run.current is not None
    assert run.current[1].approval is not None
    assert [v.user for v in run.current[1].approval.votes] == ["URM0002"]


async def test_socket_mode_still_serves_healthz_and_not_events(served: Served) -> None:
    """In Socket Mode the port answers /healthz; /slack/events is not served."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{served.port}/healthz") as r:
            assert r.status == 200
            assert await r.json() == {"status": "ok"}
        async with http.post(f"http://127.0.0.1:{served.port}/slack/events", data=b"x") as r:
            assert r.status in {404, 405}


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("interactive", {"type": "block_actions", "user": {"id": "URM0002"}, "actions": "x"}),
        ("interactive", {"type": "block_actions", "user": {"id": "URM0002"}, "actions": [None]}),
        ("interactive", {"type": "view_submission", "user": {"id": "URM0002"},
                         "view": {"callback_id": "modal.abort"}}),
        ("events_api", {"type": "event_callback", "event": "x"}),
        ("slash_commands", {"text": "status"}),
    ],
    ids=["actions-string", "actions-null", "view-without-type", "event-string", "no-command"],
)
async def test_socket_mode_acks_a_payload_bolt_cannot_read_and_logs_no_traceback(
    served: Served, caplog: pytest.LogCaptureFixture, kind: str, payload: dict[str, object]
) -> None:
    """The same shape check as the events route: acked empty, nothing above INFO, no
    traceback, and the next command is answered."""
    s = served
    caplog.set_level(logging.INFO)
    ack = await s.standin.send_envelope(kind, payload)
    assert "payload" not in ack
    assert [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING or r.exc_info] == []
    answer = await s.standin.send_envelope("slash_commands",
                                           command_payload(s.standin, "URM0001", "status"))
    assert answer["payload"]["response_type"] == "ephemeral"
