"""The Slack stand-in refuses what Slack refuses: blocks or views past a Block Kit limit get
``invalid_blocks`` / ``invalid_arguments`` (so a renderer regression fails every scenario test),
through slack_sdk's own client over loopback HTTP."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.testing.standin import SlackStandIn

DIVIDER = {"type": "divider"}


async def test_a_message_past_a_limit_is_refused_and_not_posted(
    slack: tuple[SlackStandIn, AsyncWebClient],
) -> None:
    standin, client = slack
    ok = await client.chat_postMessage(channel="C1", text="fine", blocks=[DIVIDER] * 50)
    assert ok["ok"]
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C1", text="too many", blocks=[DIVIDER] * 51)
    assert refused.value.response["error"] == "invalid_blocks"
    long_text = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    with pytest.raises(SlackApiError) as refused:
        await client.chat_update(channel="C1", ts=ok["ts"], text="long", blocks=[long_text])
    assert refused.value.response["error"] == "invalid_blocks"
    assert "3000" in str(refused.value.response["errors"])
    assert [m.text for m in standin.messages.values()] == ["fine"]  # the update never landed


async def test_a_view_past_a_limit_is_refused(
    slack: tuple[SlackStandIn, AsyncWebClient],
) -> None:
    _, client = slack
    title = {"type": "plain_text", "text": "Start"}
    ok = await client.views_publish(user_id="U1", view={"type": "home", "blocks": [DIVIDER] * 100})
    assert ok["ok"]
    with pytest.raises(SlackApiError) as refused:
        await client.views_open(trigger_id="1.2.3", view={
            "type": "modal", "title": {"type": "plain_text", "text": "x" * 25},
            "blocks": [DIVIDER]})
    assert refused.value.response["error"] == "invalid_arguments"
    with pytest.raises(SlackApiError):
        await client.views_open(trigger_id="1.2.3", view={
            "type": "modal", "title": title, "blocks": [DIVIDER] * 101})
