"""Ack latency of the Slack front end, next to the durable floor and bare bolt apps.

    python -m bench.ack [--n1 300] [--n50 1500]

Three processes, so that no part measures itself: this one serves the apps (the bot with its
engine and notifier running on an embedded redis-server; a bare ``AsyncApp`` with bolt's default
settings that only acks; the same bare app with ``process_before_response=True``, the setting the
bot uses; and the durable floor: that bare app whose listener does one ``XADD`` on the same
Redis before it acks, the least a bot that must not lose a click can do), a second one stands
in for Slack's Web API (the notifier posts and updates cards there while we measure), and a
third one sends the requests, each signed as Slack signs them, and times each from send to
response. The third one also serves the ``response_url`` of every
request, so an answer the bot gives after its ack is timed too (send to arrival).

Two requests: ``/parthenon status`` (reads the active runs from Redis and answers with them) and
an Approve click (records the vote in Redis through the workflow service before the 200). Each
at concurrency 1 and 50; the targets are measured in interleaved rounds, one round at a time:
before each, the bot is let settle (no after-ack work, no card left to update), so that no
round pays for the work of the one before it; the CPU this process spends during a round is
reported per request, and for the bot, how long it took to settle after the round. Every
Approve click is a real vote on a run waiting for approvals, and the votes are counted
afterwards: the command was durable before its 200.

Last line: ``ack_p99_vs_durable_floor=<worst p99 of the bot / p99 of the durable floor, same
request and concurrency>``; the lines before it compare with the bare apps, and give the p99 of
the time until ``status``'s answer was seen at concurrency 50 (in the ack, or posted to its
response_url after it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
import redis.asyncio as aioredis
import yaml
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import SlackBot, build_web_app, create_bot
from bot.config import parse_config
from bot.runtime import Runtime, build_runtime
from bot.serve import freeze_startup_heap
from bot.settings import load_settings
from bot.slack.views import button_value
from bot.testing.redisserver import RedisServer
from bot.testing.signing import sign
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


class _Answers:
    """The response_url side of the load generator: when each deferred answer arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Future[float]] = {}

    async def respond(self, request: web.Request) -> web.Response:
        now = time.perf_counter()
        await request.read()
        key = request.match_info["key"]
        self.arrived[key] = now
        waiter = self.waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)
        return web.Response(text="ok")

    async def wait(self, key: str, within: float) -> float | None:
        if key in self.arrived:
            return self.arrived.pop(key)
        waiter = self.waiters[key] = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(waiter, within)
        except TimeoutError:
            return None
        finally:
            self.waiters.pop(key, None)
            self.arrived.pop(key, None)


async def _round(http: aiohttp.ClientSession, answers: _Answers,
                 spec: dict[str, Any]) -> dict[str, Any]:
    """Send one round's bodies at its concurrency; ack latencies, and for requests that carry
    an answer key, the time until the answer (in the ack, or posted to the response_url)."""
    url, conc, content_type = spec["url"], spec["concurrency"], spec["content_type"]
    queue: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
    for body, key in zip(spec["bodies"], spec["keys"], strict=True):
        queue.put_nowait((body, key))
    acks: list[float] = []
    answer_waits: list[asyncio.Task[float | None]] = []

    async def until_answer(key: str, started: float) -> float | None:
        arrived = await answers.wait(key, 30.0)
        return None if arrived is None else (arrived - started) * 1000

    async def worker() -> None:
        while not queue.empty():
            body, key = queue.get_nowait()
            ts = int(time.time())
            headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(ts),
                       "X-Slack-Signature": sign(body, ts, SECRET)}
            started = time.perf_counter()
            async with http.post(url, data=body.encode(), headers=headers) as response:
                payload = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url} answered {response.status}")
            acked = (time.perf_counter() - started) * 1000
            acks.append(acked)
            if key is not None:
                if payload:  # answered in the ack itself
                    answer_waits.append(asyncio.create_task(_value(acked)))
                else:
                    answer_waits.append(asyncio.create_task(until_answer(key, started)))

    started = time.time()
    await asyncio.gather(*(worker() for _ in range(conc)))
    ended = time.time()
    answered = [a for a in await asyncio.gather(*answer_waits) if a is not None]
    return {"acks": acks, "answers": answered, "missing": len(answer_waits) - len(answered),
            "started": started, "ended": ended}


