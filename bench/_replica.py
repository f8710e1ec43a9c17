"""One bot replica for the chaos suite and the benchmarks: ``parthenon-bot serve`` itself.

    python -m bench._replica --config FILE [--lease 2] [--budget-window 1] [--slack-timeout 2]
    python -m bench._replica --config FILE --engine-only [--definitions DIR] [--lease 2]

It runs ``bot.serve.serve`` (the production entry point: Slack app on HTTP, engine, notifier,
drill scheduler, SIGTERM handling) with the settings from the environment, and only turns the
knobs production leaves at their defaults, once the parts exist and before the engine's first
look: the lease, the poll interval, the node POST budget's window (the devnet's rate-limit window
is shortened to match, so a run takes seconds, not minutes), the notifier's pace and its Web API
timeout. Prints ``ready <port>`` when it serves. ``--engine-only`` runs just the bot's runtime
(``bot.runtime.build_runtime``) and its engine, without Slack (REDIS_URL from the environment;
``ready 0``), stopped the same way serve stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from bot.app import SlackBot
from bot.config import BotConfig, load_config
from bot.observability import setup_logging
from bot.runtime import build_runtime
from bot.serve import STOP_DEADLINE, serve
from bot.settings import load_settings
from workflows.definition import Definition, load_definitions
from workflows.engine import EngineSettings


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench._replica")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--worker", default=None, help="engine worker id (default: host-pid-x)")
    parser.add_argument("--lease", type=float,
                        default=EngineSettings().lease.total_seconds(),
                        help="engine lease, seconds (default: the engine's)")
    parser.add_argument("--poll", type=float, default=0.1, help="engine poll interval, seconds")
    parser.add_argument("--budget-window", type=float, default=None,
                        help="node POST budget window, seconds (default: the node's 60 s)")
    parser.add_argument("--slack-timeout", type=int, default=None,
                        help="the notifier's Web API timeout, seconds (default: the 30 s of the "
                             "bot's HTTP session)")
    parser.add_argument("--notifier-interval", type=float, default=None,
                        help="least seconds between two updates of one card (default 1)")
    parser.add_argument("--definitions", type=Path, default=None,
                        help="a directory of workflow definitions (default: the shipped ones)")
    parser.add_argument("--engine-only", action="store_true",
                        help="the runtime and its engine only: no Slack app, no notifier")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    config = load_config(args.config)
    engine = EngineSettings(lease=timedelta(seconds=args.lease), poll_interval=args.poll)
    if args.worker:
        engine = EngineSettings(worker_id=args.worker, lease=engine.lease,
                                poll_interval=args.poll)
    definitions = load_definitions(args.definitions) if args.definitions else None
    if args.engine_only:
        setup_logging(config, level=args.log_level)
        return asyncio.run(_engine_only(config, engine, definitions))
    settings = load_settings()
    setup_logging(settings, config, level=args.log_level)

    def tune(port: int, bot: SlackBot) -> None:
        # Called by serve() right after it created the engine's task, before that task ran.
        runtime = bot.runtime
        runtime.engine.settings = engine
        if args.budget_window is not None:
            budget = runtime.nodes.budget
            assert budget is not None  # build_runtime always gives the client one
            budget.window, budget.margin = args.budget_window, min(1.0, args.budget_window / 5)
            budget.max_wait = budget.window + budget.margin
        if args.slack_timeout is not None:
            # The bot's clients share one session whose timeout (30 s) wins over a client's own;
            # the notifier gets a client of its own with the shorter timeout instead.
            bot.notifier.client = AsyncWebClient(
                token=settings.slack_bot_token.get_secret_value(),
                base_url=settings.slack_api_url, timeout=args.slack_timeout, retry_handlers=[])
        if args.notifier_interval is not None:
            bot.notifier.min_interval = args.notifier_interval
            bot.notifier.poll = min(bot.notifier.poll, args.notifier_interval / 2)
        print(f"ready {port}", flush=True)

    async def run() -> int:
        stop = asyncio.Event()
        _stop_with_parent(stop, asyncio.get_running_loop())
        return await serve(settings, config, host="127.0.0.1", port=0, stop=stop,
                           definitions=definitions, on_started=tune)

    try:
        return asyncio.run(run())
    except KeyboardInterrupt:
        return 130


async def _engine_only(config: BotConfig, engine: EngineSettings,
                       definitions: dict[str, Definition] | None) -> int:
    runtime = await build_runtime(config, os.environ["REDIS_URL"], definitions=definitions,
                                  engine_settings=engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    _stop_with_parent(stop, loop)
    task = asyncio.create_task(runtime.engine.run_forever())
    print("ready 0", flush=True)
    await stop.wait()
    await runtime.engine.stop(STOP_DEADLINE)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await runtime.aclose()
    return 0


def _stop_with_parent(stop: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
    """Stop gracefully when stdin closes: the driver that started us is gone (a replica must
    not outlive a crashed chaos run). The driver starts replicas with stdin as a pipe."""

    def watch() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    raise SystemExit(main())
