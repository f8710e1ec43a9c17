"""An exported incident log names people beside their ids (users.info, answered by the Slack
stand-in as Slack answers it), asks Slack once per person however often it is exported (cached
in Redis), and still posts, with bare ids, when Slack cannot say who someone is."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.testing.slackworkspace import PostedMessage
from bot.testing.standin import SlackStandIn
from tests.scenarios.harness import APP_TOKEN, BOT_TOKEN, Harness, running_bot
from tests.unit.slack.definitions import definitions
from workflows.keys import display_name_key

PEOPLE = {"UOP0001": "ana.lopez", "URM0001": "ravi.menon"}


@pytest.fixture
async def h(redis_url: str) -> AsyncIterator[Harness]:
    slack = SlackStandIn(bot_token=BOT_TOKEN, app_token=APP_TOKEN, users=PEOPLE)
    async with slack, running_bot(redis_url, definitions(), standin=slack) as bot:
        yield bot


def log_of(h: Harness, card: PostedMessage) -> str:
    parts = [r for r in h.standin.replies(card.channel, card.ts)
             if r.text.startswith("Incident log of")]
    return "\n".join(b["text"]["text"] for p in parts for b in p.blocks
                     if b.get("type") == "section")


async def incident(h: Harness) -> tuple[str, PostedMessage]:
    run_id = await h.started_run(await h.command("UOP0001", "incident release node 3 forked"))
    card = await h.card(run_id, lambda m: "run.export" in str(m.blocks))
    return run_id, card


async def test_the_log_names_people_and_asks_slack_once_per_person(h: Harness) -> None:
    run_id, card = await incident(h)
    assert (await h.command("URM0001", f"pause {run_id}")).status == 200
    assert (await h.command("UOP0001", f"export {run_id}")).status == 200
    await h.bot.deferred.drain()
    log = log_of(h, card)
    assert "Ana.Lopez (UOP0001)" in log  # the stand-in's real_name: the name, title-cased
    assert "Ravi.Menon (URM0001)" in log
    asked = sorted(c.args["user"] for c in h.standin.calls_of("users.info"))
    assert asked == ["UOP0001", "URM0001"]
    assert await h.redis.get(display_name_key("UOP0001")) == b"Ana.Lopez"

    assert (await h.command("URM0001", f"export {run_id}")).status == 200  # another request
    await h.bot.deferred.drain()
    assert len(h.standin.calls_of("users.info")) == 2  # the names came from the cache


async def test_the_log_is_posted_with_ids_when_slack_cannot_say_who(h: Harness) -> None:
    run_id, card = await incident(h)
    h.standin.fail("users.info", status=503, times=4)  # and its retry
    assert (await h.command("UOP0001", f"export {run_id}")).status == 200
    await h.bot.deferred.drain()
    log = log_of(h, card)
    assert "**UOP0001** started the run" in log
    assert await h.redis.get(display_name_key("UOP0001")) is None
