"""`parthenon-bot demo [--data-dir DIR] [--script FILE]`: the whole bot on this machine.

Starts the demo stack (embedded Redis, devnets, the bot behind a Slack stand-in, all on
127.0.0.1), then either a console prompt or a script, and stops everything when the person
quits, presses Ctrl-C, the script ends, or something fails. docs/demo.md describes the console
and the script format.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import aiohttp

from bot.configerror import ConfigError
from bot.console.errors import ScriptError, ScriptFailed
from bot.console.feed import Feed
from bot.console.render import Names, Style
from bot.console.repl import run_repl
from bot.console.screen import Screen
from bot.console.script import Step, load_script, run_script
from bot.console.session import Session
from bot.console.slackside import SlackSide
from bot.console.stack import (
    BLOCK_INTERVAL,
    DEMO_POLICY,
    DEMO_WINDOWS,
    OPS_CHANNEL,
    OPS_CHANNEL_NAME,
    DemoStack,
    DemoStartError,
)
from bot.console.users import DEMO_USERS
from bot.devnet import DevnetError
from bot.testing.redisserver import RedisServerError
from workflows.errors import DefinitionError

__all__ = ["run_demo"]

DEFAULT_DATA_DIR = ".demo-data"
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def run_demo(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="parthenon-bot demo",
        description="The whole bot locally: embedded Redis, devnets, and a console for Slack.",
    )
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                        help="where Redis keeps its AOF, the config and the logs "
                             f"(default: ./{DEFAULT_DATA_DIR})")
    parser.add_argument("--script", type=Path,
                        help="run this demo script instead of the prompt (docs/demo.md)")
    parser.add_argument("--no-color", action="store_true", help="plain text output")
    parser.add_argument("--definitions", type=Path, metavar="DIR",
                        help="your own workflow definitions, added to the shipped ones as "
                             "`serve --definitions` adds them (docs/workflows.md)")
    args = parser.parse_args(list(argv))
    steps: list[Step] | None = None
    if args.script is not None:
        try:
            steps = load_script(args.script)
        except ScriptError as exc:
            print(f"parthenon-bot demo: {exc}", file=sys.stderr)
            return EXIT_USAGE
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper) and (out.encoding or "").lower() not in {"utf-8", "utf8"}:
        out.reconfigure(errors="replace")  # a terminal without UTF-8 gets ? for the emoji
    color = not args.no_color and out.isatty() and "NO_COLOR" not in os.environ
    try:
        return asyncio.run(_demo(Path(args.data_dir), steps, str(args.script or ""), out, color,
                                 args.definitions))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


async def _demo(data_dir: Path, steps: list[Step] | None, source: str, out: TextIO,
                color: bool, definitions: Path | None = None) -> int:
    stack = DemoStack(data_dir, definitions=definitions)
    _on_signals(stack.stop_event)
    style = Style(color=color)
    print(style.dim(f"Starting the demo (data in {data_dir}/)…"), file=out, flush=True)
    try:
        await stack.start()
    except (DemoStartError, RedisServerError, DevnetError, ConfigError, DefinitionError,
            OSError) as exc:
        print(f"parthenon-bot demo: could not start: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if stack.stop_event.is_set():
        await stack.stop()
        return EXIT_INTERRUPTED
    async with aiohttp.ClientSession() as http:
        screen = Screen(out, style)
        side = SlackSide(f"http://127.0.0.1:{stack.port}", stack.signing_secret, stack.standin,
                         http)
        names = Names(users={u.id: u.name for u in DEMO_USERS},
                      channels={OPS_CHANNEL: OPS_CHANNEL_NAME})
        feed = Feed(stack.standin, screen, names, side.triggers, side.responders)
        session = Session(stack, screen, feed, side)
        await _banner(stack, session)
        feed_task = asyncio.create_task(feed.run(), name="console-feed")
        try:
            return await _drive(session, stack, steps, source)
        finally:
            feed_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed_task
            await stack.stop()
            screen.note(style.dim("Stopped: the bot, the devnets, the Slack stand-in and Redis "
                                  "(runs are kept in the data dir)."))


async def _drive(session: Session, stack: DemoStack, steps: list[Step] | None,
                 source: str) -> int:
    stop = stack.stop_event
    if steps is None:
        await run_repl(session, stop)
        return EXIT_INTERRUPTED if stop.is_set() else 0
    try:
        await run_script(session, steps, source, stopped=stop.is_set)
    except ScriptFailed as exc:
        session.feed.drain()
        with contextlib.suppress(Exception):
            await session.show(thread=False)
        print(f"parthenon-bot demo: script failed at {exc}", file=sys.stderr)
        session.screen.note(f"✗ script failed at {exc}")
        return EXIT_INTERRUPTED if stop.is_set() else EXIT_FAILED
    session.feed.drain()
    session.screen.note(session.style.green(f"✓ {source}: every step done, every check passed"))
    return 0


def _on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)


async def _banner(stack: DemoStack, session: Session) -> None:
    style = session.style
    ports = stack.ports()
    previous = 0
    if stack.bot is not None:
        service = stack.bot.runtime.service
        seen = {r.id for r in await service.active_runs()}
        seen |= {r.id for r in await service.recent_runs(50)}
        previous = len(seen)
    nets = " · ".join(
        f"{name} {len(d.nodes)} node{'s' if len(d.nodes) > 1 else ''}"
        + (f" (canary {', '.join(n.name for n in d.nodes if n.canary)})"
           if any(n.canary for n in d.nodes) else "")
        for name, d in stack.devnets.items()
    )
    windows = " ".join(f"{k}={v}" for k, v in DEMO_WINDOWS.items())
    rows = [
        style.bold("parthenon-bot demo") + " · everything on 127.0.0.1, no Slack, no real nodes",
        f"  redis    127.0.0.1:{ports.get('redis')} with AOF in {stack.shown_dir / 'redis'}"
        + (f" · {previous} run{'s' if previous != 1 else ''} from earlier sessions"
           if previous else ""),
        f"  devnets  {nets}; a block every {BLOCK_INTERVAL:g}s",
        f"  bot      http://127.0.0.1:{stack.port}/slack/events (the Slack app itself); its Web "
        f"API goes to the stand-in on :{ports.get('slack-standin')}",
        f"  windows  {windows} (demo defaults; name=value in a command sets them)",
        f"  policy   minimum windows lowered for the demo: canary "
        f"{DEMO_POLICY['min_canary_window']}, waves {DEMO_POLICY['min_wave_window']} "
        "(the runbook's: 1h and 10m)",
        f"  files    {stack.shown_dir / 'config.yaml'} · logs {stack.shown_dir / 'demo.log'}",
    ]
    if stack.seeded:
        rows.append("  note     a restore drill is recorded as passed 10 days ago so promotions "
                    "pass the §6 drill gate; examples/restore-drill.demo records a real one")
    earlier = await session.find_earlier_run() if previous else None
    if earlier is not None:
        rows.append(f"  latest   {earlier} from an earlier session: `show` shows its card, "
                    "`/parthenon runs` lists them all")
    rows.append(style.dim("  ports    " + " ".join(str(p) for p in ports.values())))
    rows.append("People (/as <name>):")
    rows += ["  " + row for row in session.users_lines()]
    rows.append(f"You are {style.bold(session.user.name)} in #{OPS_CHANNEL_NAME}. Try "
                f"{style.bold('/parthenon promote v1.4.2 abc1234 mainnet')} · help · quit")
    session.screen.write(rows)
