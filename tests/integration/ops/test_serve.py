"""`parthenon-bot serve` as real processes: the probes and /metrics on its port, and SIGTERM to
the replica holding a run in the middle of a node step while another replica finishes it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bot.config import load_config
from bot.devnet import Devnet
from bot.runtime import build_runtime
from bot.testing.redisserver import free_port
from bot.testing.standin import SlackStandIn
from workflows import keys
from workflows.model import Confirm, Run, RunStatus
from workflows.store import RunStore

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "xoxb-serve-5555-secret"
SIGNING = "serve-signing-secret-77"
DEPLOY = "serve-deploy-secret-88"
RPC = "devnet-password"
SECRETS = (TOKEN, SIGNING, DEPLOY, RPC)
SUM = "cd" * 32

pytestmark = pytest.mark.slow


@dataclass
class Deployment:
    devnet: Devnet
    slack: SlackStandIn
    config: Path
    env: dict[str, str]


@pytest.fixture
async def deployment(tmp_path: Path, redis_url: str) -> AsyncIterator[Deployment]:
    slack = SlackStandIn(bot_token=TOKEN)
    await slack.start()
    async with Devnet("testnet", nodes=2, block_interval=0.1) as net:
        path = net.write_config(tmp_path / "config.yaml", webhook_secret=DEPLOY)
        document = yaml.safe_load(path.read_text())
        document["groups"] = {"operators": ["U0OPERATOR"]}
        document["slack"] = {"ops_channel": "C0OPSCHAN"}
        path.write_text(yaml.safe_dump(document))
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PARTHENON_BOT_CONFIG": str(path),
            "PARTHENON_RPC_PASSWORD_TESTNET": RPC,
            "PARTHENON_DEPLOY_SECRET": DEPLOY,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING,
            "SLACK_API_URL": slack.api_url,
            "REDIS_URL": redis_url,
        }
        yield Deployment(net, slack, path, env)
    await slack.stop()


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A serve process whose stderr (its JSON log) goes to ``log``."""
    port = free_port()
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
             str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sink, text=True,
        )
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def until_ready(proc: subprocess.Popen[str], base: str, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        assert proc.poll() is None, "serve exited at start"
        try:
            if (await get(f"{base}/readyz"))[0] == 200:
                return
        except aiohttp.ClientConnectionError:
            pass
        assert loop.time() < deadline, "serve never became ready"
        await asyncio.sleep(0.1)


async def exited(proc: subprocess.Popen[str], timeout: float = 40) -> int:
    """Wait for the process without blocking this loop (the fakes it talks to live here)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while proc.poll() is None:
        assert loop.time() < deadline, "the process did not exit after SIGTERM"
        await asyncio.sleep(0.05)
    return proc.returncode


async def poll(
    store: RunStore, run_id: str, check: Callable[[Run], bool], timeout: float = 60
) -> Run:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        run = await store.get(run_id)
        if check(run):
            return run
        assert loop.time() < deadline, f"run stuck: {run.status} {run.reason}"
        await asyncio.sleep(0.02)


def metric(text: str, name: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    return None


async def test_serve_answers_probes_and_a_sigterm_mid_step_hands_the_run_over(
    deployment: Deployment, redis: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """Two serve replicas are live and ready with Prometheus metrics on their port; the one
    running a startup check's slow genesis step is sent SIGTERM: it finishes that step, exits 0,
    and the other replica takes the run to success. No secret appears in either's logs."""
    config = load_config(deployment.config, env=deployment.env)
    runtime = await build_runtime(config, redis_url)  # only its service: no engine runs here
    try:
        with serving(deployment.env, tmp_path / "a.log") as (a, base_a), \
                serving(deployment.env, tmp_path / "b.log") as (b, base_b):
            await until_ready(a, base_a)
            await until_ready(b, base_b)
            assert await get(f"{base_a}/healthz") == (200, '{"status": "ok"}')
            ready = json.loads((await get(f"{base_b}/readyz"))[1])
            assert ready == {"status": "ready", "checks": {"redis": "ok", "slack": "ok"}}
            status, text = await get(f"{base_a}/metrics")
            assert status == 200
            assert metric(text, "parthenon_redis_up") == 1

            run = await runtime.service.start(
                "startup-check", {"environment": "testnet", "window": "1s"}, actor="U0OPERATOR")
            await poll(runtime.store, run.id, lambda r: r.current is not None
                       and r.current[0].id == "config" and r.status is RunStatus.WAITING)
            for node in deployment.devnet.nodes:
                node.faults.latency = 2.0
            await runtime.service.command(
                run.id, Confirm(actor="U0OPERATOR", step_id="config", inputs={}))
            host = socket.gethostname()
            holder = None
            lease_key = keys.RunKeys(run.id).lease
            for _ in range(3000):
                current = await poll(runtime.store, run.id, lambda r: True)
                lease = await redis.get(lease_key)
                if current.current and current.current[0].id == "genesis" and lease:
                    worker = lease.decode()
                    holder = a if worker.startswith(f"{host}-{a.pid}-") else b
                    break
                await asyncio.sleep(0.01)
            assert holder is not None, "no replica took the genesis step"
            other, base_other = (b, base_b) if holder is a else (a, base_a)
            holder.send_signal(signal.SIGTERM)
            for node in deployment.devnet.nodes:
                node.faults.latency = 0.0
            await exited(holder)
            final = await poll(runtime.store, run.id, lambda r: r.terminal)
            other_metrics = (await get(f"{base_other}/metrics"))[1]
            other.send_signal(signal.SIGTERM)
            await exited(other)
            audit = [e.type for e in await runtime.store.read_audit(run.id)]
    finally:
        await runtime.aclose()
    assert holder.returncode == 0
    assert other.returncode == 0
    assert final.status is RunStatus.SUCCEEDED, final.reason
    assert "step_in_doubt" not in audit
    executed = metric(other_metrics, "parthenon_engine_steps_executed_total")
    assert executed is not None
    assert executed >= 1
    logs = (tmp_path / "a.log").read_text() + (tmp_path / "b.log").read_text()
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any(line["msg"] == "stopping" for line in lines)
    assert not any(line["msg"] == "run released on stop" for line in lines)  # it finished
    for secret in SECRETS:
        assert secret not in logs


async def test_socket_mode_serves_the_same_ops_endpoints_on_its_port(
    deployment: Deployment, tmp_path: Path
) -> None:
    """With SLACK_APP_TOKEN (Socket Mode) the port serves /healthz, /readyz and /metrics but
    no /slack/events."""
    app_token = "xapp-1-serve-socket-0001"
    slack = SlackStandIn(bot_token=TOKEN, app_token=app_token)
    await slack.start()
    env = {**deployment.env, "SLACK_APP_TOKEN": app_token, "SLACK_API_URL": slack.api_url}
    del env["SLACK_SIGNING_SECRET"]
    try:
        with serving(env, tmp_path / "socket.log") as (proc, base):
            await until_ready(proc, base)
            assert (await get(f"{base}/healthz"))[0] == 200
            status, text = await get(f"{base}/metrics")
            assert status == 200
            assert metric(text, "parthenon_redis_up") == 1
            async with aiohttp.ClientSession() as session, \
                    session.post(f"{base}/slack/events", data=b"{}") as response:
                assert response.status in {404, 405}
            proc.send_signal(signal.SIGTERM)
            assert await exited(proc) == 0
    finally:
        await slack.stop()
    assert app_token not in (tmp_path / "socket.log").read_text()
