"""Slack's side of the conversation: the console sends the bot what Slack would send.

Slash commands, button clicks, modal submissions and App Home events go to the bot's
``POST /slack/events`` over loopback, signed exactly as Slack signs them (v0 HMAC-SHA256 of
``v0:{timestamp}:{body}`` with the signing secret: ``bot.testing.signing``), with trigger ids and
response URLs that the stand-in Web API recognises. The bot cannot tell the console from Slack.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.console.render import Button
from bot.testing.signing import sign
from bot.testing.standin import SlackStandIn

__all__ = ["Reply", "SlackSide"]

APP_ID = "A0PARTHENON"


@dataclass(frozen=True)
class Reply:
    status: int
    text: str

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.text) if self.text else None
        except ValueError:
            return None


@dataclass
class SlackSide:
    """Sends signed requests to ``url``; remembers which trigger and response URL is whose."""

    url: str  # the bot's base URL, http://127.0.0.1:PORT
    signing_secret: str
    standin: SlackStandIn
    http: aiohttp.ClientSession
    triggers: dict[str, str] = field(default_factory=dict)  # trigger id -> user id
    # response url name -> (user id, channel id) of the request that carried it
    responders: dict[str, tuple[str, str]] = field(default_factory=dict)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def post(self, body: str, content_type: str) -> Reply:
        ts = int(time.time())
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(body, ts, self.signing_secret),
        }
        async with self.http.post(f"{self.url}/slack/events", data=body.encode(),
                                  headers=headers) as response:
            return Reply(response.status, await response.text())

    def trigger(self, user: str) -> str:
        trigger = f"{next(self._seq)}.{uuid.uuid4().hex[:12]}"
        self.triggers[trigger] = user
        return trigger

    def response_url(self, user: str, channel: str) -> str:
        name = f"console-{next(self._seq)}"
        self.responders[name] = (user, channel)
        return self.standin.response_url(name)

    def _user(self, user: str) -> dict[str, str]:
        return {"id": user, "username": user.lower(), "team_id": self.standin.team_id}

    async def command(self, user: str, text: str, channel: str, channel_name: str,
                      trigger: str) -> Reply:
        body = urlencode({
            "token": "unused-verification-token",
            "team_id": self.standin.team_id,
            "team_domain": "parthenon-demo",
            "channel_id": channel,
            "channel_name": channel_name,
            "user_id": user,
            "user_name": user.lower(),
            "command": "/parthenon",
            "text": text,
            "api_app_id": APP_ID,
            "response_url": self.response_url(user, channel),
            "trigger_id": trigger,
        })
        return await self.post(body, "application/x-www-form-urlencoded")

    async def click(self, user: str, button: Button, trigger: str, *, channel: str | None,
                    message: dict[str, Any] | None, message_ts: str | None,
                    ephemeral: bool = False) -> Reply:
        """A click on ``button``: in a channel message (``message`` is its body), in an
        ephemeral message (``message_ts`` only, as Slack does), or in App Home (no channel)."""
        action = {**button.payload(), "action_ts": f"{time.time():.6f}"}
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": "unused-verification-token",
            "team": {"id": self.standin.team_id, "domain": "parthenon-demo"},
            "trigger_id": trigger,
            "actions": [action],
        }
        if channel is None:
            payload["container"] = {"type": "view", "view_id": "VHOME"}
        else:
            payload["channel"] = {"id": channel, "name": channel.lower()}
            payload["container"] = {"type": "message", "message_ts": message_ts or "",
                                    "channel_id": channel, "is_ephemeral": ephemeral}
            payload["response_url"] = self.response_url(user, channel)
            if message is not None:
                payload["message"] = message
        return await self.post(urlencode({"payload": json.dumps(payload)}),
                               "application/x-www-form-urlencoded")

    async def submit(self, user: str, view_id: str, view: dict[str, Any],
                     values: dict[str, str | None]) -> Reply:
        """Submit a modal with ``values`` by input block id (None: left empty)."""
        state: dict[str, Any] = {}
        for block in view.get("blocks", []):
            if not isinstance(block, dict) or block.get("type") != "input":
                continue
            element = block.get("element", {})
            value = values.get(str(block.get("block_id")))
            state[str(block.get("block_id"))] = {
                element.get("action_id", ""): _input_state(element, value)
            }
        payload = {
            "type": "view_submission",
            "team": {"id": self.standin.team_id, "domain": "parthenon-demo"},
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": "unused-verification-token",
            "trigger_id": self.trigger(user),
            "view": {
                "id": view_id,
                "type": "modal",
                "callback_id": view.get("callback_id", ""),
                "private_metadata": view.get("private_metadata", ""),
                "blocks": view.get("blocks", []),
                "state": {"values": state},
                "hash": uuid.uuid4().hex[:16],
            },
        }
        return await self.post(urlencode({"payload": json.dumps(payload)}),
                               "application/x-www-form-urlencoded")

    async def home_opened(self, user: str) -> Reply:
        body = json.dumps({
            "token": "unused-verification-token",
            "team_id": self.standin.team_id,
            "api_app_id": APP_ID,
            "event": {"type": "app_home_opened", "user": user, "channel": f"D{user[1:]}",
                      "tab": "home", "event_ts": f"{time.time():.6f}"},
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10]}",
            "event_time": int(time.time()),
        })
        return await self.post(body, "application/json")


def _input_state(element: dict[str, Any], value: str | None) -> dict[str, Any]:
    """What Slack sends for one input: a text's value, or a select's chosen option."""
    if element.get("type") == "static_select":
        options = [o for o in element.get("options") or [] if isinstance(o, dict)]
        chosen = next((o for o in options if value is not None and o.get("value") == value), None)
        return {"type": "static_select", "selected_option": chosen}
    return {"type": "plain_text_input", "value": value}
