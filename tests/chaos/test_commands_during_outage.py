"""While Redis is down, a command or a click is answered "not recorded, try again", not
":boom: Something went wrong" with an error id, and the log gets no traceback for it; once Redis
is back nothing of it has happened and the same command works."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from bot.testing.redisserver import RedisServer
from tests.scenarios.harness import running_bot, waiting_at
from tests.unit.slack.definitions import definitions

COMMAND = "promote v1.4.2 abc1234 testnet"


def tracebacks(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.name}: {r.getMessage()[:100]}" for r in records
            if r.exc_info or r.exc_text or r.levelno >= logging.ERROR]


async def test_a_command_and_a_click_during_a_redis_outage_say_not_recorded(
    redis_server: RedisServer, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(redis_url, definitions()) as h:
        run_id = await h.started_run(await h.command("URM0001", COMMAND))
        await h.wait_run(run_id, waiting_at("approve"))
        card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))
        await h.runtime.engine.stop(2)  # their own outage handling is not what is tested here
        h.bot.notifier.stop()
        caplog.clear()
        await asyncio.to_thread(redis_server.stop)
        try:
            command = await h.command("URM0002", "promote v1.4.3 abc1234 testnet")
            click = await h.click("URM0002", card, "run.approve")
            await h.bot.deferred.drain()
        finally:
            await asyncio.to_thread(redis_server.start)
        assert command.status == 200
        said = json.dumps(command.json)
        assert "Not recorded" in said
        assert "Try again" in said
        assert ":boom:" not in said
        assert "error id" not in said
        assert click.status >= 500  # Slack shows the click failed, and the person is told why
        told = [json.dumps(body) for _, body in h.standin.responses]
        assert any("Not recorded" in t for t in told)
        assert tracebacks(caplog.records) == []
        assert [r.getMessage() for r in caplog.records
                if r.getMessage().startswith("not recorded, Redis unreachable")]

        active = await h.runtime.service.active_runs()
        assert [r.id for r in active] == [run_id]  # the command during the outage started nothing
        run = await h.run(run_id)
        assert run.current is not None
        assert run.current[1].approval is not None
        assert run.current[1].approval.votes == []
        assert (await h.command("URM0001", f"abort {run_id} outage test over")).status == 200
        again = await h.command("URM0002", "promote v1.4.3 abc1234 testnet")
        assert (await h.run(await h.started_run(again))).params["version"] == "v1.4.3"
