"""The Slack stand-in keeps message metadata and pages conversations.history and
conversations.replies as Slack does, through slack_sdk's own client over loopback HTTP."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.testing.standin import SlackStandIn
from tests.integration.slack.conftest import TOKEN

META = {"event_type": "parthenon_run_message", "event_payload": {"run_id": "r1", "role": "card"}}


async def test_history_pages_newest_first_and_shows_metadata_only_when_asked(
    slack: tuple[SlackStandIn, AsyncWebClient],
) -> None:
    _, client = slack
    posted = []
    for n in range(5):
        answer = await client.chat_postMessage(channel="C1", text=f"m{n}",
                                               metadata=META if n == 2 else None)
        posted.append(answer["ts"])
    assert answer["message"].get("metadata") is None
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await client.conversations_history(channel="C1", limit=2, cursor=cursor,
                                                  include_all_metadata=True)
        pages += 1
        seen += [m["ts"] for m in page["messages"]]
        for m in page["messages"]:
            assert ("metadata" in m) == (m["ts"] == posted[2])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        assert bool(cursor) == page["has_more"]
        if not cursor:
            break
    assert seen == posted[::-1]
    assert pages == 3
    plain = await client.conversations_history(channel="C1")
    assert all("metadata" not in m for m in plain["messages"])
    window = await client.conversations_history(channel="C1", oldest=posted[1],
                                                latest=posted[3])
    assert [m["ts"] for m in window["messages"]] == [posted[2]]
    inclusive = await client.conversations_history(channel="C1", oldest=posted[1],
                                                   latest=posted[3], inclusive=True)
    assert [m["ts"] for m in inclusive["messages"]] == posted[3:0:-1]


async def test_replies_lead_with_the_parent_and_page_oldest_first(
    slack: tuple[SlackStandIn, AsyncWebClient],
) -> None:
    _, client = slack
    parent = (await client.chat_postMessage(channel="C1", text="card"))["ts"]
    replies = [(await client.chat_postMessage(channel="C1", text=f"r{n}", thread_ts=parent,
                                              metadata=META))["ts"] for n in range(3)]
    first = await client.conversations_replies(channel="C1", ts=parent, limit=2,
                                               include_all_metadata=True)
    assert [m["ts"] for m in first["messages"]] == [parent, *replies[:2]]
    assert first["messages"][1]["metadata"] == META
    assert first["has_more"]
    rest = await client.conversations_replies(
        channel="C1", ts=parent, limit=2, cursor=first["response_metadata"]["next_cursor"])
    assert [m["ts"] for m in rest["messages"]] == replies[2:]
    history = await client.conversations_history(channel="C1")
    assert [m["ts"] for m in history["messages"]] == [parent]  # replies stay in their thread
    assert history["messages"][0]["reply_count"] == 3
    with pytest.raises(SlackApiError) as missing:
        await client.conversations_replies(channel="C1", ts="1.000001")
    assert missing.value.response["error"] == "thread_not_found"


async def test_bad_metadata_is_refused_and_a_late_answer_still_stores_the_message(
    slack: tuple[SlackStandIn, AsyncWebClient],
) -> None:
    standin, client = slack
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C1", text="x", metadata={"event_payload": {}})
    assert refused.value.response["error"] == "invalid_metadata_format"
    standin.answer_late("chat.postMessage", 2.0)
    hurried = AsyncWebClient(token=TOKEN, base_url=standin.api_url, timeout=1)
    with pytest.raises(TimeoutError):
        await hurried.chat_postMessage(channel="C1", text="stored anyway")
    assert [m.text for m in standin.channel_messages("C1")] == ["stored anyway"]
