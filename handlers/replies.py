"""Answers that go out after the ack: to the person only (ephemeral), and modals.

An ephemeral answer uses the payload's response_url when there is one (works in any channel
and DM), else ``chat.postEphemeral``, else a direct message (App Home has no channel). Slack
being unreachable is logged; the command itself is already recorded.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack.apifailure import AFTER_ACK_FAILURES, slack_failure
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
) -> bool:
    """Tell ``user``; False (logged) when every way failed. Each way that fails (an answer that
    is not JSON included) passes to the next."""
    if response_url:
        try:
            # The bot's pooled session: no new connection (and TLS handshake) per answer.
            webhook = AsyncWebhookClient(response_url, timeout=10, session=client.session)
            response = await webhook.send(
                text=message.text,
                blocks=message.blocks,
                response_type="ephemeral",
                replace_original=False,
            )
            if response.status_code == 200:
                return True
            log.warning("response_url answered %s; trying chat.postEphemeral",
                        response.status_code)
        except AFTER_ACK_FAILURES as exc:
            log.warning("response_url failed (%s); trying chat.postEphemeral", slack_failure(exc))
    if channel:
        try:
            await client.chat_postEphemeral(
                channel=channel, user=user, text=message.text, blocks=message.blocks
            )
            return True
        except AFTER_ACK_FAILURES as exc:
            log.info("chat.postEphemeral failed (%s); sending a DM", slack_failure(exc))
    try:
        await client.chat_postMessage(channel=user, text=message.text, blocks=message.blocks)
    except AFTER_ACK_FAILURES as exc:
        log.warning("could not answer %s: %s", user, slack_failure(exc))
        return False
    return True


async def open_modal(client: AsyncWebClient, trigger_id: str | None, view: dict[str, Any]) -> bool:
    """Open a modal; False when Slack refused (an expired trigger: the click was >3 s ago) or
    failed (a 5xx, whatever its body, a dropped connection)."""
    if not trigger_id:
        return False
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except AFTER_ACK_FAILURES as exc:
        log.warning("views.open failed: %s", slack_failure(exc))
        return False
    return True
