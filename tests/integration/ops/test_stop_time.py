"""SIGTERM to a busy `parthenon-bot serve`: it keeps serving Slack while /readyz says 503 for the
drain, then stops everything within one deadline below the shipped grace periods, even with a
node step that would hang far longer."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.config import load_config
from bot.runtime import build_runtime
from bot.serve import STOP_DEADLINE
from bot.testing.redisserver import free_port
from tests.integration.ops.test_serve import (
    SIGNING,
    Deployment,
    deployment,  # noqa: F401 - the fixture
    exited,
    get,
    poll,
    until_ready,
)
from tests.scenarios.harness import sign
from workflows.model import Confirm, RunStatus

ROOT = Path(__file__).resolve().parents[3]
DRAIN = 2.0

pytestmark = pytest.mark.slow


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--drain", str(DRAIN)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sink, text=True,
        )
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def slash(session: aiohttp.ClientSession, base: str, text: str) -> int:
    """A `/parthenon` command signed as Slack signs it; the HTTP status of the answer."""
    body = urllib.parse.urlencode({
        "command": "/parthenon", "text": text, "user_id": "U0OPERATOR", "user_name": "op",
        "channel_id": "C0OPSCHAN", "team_id": "T0TEAM", "trigger_id": "1.2.trigger",
        "response_url": "http://127.0.0.1:9/unused",
    })
    now = int(time.time())
    headers = {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": sign(body, now, SIGNING),
               "Content-Type": "application/x-www-form-urlencoded"}
    async with session.post(f"{base}/slack/events", data=body, headers=headers) as response:
        await response.read()
        return response.status


async def test_sigterm_drains_then_stops_within_the_deadline_under_load(
    deployment: Deployment, redis_url: str, tmp_path: Path  # noqa: F811
) -> None:
    """Under a stream of slash commands and with a node step hanging for a minute, SIGTERM
    turns /readyz to 503 at once while commands are still answered 200 for the drain; then the
    listener closes and the process exits 0 within STOP_DEADLINE of the signal, the hanging
    step released (the run stays resumable, not failed)."""
    config = load_config(deployment.config, env=deployment.env)
    runtime = await build_runtime(config, redis_url)
    log = tmp_path / "serve.log"
    try:
        with serving(deployment.env, log) as (proc, base):
            await until_ready(proc, base)
            run = await runtime.service.start(
                "startup-check", {"environment": "testnet", "window": "1s"}, actor="U0OPERATOR")
            await poll(runtime.store, run.id, lambda r: r.current is not None
                       and r.current[0].id == "config" and r.status is RunStatus.WAITING)
            for node in deployment.devnet.nodes:
                node.faults.latency = 60.0  # the next node step hangs far past every deadline
            await runtime.service.command(
                run.id, Confirm(actor="U0OPERATOR", step_id="config", inputs={}))
            await poll(runtime.store, run.id, lambda r: r.current is not None
                       and r.current[0].id != "config")
            await asyncio.sleep(0.5)  # the step is in hand, waiting on a node

            answered: list[tuple[float, int]] = []
            refused: list[float] = []
            stop_load = asyncio.Event()

            async def load() -> None:
                async with aiohttp.ClientSession() as session:
                    while not stop_load.is_set():
                        try:
                            answered.append((time.monotonic(),
                                             await slash(session, base, "help")))
                        except aiohttp.ClientError:
                            refused.append(time.monotonic())
                        await asyncio.sleep(0.05)

            loader = asyncio.create_task(load())
            await asyncio.sleep(0.5)
            signalled = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            ready_status, ready_body = await get(f"{base}/readyz")
            health_status, _ = await get(f"{base}/healthz")
            code = await exited(proc, timeout=STOP_DEADLINE + 15)
            stopped = time.monotonic() - signalled
            stop_load.set()
            await loader
            final = await runtime.store.get(run.id)
    finally:
        for node in deployment.devnet.nodes:
            node.faults.latency = 0.0
        await runtime.aclose()
    assert code == 0
    assert ready_status == 503
    assert json.loads(ready_body)["checks"]["process"] == "stopping"
    assert health_status == 200
    during_drain = [status for at, status in answered
                    if signalled + 0.1 < at < signalled + DRAIN - 0.2]
    assert during_drain, "no command was answered during the drain"
    assert set(during_drain) == {200}
    assert not [at for at in refused if at < signalled + DRAIN - 0.2]
    assert DRAIN <= stopped <= STOP_DEADLINE + 2.0, f"stopped after {stopped:.1f} s"
    assert not final.terminal, final.status
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    assert any(line["msg"] == "run released on stop" for line in lines)
