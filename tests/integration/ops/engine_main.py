"""A bot engine process stopped the way `parthenon-bot serve` stops it: SIGTERM sets the stop
event, then `engine.stop(deadline)` (bot/serve.py's shutdown, without the Slack parts).

Step executions are appended to a shared log file (O_APPEND) so the test can see which process
ran what; `--slow` makes this process's steps take the seconds their `delay` argument says (a
replica started without it runs them at once). A line "stopped <rc>" is printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
from datetime import timedelta
from pathlib import Path

import yaml

from bot.observability import setup_logging
from tests.integration.workflows.worker_main import append_execution
from workflows.connection import connect
from workflows.definition import Definition, parse_definition
from workflows.engine import Engine, EngineSettings
from workflows.model import Outcome, OutcomeSucceeded
from workflows.step_models import StepKind
from workflows.steps.base import ExecutorRegistry, StepContext
from workflows.steps.bot import BotExecutor
from workflows.steps.deps import StepDeps
from workflows.steps.people import ApprovalExecutor, ManualExecutor
from workflows.steps.wait import WaitExecutor
from workflows.store import RunStore

SLOW = """
name: slow
title: Slow workflow
environment_param: null
fixed_environment: lab
parameters:
  - {name: read_delay, required: false, default: '0'}
  - {name: write_delay, required: false, default: '0'}
steps:
  - {id: read, title: Slow read, kind: rpc, with: {delay: '{{ read_delay }}'}}
  - {id: write, title: Slow write, kind: rpc, effect: write, with: {delay: '{{ write_delay }}'}}
  - {id: after, title: Read after, kind: rpc, with: {delay: 0}}
"""


def slow_definition() -> Definition:
    return parse_definition(yaml.safe_load(SLOW), "slow.yaml", SLOW)


class LoggedExecutor:
    """Appends start/done lines; `verify` finds a completed call in the log."""

    kind = StepKind.RPC

    def __init__(self, log: Path, slow: bool) -> None:
        self.log = log
        self.slow = slow

    def _append(self, ctx: StepContext, what: str) -> None:
        append_execution(self.log, ctx, what)

    async def execute(self, ctx: StepContext) -> Outcome:
        self._append(ctx, "start")
        if self.slow:
            await asyncio.sleep(float(ctx.args.get("delay", 0) or 0))
        self._append(ctx, "done")
        return OutcomeSucceeded(result={"pid": os.getpid()})

    async def verify(self, ctx: StepContext) -> Outcome | None:
        if self.log.exists():
            for line in self.log.read_text().splitlines():
                entry = json.loads(line)
                if entry["key"] == ctx.idempotency_key and entry["what"] == "done":
                    return OutcomeSucceeded(result={"verified": True})
        return None


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", required=True)
    parser.add_argument("--log", required=True, type=Path)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--deadline", type=float, required=True)
    parser.add_argument("--lease", type=float, default=15.0)
    parser.add_argument("--slow", action="store_true")
    args = parser.parse_args()
    logging_setup = setup_logging(level="INFO")
    client = connect(args.redis)
    store = RunStore(client)
    registry = ExecutorRegistry([
        LoggedExecutor(args.log, args.slow), ApprovalExecutor(), ManualExecutor(),
        WaitExecutor(), BotExecutor(),
    ])
    engine = Engine(store, registry, settings=EngineSettings(
        worker_id=args.worker, lease=timedelta(seconds=args.lease), poll_interval=0.02,
    ), deps=StepDeps(store=store))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop_task = asyncio.create_task(engine.run_forever())
    print("ready", flush=True)
    await stop.wait()
    await engine.stop(args.deadline)
    await loop_task
    logging.getLogger("parthenon.test").info("engine stopped")
    await client.aclose()
    logging_setup.close()
    print("stopped 0", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
