"""Ack latency of the Slack front end, next to a bare bolt AsyncApp that only acks.

    python -m bench.ack [--n1 300] [--n50 1500]

Three processes, so that no part measures itself: this one serves the apps (the bot with its
engine and notifier running on an embedded redis-server; a bare ``AsyncApp`` with bolt's default
settings that only acks; the same bare app with ``process_before_response=True``, the setting the
bot uses), a second one stands in for Slack's Web API (the notifier posts and updates cards there
while we measure), and a third one sends the requests, each signed as Slack signs them, and
times each from send to response.

Two requests: ``/parthenon status`` (reads the active runs from Redis and answers with them) and
an Approve click (records the vote in Redis through the workflow service before the 200). Each
at concurrency 1 and 50; the targets are measured in interleaved rounds. Every Approve click is a
real vote on a run waiting for approvals, and the votes are counted afterwards: the command was
durable before its 200.

Last line: ``ack_p99_vs_bare=<worst p99 of the bot / p99 of the bare app, same request and
concurrency>``; the line before it compares with the bare app using the bot's setting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import yaml
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_web_app, create_bot
from bot.config import parse_config
from bot.redisserver import RedisServer
from bot.runtime import build_runtime
from bot.settings import load_settings
from bot.slack.views import button_value
from workflows.definition import parse_definition
from workflows.engine import EngineSettings
from workflows.model import RunStatus

TOKEN = "xoxb-bench-token"  # noqa: S105 (made up for the bench)
SECRET = "bench-signing-secret"  # noqa: S105 (made up for the bench)
CHANNEL = "C0BENCH"
APPROVERS = [f"UAPP{i:03d}" for i in range(12)]
QUORUM = 10  # a run takes QUORUM - 1 votes and keeps waiting
VOTES_PER_RUN = QUORUM - 1

DEFINITION = f"""
name: promote
title: Promote (bench)
category: release
environment_param: null
parameters:
  - {{name: version}}
steps:
  - id: approve
    title: Many approvers
    kind: approval
    approval: {{groups: [approvers], quorum: {QUORUM}}}
  - {{id: after, title: After, kind: manual}}
"""

CONFIG = f"""
environments:
  testnet:
    network: testnet
    rpc_credentials: {{user: bench, password_env: BENCH_RPC_PASSWORD}}
    nodes:
      - {{name: bench-1, rpc_url: "http://127.0.0.1:9"}}
groups:
  approvers: [{", ".join(APPROVERS)}]
  operators: [UOPBENCH]
permissions:
  default: {{start: [operators], operate: [operators]}}
slack:
  ops_channel: {CHANNEL}
