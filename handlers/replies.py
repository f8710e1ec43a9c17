"""Answers that go out after the ack: to the person only (ephemeral), and modals.

An ephemeral answer uses the payload's response_url when there is one (works in any channel
and DM), else ``chat.postEphemeral``, else a direct message (App Home has no channel). Slack
being unreachable is logged; the command itself is already recorded.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack.views import Message

__all__ = ["open_modal", "tell"]

log = logging.getLogger("parthenon.slack")


async def tell(
    client: AsyncWebClient,
    message: Message,
    *,
    user: str,
    channel: str | None = None,
    response_url: str | None = None,
) -> None:
    try:
        if response_url:
            # The bot's pooled session: no new connection (and TLS handshake) per answer.
            webhook = AsyncWebhookClient(response_url, timeout=10, session=client.session)
            response = await webhook.send(
                text=message.text,
                blocks=message.blocks,
                response_type="ephemeral",
                replace_original=False,
            )
            if response.status_code == 200:
                return
            log.warning("response_url answered %s; trying chat.postEphemeral",
                        response.status_code)
        if channel:
            try:
                await client.chat_postEphemeral(
                    channel=channel, user=user, text=message.text, blocks=message.blocks
                )
                return
            except SlackApiError as exc:
                log.info("chat.postEphemeral failed (%s); sending a DM", exc.response.get("error"))
        await client.chat_postMessage(channel=user, text=message.text, blocks=message.blocks)
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("could not answer %s: %s", user, type(exc).__name__)


async def open_modal(client: AsyncWebClient, trigger_id: str | None, view: dict[str, Any]) -> bool:
    """Open a modal; False when Slack refused (an expired trigger: the click was >3 s ago)."""
    if not trigger_id:
        return False
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("views.open failed: %s", _describe(exc))
        return False
    return True


def _describe(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__
