"""A run's thread notifications are delivered at least once: they stay in Redis until Slack has
taken them, so a notifier that fails to post and then dies loses nothing."""

from __future__ import annotations

import asyncio

from bot.slack.notifier import Notifier
from tests.scenarios.harness import OPERATOR, Harness, status_is, waiting_at
from workflows.model import RunStatus


def _posts(h: Harness, needle: str, *, ok: bool) -> list[str]:
    return [
        str(c.args.get("text", "")) for c in h.standin.calls_of("chat.postMessage")
        if c.args.get("thread_ts") and needle in str(c.args.get("text", "")) and c.ok is ok
    ]


async def _replace_notifier(h: Harness) -> Notifier:
    """Stop the running notifier (its memory goes with it, as in a crash) and start another."""
    old = h.bot.notifier
    old.stop()
    await h.tasks["notifier"]
    fresh = Notifier(h.runtime.store, old.client, h.runtime.config,
                     known_workflows=old.known_workflows, min_interval=old.min_interval,
                     poll=old.poll)
    h.bot.notifier = fresh
    h.tasks["notifier"] = asyncio.create_task(fresh.run_forever())
    return fresh


async def test_a_notification_whose_post_failed_is_posted_by_the_next_notifier(
    harness: Harness,
) -> None:
    """Slack answers 500 to the thread post of "paused by", the notifier then stops; the next
    notifier finds the notification still queued and posts it, exactly once."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(run_id, waiting_at("approve"))
    await h.reply_with(await h.card(run_id), "run.approve")  # the card and its first request
    h.standin.fail("chat.postMessage", status=500, times=1000)
    assert (await h.command(OPERATOR, f"pause {run_id} lunch")).status == 200
    await h.wait_run(run_id, status_is(RunStatus.PAUSED))
    await h.standin.wait_for(lambda: _posts(h, "paused by", ok=False))

    fresh = await _replace_notifier(h)
    assert await h.runtime.store.peek_outbox(run_id)  # still queued, not lost with the notifier
    h.standin.clear_faults()
    await h.standin.wait_for(lambda: _posts(h, "paused by", ok=True))
    await _settled(h, run_id)
    assert len(_posts(h, "paused by", ok=True)) == 1
    assert await h.runtime.store.peek_outbox(run_id) == []
    assert fresh.stats.thread_posts == 1


async def _settled(h: Harness, run_id: str) -> None:
    """Until the notifier has nothing left to do for the run (its card is no longer dirty)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while run_id in await h.runtime.store.dirty_cards(500):
        assert loop.time() < deadline, "the card stayed dirty"
        await asyncio.sleep(0.02)
