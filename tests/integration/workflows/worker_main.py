"""An engine in its own OS process, for crash and multi-replica tests.

Every step execution is appended as one line to a shared log file (O_APPEND), so the test can
count executions across processes without trusting the engine's own bookkeeping.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from pathlib import Path

import yaml

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

DURABLE = """
name: durable
title: Durable workflow
environment_param: null
fixed_environment: lab
parameters:
  - {name: label, required: false, default: x}
steps:
  - {id: prepare, title: Read something, kind: rpc, with: {delay: 0}}
  - {id: change, title: Change something, kind: rpc, effect: write, with: {delay: '{{ label }}'}}
  - {id: settle, title: Short wait, kind: wait, with: {duration: 0.05s}}
  - {id: change-again, title: Change something else, kind: rpc, effect: write, with: {delay: 0}}
  - {id: check, title: Read again, kind: rpc, with: {delay: 0}}
"""


def durable_definition() -> Definition:
    return parse_definition(yaml.safe_load(DURABLE), "durable.yaml", DURABLE)


def append_execution(log: Path, ctx: StepContext, what: str) -> None:
    """One line per execution event, appended atomically (O_APPEND) so processes can share it."""
    line = json.dumps({"run": ctx.run.id, "step": ctx.step.id, "attempt": ctx.attempt,
                       "pid": os.getpid(), "what": what, "key": ctx.idempotency_key})
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


class FileRecordingExecutor:
    """Counts executions in a file; `label` numbers make a step slow (seconds to sleep)."""

    kind = StepKind.RPC

    def __init__(self, log: Path, verifiable: bool) -> None:
        self.log = log
        self.verifiable = verifiable

    def _append(self, ctx: StepContext, what: str) -> None:
        append_execution(self.log, ctx, what)

    async def execute(self, ctx: StepContext) -> Outcome:
        self._append(ctx, "start")
        delay = ctx.args.get("delay", 0)
        seconds = float(delay) if str(delay).replace(".", "", 1).isdigit() else 0.0
        if seconds:
            await asyncio.sleep(seconds)
        self._append(ctx, "done")
        return OutcomeSucceeded(result={"pid": os.getpid()})

    async def verify(self, ctx: StepContext) -> Outcome | None:
        """Looks in the log: a call that completed is known to have happened."""
        if not self.verifiable or not self.log.exists():
            return None
        for line in self.log.read_text().splitlines():
            entry = json.loads(line)
            if entry["key"] == ctx.idempotency_key and entry["what"] == "done":
                return OutcomeSucceeded(result={"verified": True})
        return None


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", required=True)
    parser.add_argument("--log", required=True, type=Path)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--lease", type=float, default=1.0)
    parser.add_argument("--verifiable", action="store_true")
    args = parser.parse_args()
    client = connect(args.redis)
    store = RunStore(client)
    registry = ExecutorRegistry([
        FileRecordingExecutor(args.log, args.verifiable), ApprovalExecutor(), ManualExecutor(),
        WaitExecutor(), BotExecutor(),
    ])
    from datetime import timedelta

    engine = Engine(store, registry, settings=EngineSettings(
        worker_id=args.worker, lease=timedelta(seconds=args.lease), poll_interval=0.02,
    ), deps=StepDeps(store=store))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(engine.stop(5)))
    print("ready", flush=True)
    await engine.run_forever()
    await engine.drain()
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