"""


# --- the load generator (its own process) ------------------------------------------------------


def _sign(body: str, ts: int) -> str:
    return "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(),
                            hashlib.sha256).hexdigest()


async def _load(spec: dict[str, Any]) -> list[list[float]]:
    results: list[list[float]] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        for round_ in spec["rounds"]:
            url, bodies, conc = round_["url"], list(round_["bodies"]), round_["concurrency"]
            latencies: list[float] = []
            queue: asyncio.Queue[str] = asyncio.Queue()
            for body in bodies:
                queue.put_nowait(body)

            async def worker(url: str = url, queue: asyncio.Queue[str] = queue,
                             latencies: list[float] = latencies,
                             content_type: str = round_["content_type"]) -> None:
                while not queue.empty():
                    body = queue.get_nowait()
                    ts = int(time.time())
                    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(ts),
                               "X-Slack-Signature": _sign(body, ts)}
                    started = time.perf_counter()
                    async with http.post(url, data=body.encode(), headers=headers) as response:
                        await response.read()
                        if response.status != 200:
                            raise RuntimeError(f"{url} answered {response.status}")
                    latencies.append((time.perf_counter() - started) * 1000)

            await asyncio.gather(*(worker() for _ in range(conc)))
            results.append(latencies)
    return results


def _client_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    print(json.dumps(asyncio.run(_load(spec))))


# --- the stand-in Slack (its own process) ------------------------------------------------------


def _standin_main() -> None:
    from bot.slack.standin import SlackStandIn

    async def main() -> None:
        standin = SlackStandIn(bot_token=TOKEN)
        await standin.start()
        print(standin.api_url, flush=True)
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        loop.add_reader(sys.stdin.fileno(), done.set)
        await done.wait()
        await standin.stop()

    asyncio.run(main())


# --- the servers (this process) ----------------------------------------------------------------


def _bare_app(process_before_response: bool) -> web.Application:
    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=TOKEN)

    app = AsyncApp(signing_secret=SECRET, authorize=authorize,
                   client=AsyncWebClient(base_url="http://127.0.0.1:9/api/"),
                   process_before_response=process_before_response)

    @app.command("/parthenon")
    async def command(ack: Any) -> None:
        await ack()

    @app.action(re.compile(".*"))
    async def action(ack: Any) -> None:
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    return web_app


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"


def _command_body(user: str, text: str) -> str:
    return urlencode({
        "team_id": "T0BENCH", "channel_id": CHANNEL, "user_id": user, "command": "/parthenon",
        "text": text, "response_url": "http://127.0.0.1:9/respond", "api_app_id": "A0BENCH",
        "trigger_id": uuid.uuid4().hex,
    })


def _click_body(user: str, value: str) -> str:
    payload = {
        "type": "block_actions", "user": {"id": user}, "team": {"id": "T0BENCH"},
        "api_app_id": "A0BENCH", "trigger_id": uuid.uuid4().hex,
        "container": {"type": "message", "message_ts": "1.000100", "channel_id": CHANNEL},
        "channel": {"id": CHANNEL}, "response_url": "http://127.0.0.1:9/respond",
        "actions": [{"type": "button", "action_id": "run.approve", "block_id": "card.actions",
                     "value": value, "action_ts": f"{time.time():.6f}"}],
    }
    return urlencode({"payload": json.dumps(payload)})


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench(n1: int, n50: int, rounds: int) -> float:
    logging.disable(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-ack-"))
    redis = RedisServer(tmp / "redis", appendonly=True)
    redis.start()
    standin = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.ack", "--standin",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert standin.stdout is not None
    api_url = (await standin.stdout.readline()).decode().strip()
    config = parse_config(CONFIG, env={"BENCH_RPC_PASSWORD": "x"})
    defn = parse_definition(yaml.safe_load(DEFINITION), "bench.yaml", DEFINITION)
    runtime = await build_runtime(config, redis.url, definitions={"promote": defn},
                                  engine_settings=EngineSettings(worker_id="bench",
                                                                 poll_interval=0.05))
    settings = load_settings({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
                              "SLACK_API_URL": api_url, "REDIS_URL": redis.url})
    bot = await create_bot(settings, runtime, bot_user_id="U0BENCHBOT")
    runners = []
    try:
        runner, bot_url = await _serve(build_web_app(bot))
        runners.append(runner)
        runner, bare_url = await _serve(_bare_app(False))
        runners.append(runner)
        runner, pbr_url = await _serve(_bare_app(True))
        runners.append(runner)
        tasks = [asyncio.create_task(runtime.engine.run_forever()),
                 asyncio.create_task(bot.notifier.run_forever())]

        # Runs waiting for approvals: each takes VOTES_PER_RUN votes and keeps waiting.
        clicks_needed = n1 + n50
        run_count = -(-clicks_needed // VOTES_PER_RUN)
        ids = []
        for i in range(run_count):
            run = await runtime.service.start("promote", {"version": f"v1.{i}.0"},
                                              actor="UOPBENCH", channel=CHANNEL)
            ids.append(run.id)
        deadline = time.monotonic() + 120
        while True:
            runs = await runtime.store.load_many(ids)
            if all(r.status is RunStatus.WAITING for r in runs):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("runs did not reach their approval step")
            await asyncio.sleep(0.1)
        values = []
        for run in runs:
            assert run.current is not None
            values.append(button_value(run, *run.current))
        clicks = [_click_body(APPROVERS[vote], values[r])
                  for vote in range(VOTES_PER_RUN) for r in range(run_count)][:clicks_needed]
        await asyncio.sleep(2)  # first cards posted; the notifier settles

        plan: list[tuple[str, int, str, str, list[str]]] = []  # kind, conc, target, url, bodies
        form = "application/x-www-form-urlencoded"
        for conc, n, votes in ((1, n1, clicks[:n1]), (50, n50, clicks[n1:])):
            status = [_command_body("UOPBENCH", "status") for _ in range(n)]
            for r in range(rounds):
                part = slice(r * n // rounds, (r + 1) * n // rounds)
                for target, url in (("bare", bare_url), ("parthenon", bot_url),
                                    ("bare_pbr", pbr_url)):
                    plan.append(("status", conc, target, url, status[part]))
                for target, url in (("bare", bare_url), ("parthenon", bot_url),
                                    ("bare_pbr", pbr_url)):
                    plan.append(("approve", conc, target, url, votes[part]))
        warm = [_command_body("UOPBENCH", "status") for _ in range(30)]
        spec = {"rounds": [{"url": u, "bodies": warm, "concurrency": 1, "content_type": form}
                           for u in (bare_url, bot_url, pbr_url)]
                + [{"url": url, "bodies": bodies, "concurrency": conc, "content_type": form}
                   for _, conc, _, url, bodies in plan]}
        spec_path = tmp / "spec.json"
        spec_path.write_text(json.dumps(spec))
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.ack", "--client", str(spec_path),
            stdout=asyncio.subprocess.PIPE)
        out, _ = await client.communicate()
        if client.returncode != 0:
            raise RuntimeError("the load generator failed")
        latencies = json.loads(out)[3:]

        merged: dict[tuple[str, int, str], list[float]] = {}
        for (kind, conc, target, _, _), values_ms in zip(plan, latencies, strict=True):
            merged.setdefault((kind, conc, target), []).extend(values_ms)

        runs = await runtime.store.load_many(ids)
        votes_recorded = sum(len(r.current[1].approval.votes) for r in runs
                             if r.current and r.current[1].approval)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for runner in runners:
            await runner.cleanup()
        await runtime.engine.stop(2)
        await bot.aclose()
        await runtime.aclose()
        if standin.stdin is not None:
            standin.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            await asyncio.wait_for(standin.wait(), 10)
        redis.stop()

    print(f"ack latency, ms (client-side, send to response); {os.cpu_count()} cores; "
          f"{run_count} runs waiting; notifier and engine running")
    print(f"{'request':<9}{'conc':>5}  {'target':<10}{'n':>6}{'p50':>9}{'p99':>9}")
    worst = worst_pbr = 0.0
    for kind in ("status", "approve"):
        for conc in (1, 50):
            row = {t: merged[(kind, conc, t)] for t in ("bare", "parthenon", "bare_pbr")}
            for target, values_ms in row.items():
                print(f"{kind:<9}{conc:>5}  {target:<10}{len(values_ms):>6}"
                      f"{statistics.median(values_ms):>9.2f}{_pct(values_ms, 0.99):>9.2f}")
            ours = _pct(row["parthenon"], 0.99)
            worst = max(worst, ours / _pct(row["bare"], 0.99))
            worst_pbr = max(worst_pbr, ours / _pct(row["bare_pbr"], 0.99))
    print(f"approve clicks sent to the bot: {clicks_needed}; votes recorded in Redis: "
          f"{votes_recorded}")
    if votes_recorded != clicks_needed:
        raise RuntimeError("some acknowledged clicks were not recorded")
    print(f"ack_p99_vs_bare_pbr={worst_pbr:.2f}")
    print(f"ack_p99_vs_bare={worst:.2f}")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ack")
    parser.add_argument("--n1", type=int, default=300, help="requests per target at concurrency 1")
    parser.add_argument("--n50", type=int, default=1500, help="requests per target at 50")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--standin", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        _client_main(args.client)
    elif args.standin:
        _standin_main()
    else:
        asyncio.run(bench(args.n1, args.n50, args.rounds))


if __name__ == "__main__":
    main()