async def _value(value: float) -> float:
    return value


async def _client() -> None:
    """Serve the response_url and print its base; then read the spec's path from stdin and run
    the rounds named there, one index a line, answering each with a line of results."""
    answers = _Answers()
    app = web.Application()
    app.router.add_post("/respond/{key}", answers.respond)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(f"http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    spec_path = Path((await reader.readline()).decode().strip())
    spec = json.loads(await asyncio.to_thread(spec_path.read_text))
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        while line := (await reader.readline()).strip():
            result = await _round(http, answers, spec["rounds"][int(line)])
            print(json.dumps(result), flush=True)
    await runner.cleanup()


def _client_main() -> None:
    asyncio.run(_client())


# --- the stand-in Slack (its own process) ------------------------------------------------------


def _standin_main() -> None:
    from bot.testing.standin import SlackStandIn

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


def _bare_app(process_before_response: bool, durable: Any = None) -> web.Application:
    """A bolt app that only acks; with ``durable`` (a Redis client), one that first records
    the request with one XADD (the durable floor)."""

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=TOKEN)

    app = AsyncApp(signing_secret=SECRET, authorize=authorize,
                   client=AsyncWebClient(base_url="http://127.0.0.1:9/api/"),
                   process_before_response=process_before_response)

    @app.command("/parthenon")
    async def command(ack: Any, body: dict[str, Any]) -> None:
        if durable is not None:
            await durable.xadd("bench:durable", {"kind": "command", "user": body["user_id"],
                                                 "text": body["text"]})
        await ack()

    @app.action(re.compile(".*"))
    async def action(ack: Any, body: dict[str, Any]) -> None:
        if durable is not None:
            await durable.xadd("bench:durable", {"kind": "action", "user": body["user"]["id"],
                                                 "value": body["actions"][0]["value"]})
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


def _command_body(user: str, text: str, respond: str) -> str:
    return urlencode({
        "team_id": "T0BENCH", "channel_id": CHANNEL, "user_id": user, "command": "/parthenon",
        "text": text, "response_url": respond, "api_app_id": "A0BENCH",
        "trigger_id": uuid.uuid4().hex,
    })


def _click_body(user: str, value: str, respond: str) -> str:
    payload = {
        "type": "block_actions", "user": {"id": user}, "team": {"id": "T0BENCH"},
        "api_app_id": "A0BENCH", "trigger_id": uuid.uuid4().hex,
        "container": {"type": "message", "message_ts": "1.000100", "channel_id": CHANNEL},
        "channel": {"id": CHANNEL}, "response_url": respond,
        "actions": [{"type": "button", "action_id": "run.approve", "block_id": "card.actions",
                     "value": value, "action_ts": f"{time.time():.6f}"}],
    }
    return urlencode({"payload": json.dumps(payload)})


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _settle(bot: SlackBot, runtime: Runtime, within: float = 60.0) -> float:
    """Wait until the bot has no after-ack work and no card left to update (so that no round
    pays for the one before it); returns how long that took."""
    started = time.perf_counter()
    deadline = started + within
    while time.perf_counter() < deadline:
        if not bot.deferred.pending and not await runtime.store.dirty_cards(1):
            break
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def _line(stream: asyncio.StreamReader, within: float = 600.0) -> str:
    line = (await asyncio.wait_for(stream.readline(), within)).decode().strip()
    if not line:
        raise RuntimeError("the load generator exited")
    return line


