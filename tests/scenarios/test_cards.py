"""The run card in Slack: coalesced updates, 429 waited out, Slack down and catching up."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest

from bot.observability import BotMetrics
from tests.scenarios.harness import (
    OPS,
    Harness,
    button_step,
    running_bot,
    status_is,
    waiting_at,
)
from tests.unit.slack.definitions import definitions
from workflows.model import RunStatus


@pytest.fixture
async def slow_harness(redis_url: str) -> AsyncIterator[Harness]:
    """The bot with the production coalescing interval: one card update per second."""
    async with running_bot(redis_url, definitions(), notifier_interval=1.0) as h:
        yield h


async def at_approval(h: Harness) -> str:
    run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(run_id, waiting_at("approve"))
    await h.card(run_id, lambda m: button_step(m, "run.approve") == "approve")
    return run_id


def updates_of(h: Harness, ok: bool = True) -> list[float]:
    return [c.at for c in h.standin.calls_of("chat.update") if c.ok == ok]


async def test_a_429_on_chat_update_is_waited_out_and_the_final_card_is_right(
    slow_harness: Harness,
) -> None:
    """chat.update answered 429 with Retry-After: 1 is not called again for a second; the card
    that then lands shows the latest state, both approvals included."""
    h = slow_harness
    metrics = BotMetrics(cache_seconds=0)
    h.bot.notifier.observer = metrics
    run_id = await at_approval(h)
    h.standin.fail("chat.update", status=429, retry_after=1)
    card = await h.card(run_id)
    await h.click("URM0002", card, "run.approve")
    limited = await h.standin.wait_for(lambda: [c for c in h.standin.calls_of("chat.update")
                                                if c.status == 429])
    await h.click("URM0003", card, "run.approve")
    await h.wait_run(run_id, waiting_at("sbom"))
    final = await h.card(run_id, lambda m: button_step(m, "run.confirm") == "sbom")
    after = [t for t in updates_of(h) if t > limited[0].at]
    assert after
    assert after[0] - limited[0].at >= 0.95  # Retry-After: 1, with clock granularity
    assert "approved by <@URM0002>, <@URM0003>" in str(final.blocks)
    assert h.bot.notifier.stats.rate_limited >= 1
    retries = metrics.slack_api_retries.labels("chat.update", "rate_limited")._value.get()
    assert retries >= 1  # counted per method for /metrics


async def test_card_updates_are_coalesced_to_one_per_second(slow_harness: Harness) -> None:
    """Many changes in quick succession never update one message twice within a second, and
    the card ends on the last state."""
    h = slow_harness
    run_id = await at_approval(h)
    for _ in range(3):
        await h.command("UOP0001", f"pause {run_id}")
        await h.command("UOP0001", f"resume {run_id}")
    await h.command("UOP0001", f"pause {run_id}")
    await h.wait_run(run_id, status_is(RunStatus.PAUSED))
    await h.card(run_id, lambda m: m.text.endswith(": paused"))
    times = updates_of(h)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.95 for gap in gaps), gaps
    assert len(times) < 7


async def test_slack_down_does_not_hold_the_run_and_the_card_catches_up(
    harness: Harness,
) -> None:
    """With the Web API unreachable the run goes on; when Slack is back the card shows where
    the run is now, and the thread gets the queued notifications."""
    h = harness
    await h.standin.stop()  # the Web API is gone; Slack still delivers our events
    reply = await h.command("URM0001", "promote v1.4.2 abc1234 testnet")
    run_id = await h.started_run(reply)
    await h.wait_run(run_id, waiting_at("approve"))
    await asyncio.sleep(0.3)
    assert h.bot.notifier.stats.unavailable >= 1
    await h.standin.start()
    card = await h.card(run_id, lambda m: button_step(m, "run.approve") == "approve")
    assert card.channel == OPS
    request = await h.reply_with(card, "run.approve")
    assert "Approval needed" in request.text


async def test_5xx_from_slack_is_retried_until_the_card_is_posted(harness: Harness) -> None:
    """Three 503s from chat.postMessage delay the card; they do not lose it."""
    h = harness
    h.standin.fail("chat.postMessage", status=503, times=3)
    run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    card = await h.card(run_id, lambda m: button_step(m, "run.approve") == "approve")
    assert len([c for c in h.standin.calls_of("chat.postMessage") if c.status == 503]) == 3
    assert card.text.startswith("Promote a release")
