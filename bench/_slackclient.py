"""Requests to the bot signed exactly as Slack signs them (v0 HMAC-SHA256 of
``v0:{timestamp}:{body}``), for the chaos suite: button clicks sent to one replica's
``POST /slack/events``, as a person's click reaches whichever replica the load balancer picks.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.testing.signing import sign

__all__ = ["ClickAnswer", "SignedSlack", "click_body"]


def click_body(
    user: str,
    action_id: str,
    value: str,
    *,
    channel: str,
    message_ts: str,
    response_url: str,
    team: str = "T0PARTHENON",
) -> str:
    """A ``block_actions`` payload for one button of the message at (channel, message_ts)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0PARTHENON",
        "token": "verification-token-unused",
        "team": {"id": team, "domain": "parthenon"},
        "trigger_id": f"trig-{uuid.uuid4().hex}",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel,
                      "is_ephemeral": False},
        "channel": {"id": channel, "name": "ops"},
        "response_url": response_url,
        "actions": [{
            "type": "button",
            "action_id": action_id,
            "block_id": "card.actions",
            "value": value,
            "text": {"type": "plain_text", "text": action_id},
            "action_ts": f"{time.time():.6f}",
        }],
    }
    return urlencode({"payload": json.dumps(payload)})


@dataclass(frozen=True)
class ClickAnswer:
    """What the replica answered: an HTTP status, or 0 when it did not answer at all."""

    status: int
    body: str
    error: str | None = None


class SignedSlack:
    """Posts signed bodies to a replica's events URL; never raises on a dead replica."""

    def __init__(self, secret: str, session: aiohttp.ClientSession, timeout: float = 10.0) -> None:
        self._secret = secret
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def post(self, base_url: str, body: str,
                   content_type: str = "application/x-www-form-urlencoded") -> ClickAnswer:
        timestamp = int(time.time())
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign(body, timestamp, self._secret),
        }
        try:
            async with self._session.post(f"{base_url}/slack/events", data=body.encode(),
                                          headers=headers, timeout=self._timeout) as response:
                return ClickAnswer(response.status, await response.text())
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return ClickAnswer(0, "", type(exc).__name__)
