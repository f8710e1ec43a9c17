"""A click the bot could not record (Redis away for longer than its retries) is not answered
200: Slack shows the person that the click failed. Found by the chaos suite: Retry clicks during
the Redis restart were answered 200 and never applied."""

from __future__ import annotations

import asyncio

from bot.testing.redisserver import RedisServer
from tests.scenarios.harness import OUTSIDER, running_bot, waiting_at
from tests.unit.slack.definitions import definitions


async def test_a_click_that_was_not_recorded_is_not_answered_200(
    redis_server: RedisServer, redis_url: str
) -> None:
    """With Redis down an Approve click gets a 5xx, and no vote appears once Redis is back; a
    refused click (a known error) is still answered 200."""
    async with running_bot(redis_url, definitions()) as h:
        run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
        await h.wait_run(run_id, waiting_at("approve"))
        card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))
        await h.runtime.engine.stop(2)
        h.bot.notifier.stop()
        await asyncio.to_thread(redis_server.stop)
        try:
            reply = await h.click("URM0002", card, "run.approve")
        finally:
            await asyncio.to_thread(redis_server.start)
        assert reply.status >= 500
        run = await h.run(run_id)
        approval = run.current[1].approval if run.current else None
        assert approval is not None
        assert approval.votes == []
        refused = await h.click(OUTSIDER, card, "run.approve")
        assert refused.status == 200
