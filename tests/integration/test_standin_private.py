"""The Slack stand-in treats private channels as Slack does: conversations.create with
is_private makes one (a C id, is_channel true, is_private true), only its members see it, and
a bot that is not in it cannot post there."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.testing.slackworkspace import Channel
from bot.testing.standin import SlackStandIn
from tests.scenarios.harness import APP_TOKEN, BOT_TOKEN


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    standin = SlackStandIn(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    await standin.start()
    yield standin
    await standin.stop()


async def test_a_private_channel_is_made_and_seen_as_slack_does(slack: SlackStandIn) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    made = await client.conversations_create(name="inc-20261204-key-compromise-1",
                                             is_private=True)
    channel = made["channel"]
    assert channel["id"].startswith("C")
    assert channel["is_private"] is True
    assert channel["is_channel"] is True
    assert channel["is_group"] is False
    await client.conversations_invite(channel=channel["id"], users="U0SEC1,U0SEC2")
    assert slack.channels[channel["id"]].members >= {"U0SEC1", "U0SEC2"}
    public = await client.conversations_create(name="inc-20261204-release-1")
    assert public["channel"]["is_private"] is False


async def test_a_bot_outside_a_private_channel_cannot_post_there(slack: SlackStandIn) -> None:
    slack.channels["C0SECRET"] = Channel("C0SECRET", "secret", {"U0OTHER"}, is_private=True)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C0SECRET", text="hello")
    assert caught.value.response["error"] == "channel_not_found"
