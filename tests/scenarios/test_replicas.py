"""Two notifiers (two replicas) over one Redis: each run still gets exactly one card."""

from __future__ import annotations

import asyncio

from bot.slack.notifier import Notifier
from tests.scenarios.harness import OPS, Harness, waiting_at


async def test_two_notifiers_post_each_card_once(harness: Harness) -> None:
    """With a second replica's notifier racing the first, every run has one card and one
    approval request in its thread."""
    h = harness
    second = Notifier(h.runtime.store, h.bot.notifier.client, h.runtime.config,
                      known_workflows=h.runtime.definitions, min_interval=0.2, poll=0.01)
    task = asyncio.create_task(second.run_forever())
    try:
        ids = []
        for i in range(6):
            reply = await h.command("URM0001", f"promote v1.4.{i} abc1234 testnet")
            ids.append(await h.started_run(reply))
        for run_id in ids:
            await h.wait_run(run_id, waiting_at("approve"))
        for run_id in ids:
            card = await h.card(run_id)
            await h.reply_with(card, "run.approve")
        await asyncio.sleep(0.5)  # both notifiers had time to (wrongly) post again
        cards = [m for m in h.standin.channel_messages(OPS) if m.text.startswith("Promote")]
        assert len(cards) == len(ids)
        for card in cards:
            requests = [r for r in h.standin.replies(OPS, card.ts) if "Approval needed" in r.text]
            assert len(requests) == 1
    finally:
        second.stop()
        await task
