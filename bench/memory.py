"""Redis memory per run, and the bot's resident memory idle and with 1,000 active runs.

    python -m bench.memory [--runs 1000]

One bot replica (``bench._replica``: ``parthenon-bot serve``, its Slack app, engine, notifier
and drill scheduler) against our redis-server and the Slack stand-in. Its resident set (VmRSS)
is read idle, then after ``--runs`` key-compromise incidents on mainnet (the shipped
definition) were started and the engine and the notifier have brought each to its first wait
(isolating the host, for a person to confirm) with its incident channel, card and request
posted: the runs are active, loaded, rendered, and waiting for people. (Incidents, because one
run writes to an environment at a time: a thousand promotions cannot be active at once; an
incident locks nothing.) Redis memory per run is
the growth of ``used_memory`` over those runs, divided by their number; one run's keys are
listed with ``MEMORY USAGE``.

Then retention (``--finished``, default 10,000): with the replica stopped and the active runs
left in Redis, incident runs are started and aborted 1,000 at a time; after each thousand the
archiver sweeps as it would once their retention (30 days) has passed (the time is passed in),
writing each to an archive directory and deleting its keys. Redis ``used_memory`` is read before
and after each sweep: it stays flat, bounded by the active runs, where without archiving it
grows by the finished runs' keys.

Last line: ``redis_kb_per_run=<x> rss_idle_mb=<y> rss_active_mb=<z> runs=<n>
finished=<f> retained_mb=<r> unarchived_mb=<u>``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import yaml

from bench._chaosworld import BOT_TOKEN, SIGNING_SECRET, Replica
from bench._footprint import promotion_footprint
from bot.config import load_config
from bot.runtime import build_runtime
from bot.testing.redisserver import RedisServer
from bot.testing.standin import SlackStandIn
from workflows import keys
from workflows.archive import RunArchive
from workflows.archiver import Archiver
from workflows.connection import connect
from workflows.drills import DrillKind, DrillRecord
from workflows.drillscheduler import DrillBook
from workflows.keys import requests_key
from workflows.model import Abort, RunStatus

SHA = "0123456789abcdef0123456789abcdef01234567"
GROUPS = {"operators": ["UOPMEM01"], "release-managers": ["URMMEM01", "URMMEM02"],
          "security": ["USECMEM1"]}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def config_text() -> str:
    environments: dict[str, Any] = {}
    port = 20000
    for name, count in (("regtest", 2), ("testnet", 4), ("mainnet", 8)):
        nodes = []
        for i in range(1, count + 1):
            port += 1
            nodes.append({"name": f"{name[:4]}-{i}", "rpc_url": f"http://127.0.0.1:{port}",
                          "role": "miner" if i == 1 else "validator", "canary": i == 1})
        environments[name] = {"network": name, "nodes": nodes, "rpc_credentials": {
            "user": "parthenon", "password_env": "MEM_RPC_PASSWORD"}}
    return yaml.safe_dump({
        "environments": environments,
        "groups": GROUPS,
        "permissions": {"default": {"start": ["operators", "release-managers"],
                                    "operate": ["operators"]}},
        "slack": {"ops_channel": "C0MEMORY"},
    })


async def used_memory(redis: Any) -> int:
    info = await redis.info("memory")
    return int(info["used_memory"])


async def wait_all_waiting(store: Any, run_ids: list[str], within: float) -> float:
    deadline = time.monotonic() + within
    while True:
        runs = await store.load_many(run_ids)
        waiting = [r for r in runs if r.status is RunStatus.WAITING]
        dirty = await store.dirty_cards(10)
        if len(waiting) == len(run_ids) and not dirty:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(waiting)} of {len(run_ids)} runs waiting, "
                               f"{len(dirty)}+ cards not posted yet")
        await asyncio.sleep(0.5)


async def finished_runs(runtime: Any, redis: aioredis.Redis, total: int,
                        archive_dir: Path) -> tuple[int, int, int]:
    """(used_memory growth after ``total`` finished runs archived batch by batch, the largest
    growth seen between sweeps, what one batch held before its sweep), in bytes."""
    archiver = Archiver(runtime.store, RunArchive(archive_dir), retention=timedelta(days=30))
    base = await used_memory(redis)
    peak = unarchived = deferred = 0
    started = time.monotonic()
    for batch in range(0, total, 1000):
        async def one(n: int) -> None:
            run = await runtime.service.start(
                "incident-release", {"environment": "mainnet", "severity": "sev3",
                                     "summary": f"memory bench incident {n}: a bad release"},
                actor="UOPMEM01", channel="C0MEMORY")
            await runtime.service.command(run.id, Abort(actor="UOPMEM01", reason="bench"))

        for first in range(batch, min(batch + 1000, total), 50):
            await asyncio.gather(*(one(n) for n in range(first, min(first + 50, total))))
        grown = await used_memory(redis) - base
        peak = max(peak, grown)
        if batch == 0:
            unarchived = grown  # what a thousand finished runs hold before archiving
        report = await archiver.sweep(runtime.store.now() + timedelta(days=31))
        deferred = report.deferred  # those the archive refused, still in Redis (see below)
    archived = sum(1 for _ in (archive_dir / "runs").glob("*.json"))
    print(f"{total} incident runs started, aborted and archived past their retention in "
          f"{time.monotonic() - started:.1f} s ({archived} archive documents; {deferred} left "
          f"in Redis: a new run drew the id of one archived minutes before, which only a "
          f"retention shorter than a day allows)")
    return await used_memory(redis) - base, peak, unarchived


async def main_async(count: int, finished: int = 10_000) -> int:
    with tempfile.TemporaryDirectory(prefix="memory-") as tmp:
        workdir = Path(tmp)
        redis_server = RedisServer(workdir / "redis")
        redis_server.start()
        slack = SlackStandIn(bot_token=BOT_TOKEN)
        await slack.start()
        config_path = workdir / "config.yaml"
        config_path.write_text(config_text())
        env = {"PATH": os.environ.get("PATH", ""), "MEM_RPC_PASSWORD": "memory-rpc-password",
               "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
               "SLACK_API_URL": slack.api_url, "REDIS_URL": redis_server.url}
        config = load_config(config_path, env=env)
        redis = connect(redis_server.url)  # the runtime closes it
        runtime = await build_runtime(config, redis_server.url, redis_client=redis)
        logdir = workdir / "logs"
        logdir.mkdir()
        replica = Replica("bot", ["--config", str(config_path), "--poll", "0.05",
                                  "--notifier-interval", "0.05"], env, logdir)
        try:
            await DrillBook(runtime.store).record(DrillRecord(
                kind=DrillKind.RESTORE, run_id="r-memory-seed",
                completed_at=runtime.store.now() - timedelta(days=1)))
            await replica.start()
            assert replica.proc is not None
            await asyncio.sleep(3.0)
            idle = rss_mb(replica.proc.pid)
            promotion, promotion_grown, promotion_steps = await promotion_footprint(
                runtime, redis, "URMMEM01", "UOPMEM01", "C0MEMORY")
            before = await used_memory(redis)
            started = time.monotonic()
            run_ids = []
            for n in range(count):
                run = await runtime.service.start(
                    "incident-key-compromise",
                    {"environment": "mainnet", "severity": "sev2",
                     "summary": f"memory bench: a leaked key ({n})"},
                    actor="UOPMEM01", channel="C0MEMORY", dedup_key=f"memory-{n}")
                run_ids.append(run.id)
            settled = await wait_all_waiting(runtime.store, run_ids, 600)
            await asyncio.sleep(2.0)
            active = rss_mb(replica.proc.pid)
            after = await used_memory(redis)
            sample = keys.RunKeys(run_ids[0])
            usage = {}
            for name in ("run", "audit", "ledger", "seen", "outbox", "card"):
                key = getattr(sample, name)
                usage[name] = await redis.memory_usage(key) or 0
            usage["requests"] = await redis.memory_usage(requests_key(run_ids[0])) or 0
            run = await runtime.store.get(run_ids[0])
            await replica.terminate()
            retained = peak = unarchived = 0
            if finished:
                retained, peak, unarchived = await finished_runs(runtime, redis, finished,
                                                                 workdir / "archive")
        finally:
            await replica.terminate()
            await runtime.aclose()
            await slack.stop()
            redis_server.stop()
    per_run = (after - before) / count
    print(f"{count} key-compromise incidents on mainnet ({len(run.plan)} planned steps each) "
          f"brought to their first wait in {settled - started:.1f} s, each with its channel, "
          f"card and request posted ({len(slack.calls)} Slack calls)")
    print(f"bot resident memory: idle {idle:.1f} MiB, with {count} active runs {active:.1f} MiB "
          f"(+{(active - idle) * 1024 / count:.1f} KiB per run)")
    print(f"Redis used_memory: +{(after - before) / 1024 / 1024:.2f} MiB for {count} runs, "
          f"{per_run / 1024:.1f} KiB per run")
    print("one run's keys (MEMORY USAGE, bytes): "
          + ", ".join(f"{k} {v}" for k, v in usage.items() if v))
    mib = 1024 * 1024
    if finished:
        print(f"retention on: Redis used_memory after {finished} finished runs archived: "
              f"{retained / mib:+.2f} MiB (at most {peak / mib:+.2f} MiB between sweeps, with "
              f"1,000 runs finished and not yet archived: {unarchived / mib:.2f} MiB); the "
              f"{count} active runs stay")
    print(f"one active promotion to mainnet ({promotion_steps} planned steps, at its first wait, "
          f"card and request posted), its keys (MEMORY USAGE, bytes): "
          + ", ".join(f"{k} {v}" for k, v in promotion.items())
          + f"; {sum(promotion.values()) / 1024:.1f} KiB in all (used_memory grew "
          f"{promotion_grown / 1024:.1f} KiB meanwhile)")
    print(f"redis_kb_per_promotion={sum(promotion.values()) / 1024:.1f}", end=" ")
    print(f"redis_kb_per_run={per_run / 1024:.1f} rss_idle_mb={idle:.1f} "
          f"rss_active_mb={active:.1f} runs={count} finished={finished} "
          f"retained_mb={retained / mib:.2f} unarchived_mb={unarchived / mib:.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--finished", type=int, default=10_000,
                        help="finished runs archived past their retention (0: skip)")
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args.runs, args.finished))


if __name__ == "__main__":
    sys.exit(main())
