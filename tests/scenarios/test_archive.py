"""Runs past their retention: archived by the served bot's archiver, then read back after a
restart through `/parthenon runs`, `/parthenon status <run>` and `parthenon-bot runs export`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

from bot.archiving import archiver_for
from bot.config import BotConfig
from bot.testing.standin import SlackStandIn
from tests.scenarios.harness import (
    APP_TOKEN,
    BOT_TOKEN,
    CONFIG,
    OPERATOR,
    Harness,
    running_bot,
    scenario_config,
)
from tests.scenarios.test_runs_drills import answer_of
from tests.unit.slack.definitions import definitions
from workflows import keys
from workflows.model import RunStatus
from workflows.storeformat import from_ms

ROOT = Path(__file__).resolve().parents[2]


async def cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", "")}, cwd=ROOT,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def finished_run(h: Harness, reason: str) -> str:
    run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    reply = await h.command(OPERATOR, f"abort {run_id} {reason}")
    assert reply.status == 200
    await h.wait_run(run_id, lambda r: r.status is RunStatus.ABORTED)
    await h.card(run_id, lambda m: "aborted" in json.dumps(m.blocks))
    return run_id


async def test_archived_runs_are_read_back_after_a_restart(redis_url: str, tmp_path: Path) -> None:
    archive_dir = tmp_path / "archive"
    text = CONFIG + f"retention: {{finished_runs: 30d, archive_dir: '{archive_dir}'}}\n"
    config_file = tmp_path / "config.yaml"
    config_file.write_text(text)
    config = scenario_config(text)

    slack = SlackStandIn(bot_token=BOT_TOKEN, app_token=APP_TOKEN)  # Slack outlives the bot
    await slack.start()
    try:
        await archive_then_read_back(redis_url, config, config_file, archive_dir, slack)
    finally:
        await slack.stop()


async def archive_then_read_back(redis_url: str, config: BotConfig, config_file: Path,
                                 archive_dir: Path, slack: SlackStandIn) -> None:
    async with running_bot(redis_url, definitions(), config=config, standin=slack) as h:
        old = await finished_run(h, "superseded by v1.4.3")
        kept = await finished_run(h, "recent enough to stay")
        redis = h.redis
        # 30 days after the first run finished (time passed in): the second, finished later,
        # is not due yet.
        old_finished = from_ms(await redis.zscore(keys.FINISHED, old))
        report = await archiver_for(h.runtime).sweep(old_finished + timedelta(days=30))
        assert report.archived == 1
        assert [k async for k in redis.scan_iter(match=f"pcb:{{{old}}}:*")] == []
        assert [k async for k in redis.scan_iter(match=f"pcb:{{{kept}}}:*")]
        assert (archive_dir / "runs" / f"{old}.json").is_file()

    async with running_bot(redis_url, definitions(), config=config, standin=slack) as h:
        listing = await answer_of(h, await h.command(OPERATOR, "runs"))
        assert "*Archived*" in listing
        archived_part = listing[listing.index("*Archived*"):]
        assert old in archived_part
        assert kept not in archived_part
        status = await answer_of(h, await h.command(OPERATOR, f"status {old}"))
        assert "Archived past its retention" in status
        assert "superseded by v1.4.3" in status
        missing = await answer_of(h, await h.command(OPERATOR, "status r20200101-000000"))
        assert "Archived" not in missing
        # The incident log of an archived run is posted in its card's thread, as before.
        where = json.loads((archive_dir / "runs" / f"{old}.json").read_text())["card"]
        assert (await h.command(OPERATOR, f"export {old}")).status == 200
        [log] = await h.standin.wait_for(lambda: [
            m for m in h.standin.replies(where["channel"], where["ts"])
            if "Incident log" in json.dumps(m.blocks)][:1])
        assert "superseded by v1.4.3" in json.dumps(log.blocks)

    code, out, err = await cli("runs", "export", old, "--redis-url", redis_url,
                               "--config", str(config_file))
    assert code == 0, err
    assert out.startswith("# Incident log: ")
    assert "superseded by v1.4.3" in out
    assert out.strip() == (archive_dir / "runs" / f"{old}.md").read_text().strip()
    code, out, err = await cli("runs", "--redis-url", redis_url, "--archive-dir", str(archive_dir))
    assert code == 0, err
    archived_lines = out[out.index("archived runs"):out.index("drills (next due")]
    assert old in archived_lines
    assert kept in out[:out.index("archived runs")]
