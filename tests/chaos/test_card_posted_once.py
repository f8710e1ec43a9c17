"""A card posted just before Redis went away is not posted a second time when Redis is back.
Found by the chaos suite: the card's location could not be stored, the card's lock could not be
released either, and thirty seconds later (the lock's expiry) a second card was posted."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.redisserver import RedisServer
from bot.slack.notifier import card_lock_key
from tests.scenarios.harness import OPS, running_bot, waiting_at
from tests.unit.slack.definitions import definitions


async def until(check: object, within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():  # type: ignore[operator]
        assert loop.time() < deadline, "never happened"
        await asyncio.sleep(0.05)


async def test_a_card_whose_location_was_not_stored_is_not_posted_twice(
    redis_server: RedisServer, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis stops while the first post of a card is in flight; once it is back, the bot stores
    where the card is and keeps updating that one message."""
    caplog.set_level(logging.ERROR, logger="parthenon.notifier")
    async with running_bot(redis_url, definitions()) as h:
        held = h.standin.hold("chat.postMessage")
        run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
        redis = h.runtime.redis

        async def posting() -> bool:
            return bool(await redis.exists(card_lock_key(run_id)))

        await until(posting)  # the notifier holds the card's lock: its post is in flight
        await asyncio.to_thread(redis_server.stop)
        held.set()
        h.standin.release("chat.postMessage")

        async def failed() -> bool:
            return any("notifier pass failed" in r.getMessage() for r in caplog.records)

        await until(failed)  # storing the location failed: Redis is away
        await asyncio.to_thread(redis_server.start)
        await h.wait_run(run_id, waiting_at("approve"))
        card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))
        cards = [m for m in h.standin.channel_messages(OPS) if run_id in str(m.blocks)]
        assert [m.ts for m in cards] == [card.ts]