async def bench(n1: int, n50: int, rounds: int) -> float:
    logging.disable(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-ack-"))
    redis = RedisServer(tmp / "redis", appendonly=True)
    redis.start()
    standin = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.ack", "--standin",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.ack", "--client",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert standin.stdout is not None
    assert client.stdout is not None
    assert client.stdin is not None
    api_url = await _line(standin.stdout, 60)
    respond_base = await _line(client.stdout, 60)
    config = parse_config(CONFIG, env={"BENCH_RPC_PASSWORD": "x"})
    defn = parse_definition(yaml.safe_load(DEFINITION), "bench.yaml", DEFINITION)
    runtime = await build_runtime(config, redis.url, definitions={"promote": defn},
                                  engine_settings=EngineSettings(worker_id="bench",
                                                                 poll_interval=0.05))
    settings = load_settings({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
                              "SLACK_API_URL": api_url, "REDIS_URL": redis.url})
    bot = await create_bot(settings, runtime, bot_user_id="U0BENCHBOT")
    runners = []
    tasks: list[asyncio.Task[None]] = []
    floor_redis: aioredis.Redis | None = None
    try:
        runner, bot_url = await _serve(build_web_app(bot))
        runners.append(runner)
        runner, bare_url = await _serve(_bare_app(False))
        runners.append(runner)
        runner, pbr_url = await _serve(_bare_app(True))
        runners.append(runner)
        floor_redis = aioredis.Redis.from_url(redis.url)
        runner, floor_url = await _serve(_bare_app(True, floor_redis))
        runners.append(runner)
        tasks = [asyncio.create_task(runtime.engine.run_forever()),
                 asyncio.create_task(bot.notifier.run_forever())]
        freeze_startup_heap(0, bot)  # as `parthenon-bot serve` does once it is up

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
        keys = iter(range(10**9))

        def respond() -> tuple[str, str]:
            key = f"k{next(keys)}"
            return key, f"{respond_base}/respond/{key}"

        def status_request() -> tuple[str, str]:
            key, url = respond()
            return _command_body("UOPBENCH", "status", url), key

        def click_request(vote: int, r: int) -> tuple[str, None]:
            return _click_body(APPROVERS[vote], values[r], respond()[1]), None

        clicks = [click_request(vote, r)
                  for vote in range(VOTES_PER_RUN) for r in range(run_count)][:clicks_needed]

        # (kind, conc, target, url, requests); the targets take turns within each round.
        plan: list[tuple[str, int, str, str, list[tuple[str, str | None]]]] = []
        targets = (("bare", bare_url), ("durable", floor_url), ("parthenon", bot_url),
                   ("bare_pbr", pbr_url))
        for conc, n, votes in ((1, n1, clicks[:n1]), (50, n50, clicks[n1:])):
            status = [status_request() for _ in range(n)]
            for r in range(rounds):
                part = slice(r * n // rounds, (r + 1) * n // rounds)
                for target, url in targets:
                    plan.append(("status", conc, target, url, status[part]))
                for target, url in targets:
                    plan.append(("approve", conc, target, url, votes[part]))
        form = "application/x-www-form-urlencoded"
        warm = [("warm", conc, target, url, [status_request() for _ in range(30)])
                for conc in (1, 50) for target, url in targets]
        everything = warm + plan
        spec = {"rounds": [{"url": url, "concurrency": conc, "content_type": form,
                            "bodies": [body for body, _ in requests],
                            "keys": [key if target == "parthenon" else None
                                     for _, key in requests]}
                           for _, conc, target, url, requests in everything]}
        spec_path = tmp / "spec.json"
        spec_path.write_text(json.dumps(spec))
        client.stdin.write(f"{spec_path}\n".encode())
        await _settle(bot, runtime)

        merged: dict[tuple[str, int, str], dict[str, list[float]]] = {}
        for index, (kind, conc, target, _, requests) in enumerate(everything):
            await _settle(bot, runtime)
            cpu = time.process_time()
            client.stdin.write(f"{index}\n".encode())
            result = json.loads(await _line(client.stdout))
            cpu = time.process_time() - cpu
            catch_up = await _settle(bot, runtime) if target == "parthenon" else 0.0
            if kind == "warm":
                continue
            row = merged.setdefault((kind, conc, target), {
                "acks": [], "answers": [], "cpu": [], "catch_up": [], "missing": []})
            row["acks"] += result["acks"]
            row["answers"] += result["answers"]
            row["missing"].append(result["missing"])
            row["cpu"].append(cpu * 1000 / len(requests))
            row["catch_up"].append(catch_up)

        runs = await runtime.store.load_many(ids)
        votes_recorded = sum(len(r.current[1].approval.votes) for r in runs
                             if r.current and r.current[1].approval)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for runner in runners:
            await runner.cleanup()
        if floor_redis is not None:
            await floor_redis.aclose()
        await runtime.engine.stop(2)
        await bot.aclose()
        await runtime.aclose()
        for proc in (standin, client):
            if proc.stdin is not None:
                proc.stdin.close()
            with contextlib.suppress(ProcessLookupError, TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)
        redis.stop()

    print(f"ack latency, ms (client-side, send to response); {os.cpu_count()} cores; "
          f"{run_count} runs waiting; notifier and engine running; load average "
          f"{os.getloadavg()[0]:.2f}")
    print("server cpu: ms of this process's CPU per request during the round (all four apps,"
          " the engine and the notifier share the process; each round starts settled)")
    print("durable: the floor, a bare app (process_before_response) that does one XADD on the "
          "same Redis before its ack")
    print(f"{'request':<9}{'conc':>5}  {'target':<10}{'n':>6}{'p50':>9}{'p99':>9}"
          f"{'cpu/req':>9}")
    worst = worst_pbr = worst_floor = 0.0
    for kind in ("status", "approve"):
        for conc in (1, 50):
            row = {t: merged[(kind, conc, t)] for t in ("bare", "bare_pbr", "durable",
                                                         "parthenon")}
            for target, figures in row.items():
                acks = figures["acks"]
                print(f"{kind:<9}{conc:>5}  {target:<10}{len(acks):>6}"
                      f"{statistics.median(acks):>9.2f}{_pct(acks, 0.99):>9.2f}"
                      f"{statistics.median(figures['cpu']):>9.2f}")
            ours = _pct(row["parthenon"]["acks"], 0.99)
            worst = max(worst, ours / _pct(row["bare"]["acks"], 0.99))
            worst_pbr = max(worst_pbr, ours / _pct(row["bare_pbr"]["acks"], 0.99))
            worst_floor = max(worst_floor, ours / _pct(row["durable"]["acks"], 0.99))
    print("the bot, beyond the ack:")
    for kind in ("status", "approve"):
        for conc in (1, 50):
            figures = merged[(kind, conc, "parthenon")]
            answers = figures["answers"]
            shown = (f"answer seen p50 {statistics.median(answers):.2f} p99 "
                     f"{_pct(answers, 0.99):.2f} ms; " if answers else "")
            missing = sum(figures["missing"])
            print(f"  {kind:<8} conc {conc:>2}: {shown}"
                  f"{'missing answers: ' + str(missing) + '; ' if missing else ''}"
                  f"settled after the round in {statistics.median(figures['catch_up']):.2f} s "
                  "(median; after-ack work and card updates)")
    print(f"approve clicks sent to the bot: {clicks_needed}; votes recorded in Redis: "
          f"{votes_recorded}")
    if votes_recorded != clicks_needed:
        raise RuntimeError("some acknowledged clicks were not recorded")
    seen = merged[("status", 50, "parthenon")]["answers"]
    print(f"status_answer_seen_p99_ms_c50={_pct(seen, 0.99):.1f} (aim <= 250)")
    print(f"ack_p99_vs_bare_pbr={worst_pbr:.2f}")
    print(f"ack_p99_vs_bare={worst:.2f}")
    print(f"ack_p99_vs_durable_floor={worst_floor:.2f}")
    return worst_floor


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ack")
    parser.add_argument("--n1", type=int, default=300, help="requests per target at concurrency 1")
    parser.add_argument("--n50", type=int, default=1500, help="requests per target at 50")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--standin", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        _client_main()
    elif args.standin:
        _standin_main()
    else:
        asyncio.run(bench(args.n1, args.n50, args.rounds))


if __name__ == "__main__":
    main()
