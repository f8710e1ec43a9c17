"""One card per run, through any crash.

A card posted just before Redis went away is not posted a second time when Redis is back (found
by the chaos suite: the card's location could not be stored, the card's lock could not be
released either, and thirty seconds later, the lock's expiry, a second card was posted). A card
Slack took from a replica that died before storing its ts, or whose answer was lost, is found in
the channel by its metadata and adopted."""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.notifier import Notifier
from bot.testing.redisserver import RedisServer
from bot.testing.slackworkspace import PostedMessage
from tests.scenarios.harness import BOT_TOKEN, OPS, Harness, running_bot, waiting_at
from tests.unit.slack.definitions import definitions
from workflows import keys
from workflows.keys import card_lock_key


async def until(check: object, within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():  # type: ignore[operator]
        assert loop.time() < deadline, "never happened"
        await asyncio.sleep(0.05)


async def test_a_card_whose_location_was_not_stored_is_not_posted_twice(
    redis_server: RedisServer, redis_url: str
) -> None:
    """Redis stops while the first post of a card is in flight; once it is back, the bot stores
    where the card is and keeps updating that one message."""
    async with running_bot(redis_url, definitions()) as h:
        held = h.standin.hold("chat.postMessage")
        run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
        redis = h.redis

        async def posting() -> bool:
            return bool(await redis.exists(card_lock_key(run_id)))

        await until(posting)  # the notifier holds the card's lock: its post is in flight
        await asyncio.to_thread(redis_server.stop)
        held.set()
        h.standin.release("chat.postMessage")

        async def failed() -> bool:
            return h.bot.notifier.outage.down

        await until(failed)  # storing the location failed: Redis is away
        await asyncio.to_thread(redis_server.start)
        await h.wait_run(run_id, waiting_at("approve"))
        card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))
        cards = [m for m in h.standin.channel_messages(OPS) if run_id in str(m.blocks)]
        assert [m.ts for m in cards] == [card.ts]


def cards_of(h: Harness, run_id: str) -> list[PostedMessage]:
    """Every top-level message in the ops channel that is a card of ``run_id``."""
    return [m for m in h.standin.channel_messages(OPS) if run_id in str(m.blocks)]


async def test_a_card_slack_took_from_a_replica_that_died_is_adopted_not_posted_again(
    redis_url: str,
) -> None:
    """Slack stores the card; the replica dies before it hears back and stores the ts. Another
    replica finds the intent, finds the card in the channel by its metadata, and keeps updating
    that one message."""
    async with running_bot(redis_url, definitions()) as h:
        h.standin.answer_late("chat.postMessage", 3.0)  # stored at once, answered too late
        run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
        first = await h.standin.wait_for(lambda: cards_of(h, run_id))
        dead = h.tasks.pop("notifier")
        dead.cancel()  # the replica dies with the post answered by nobody
        await asyncio.gather(dead, return_exceptions=True)
        assert await h.runtime.store.get_card(run_id) is None
        survivor = Notifier(h.runtime.store, AsyncWebClient(
            token=BOT_TOKEN, base_url=h.standin.api_url, retry_handlers=[]), h.bot.notifier.config,
            known_workflows=h.bot.notifier.known_workflows, min_interval=0.1, poll=0.05)
        task = asyncio.create_task(survivor.run_forever())
        try:
            await h.wait_run(run_id, waiting_at("approve"))
            card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))
        finally:
            survivor.stop()
            await task
        assert [m.ts for m in cards_of(h, run_id)] == [first[0].ts] == [card.ts]
        assert (survivor.stats.adopted, survivor.stats.cards_posted) == (1, 0)
        lookups = h.standin.calls_of("conversations.history")
        assert lookups
        assert all(c.args.get("include_all_metadata") for c in lookups)


async def test_a_card_whose_answer_was_lost_is_adopted_and_kept_up_to_date(
    redis_url: str,
) -> None:
    """chat.postMessage is done by Slack but answered slower than the notifier's timeout: the
    notifier finds the card it posted instead of posting a second one, and that card follows
    the run (no stale copy left "running" with live buttons)."""
    async with running_bot(redis_url, definitions()) as h:
        h.bot.notifier.client = AsyncWebClient(token=BOT_TOKEN, base_url=h.standin.api_url,
                                               timeout=1, retry_handlers=[])
        h.standin.answer_late("chat.postMessage", 3.0)
        run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
        await h.wait_run(run_id, waiting_at("approve"))
        card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))
        request = await h.reply_with(card, "run.approve")  # the thread goes on under it
        assert "Approval needed" in request.text
        assert [m.ts for m in cards_of(h, run_id)] == [card.ts]
        assert h.bot.notifier.stats.adopted == 1
        assert h.bot.notifier.stats.cards_posted == 0
        assert card.metadata is not None
        assert card.metadata["event_payload"]["run_id"] == run_id
        assert card.metadata["event_payload"]["role"] == "card"


async def test_a_thread_message_whose_answer_was_lost_is_adopted_not_posted_again(
    redis_url: str,
) -> None:
    """The same for the run's thread: a notification Slack took but answered too late is found
    with conversations.replies and not posted a second time."""
    async with running_bot(redis_url, definitions()) as h:
        h.bot.notifier.client = AsyncWebClient(token=BOT_TOKEN, base_url=h.standin.api_url,
                                               timeout=1, retry_handlers=[])
        h.standin.hold("chat.postMessage")  # nothing posted until the card is out of the way
        run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
        await h.wait_run(run_id, waiting_at("approve"))
        h.standin.answer_late("chat.postMessage", 3.0, times=2)  # the card, then a thread post
        h.standin.release("chat.postMessage")
        card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))
        request = await h.reply_with(card, "run.approve")
        outbox = h.redis

        async def settled() -> bool:
            return h.bot.notifier.stats.adopted == 2 and not await outbox.exists(
                keys.RunKeys(run_id).outbox)

        await until(settled)
        await asyncio.sleep(0.5)  # a second post would come now
        thread = h.standin.replies(OPS, card.ts)
        assert len({m.text for m in thread}) == len(thread)  # nothing in the thread twice
        assert request in thread
        assert h.standin.calls_of("conversations.replies")
        roles = [m.metadata["event_payload"]["role"] for m in thread if m.metadata]
        assert roles == [f"note:{n}" for n in range(len(thread))]
