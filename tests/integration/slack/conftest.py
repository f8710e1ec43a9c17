"""The Slack stand-in on loopback with slack_sdk's own client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.testing.standin import SlackStandIn

TOKEN = "xoxb-standin"


@pytest.fixture
async def slack() -> AsyncIterator[tuple[SlackStandIn, AsyncWebClient]]:
    async with SlackStandIn(bot_token=TOKEN) as standin:
        yield standin, AsyncWebClient(token=TOKEN, base_url=standin.api_url)
