"""Slack unreachable for a few seconds under the running bot: the notifier says so once when it
begins (with the error) and once when it ends (with its length), never once per card or per
retry, and the card catches up."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.scenarios.harness import OPS, running_bot, until, waiting_at
from tests.unit.slack.definitions import definitions


async def test_slack_down_is_one_line_when_it_begins_and_one_when_it_ends(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="parthenon.notifier")
    async with running_bot(redis_url, definitions()) as h:
        await h.standin.stop()  # the Web API is gone
        runs = [await h.started_run(await h.command(
            "URM0001", f"promote v1.4.{n} abc1234 testnet")) for n in range(3)]
        for run_id in runs:
            await h.wait_run(run_id, waiting_at("approve"))
        await until(lambda: h.bot.notifier.slack_outage.down, "Slack down went unnoticed",
                    within=30)
        await asyncio.sleep(3.0)  # many passes, three cards, all failing
        assert h.bot.notifier.slack_outage.down
        await h.standin.start()
        for run_id in runs:
            card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks), within=40)
            assert card.channel == OPS
        assert not h.bot.notifier.slack_outage.down
    lines = [r for r in caplog.records
             if r.name == "parthenon.notifier" and r.levelno >= logging.INFO]
    began = [r for r in lines if getattr(r, "outage", None) == "began"]
    ended = [r for r in lines if getattr(r, "outage", None) == "ended"]
    assert [r.getMessage().split(" (")[0] for r in began] == [
        "notifier: slack unreachable, retrying with back-off until it is back"]
    assert "ClientConnectorError" in began[0].getMessage()
    assert len(ended) == 1
    assert ended[0].getMessage().startswith("notifier: slack reachable again after ")
    assert getattr(ended[0], "outage_seconds", 0) >= 3.0
    assert [r.getMessage() for r in lines if r not in began + ended] == []
    assert all(r.exc_info is None for r in caplog.records)
    retries = [r for r in caplog.records if "not synced" in r.getMessage()]
    assert retries  # each card's retry is still there, at DEBUG, for whoever wants it
    assert all(r.levelno == logging.DEBUG for r in retries)
