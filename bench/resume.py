"""How long a killed replica's run waits before a surviving replica resumes it.

    python -m bench.resume [--samples 3] [--leases 2.5,1,0.5,0.25]

Two engine replicas (``bench._replica --engine-only``: the bot's runtime and engine, separate
processes) share our redis-server and a devnet node. A run's step is in flight on one replica
(a JSON-RPC call the node answers slowly) when that replica gets SIGKILL; the time measured is
from the kill to the moment the survivor holds the run's lease (it then re-runs the read step;
when it re-runs and lets go of the run between two looks, the step's commit time in the audit
log stands for the moment, a few milliseconds late).
It is bounded by the lease (``EngineSettings.lease``, 2.5 s by default): the dead worker's
lease must run out first, between lease - heartbeat and the whole lease after its last renewal
(``EngineSettings.renew_every``: a fifth of the lease, at most 0.5 s), plus one look at the due
index (poll interval 0.1 s).

The lease is safe when a live replica never loses it: the event loop may stall, or Redis be
slow, for up to lease - heartbeat (2 s by default). For each lease (the default included) the
bench also runs 50 slow steps on both replicas while other processes keep every core busy, and
counts leases lost by live workers ("lease expired while in hand"); the fastest lease with none
lost is reported as the fastest safe one (on this machine, under that load: a production host
with longer stalls, a garbage collection of many runs, or a slow Redis needs more headroom,
which is why the default keeps 2 s of it).

Last line: ``resume_default_s=<median at the default lease> lost_at_default=<n>
lease_default_s=<it> resume_fastest_safe_s=<median> lease_s=<it>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import redis.asyncio as aioredis
import yaml

from bench._chaosworld import Replica
from bot.config import load_config
from bot.devnet import Devnet
from bot.runtime import build_runtime
from bot.testing.redisserver import RedisServer
from workflows import keys
from workflows.connection import connect
from workflows.definition import load_definitions
from workflows.engine import EngineSettings
from workflows.model import RunStatus
from workflows.service import WorkflowService

PASSWORD = "resume-bench-rpc-password"  # noqa: S105 (made up for the bench)
DEFAULT_LEASE = EngineSettings().lease.total_seconds()
PROBE = """
name: resume-probe
title: A step in flight when its replica dies
parameters: [{name: environment}]
steps:
  - id: slow-read
    title: A slow JSON-RPC read
    kind: rpc
    timeout: 300s
    with: {action: call, method: getblockcount, ready_within: 0s}
"""


def _busy(stop_at: float) -> None:
    """Keep one core busy (the load of the safety check)."""
    while time.monotonic() < stop_at:
        sum(i * i for i in range(10_000))


@contextlib.contextmanager
def cpu_hog(seconds: float) -> Iterator[None]:
    """One busy process per core, for ``seconds``."""
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_busy, args=(time.monotonic() + seconds,), daemon=True)
             for _ in range(os.cpu_count() or 1)]
    for proc in procs:
        proc.start()
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
            proc.join()


class Bench:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.redis = RedisServer(workdir / "redis")
        self.net = Devnet("testnet", nodes=1, block_interval=0.5, rpc_password=PASSWORD,
                          rate_limit=100, rate_window=1.0)
        self.config_path = workdir / "config.yaml"
        self.defs_dir = workdir / "definitions"
        self.env: dict[str, str] = {}

    async def __aenter__(self) -> Bench:
        self.redis.start()
        await self.net.start()
        testnet = self.net.config_entry(password_env="RESUME_RPC_PW")  # noqa: S106 (a name)
        testnet.pop("deploy_webhook")
        testnet.pop("evidence")  # its log check needs the webhook
        document = {"environments": {"testnet": testnet}, "groups": {"operators": ["UOPRES01"]}}
        self.config_path.write_text(yaml.safe_dump(document))
        self.defs_dir.mkdir(exist_ok=True)
        (self.defs_dir / "resume-probe.yaml").write_text(PROBE)
        self.env = {"PATH": os.environ.get("PATH", ""), "RESUME_RPC_PW": PASSWORD,
                    "REDIS_URL": self.redis.url}
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.net.stop()
        self.redis.stop()

    def replicas(self, lease: float) -> list[Replica]:
        args = ["--config", str(self.config_path), "--engine-only", "--definitions",
                str(self.defs_dir), "--lease", str(lease), "--budget-window", "1"]
        logdir = self.workdir / f"logs-{lease:g}"
        logdir.mkdir(exist_ok=True)
        return [Replica(name, args, self.env, logdir) for name in ("alpha", "beta")]

    async def service(self) -> tuple[WorkflowService, aioredis.Redis]:
        config = load_config(self.config_path, env=self.env)
        client = connect(self.redis.url)
        runtime = await build_runtime(config, self.redis.url, redis_client=client,
                                      definitions=load_definitions(self.defs_dir))
        return runtime.service, client


async def holder(redis: aioredis.Redis, run_id: str) -> str | None:
    token = await redis.get(keys.RunKeys(run_id).lease)
    return token.decode().split("-")[0] if token else None


async def until(check: object, within: float, step: float = 0.005) -> float:
    """Poll ``check()`` until true; returns when (monotonic)."""
    deadline = time.monotonic() + within
    while not await check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("never happened")
        await asyncio.sleep(step)
    return time.monotonic()


async def resume_times(bench: Bench, lease: float, samples: int) -> list[float]:
    """Kill the replica holding a run mid-step ``samples`` times; seconds until the other
    one holds it."""
    replicas = bench.replicas(lease)
    await asyncio.gather(*(r.start() for r in replicas))
    service, redis = await bench.service()
    node = bench.net.nodes[0]
    rng = random.Random(lease)
    times: list[float] = []
    try:
        for _ in range(samples):
            node.faults.latency = 600.0  # the step's call stays in flight
            run = await service.start("resume-probe", {"environment": "testnet"},
                                      actor="UOPRES01")
            await until(lambda r=run: _held(redis, r.id), 30)
            await asyncio.sleep(rng.uniform(0.4, 1.4) * lease)  # renewals in, at a random phase
            name = await holder(redis, run.id)
            victim = next(r for r in replicas if r.name == name)
            victim.kill()
            killed, killed_at = time.monotonic(), datetime.now(UTC)
            node.faults.latency = 0.0
            resumed = await until(lambda r=run, n=name: _resumed(service, redis, r.id, n),
                                  lease * 2 + 10)
            if await holder(redis, run.id) != name and (
                    finished := await _finished_at(service, run.id)) is not None:
                # The survivor re-ran the step (no latency now) and let go of the run between
                # two looks: it held the run by the time it finished the step.
                resumed = min(resumed, killed + (finished - killed_at).total_seconds())
            times.append(resumed - killed)
            await until(lambda r=run: _finished(service, r.id), 30, 0.05)
            await victim.start()
    finally:
        for replica in replicas:
            await replica.terminate()
        await redis.aclose()
    return times


async def _held(redis: aioredis.Redis, run_id: str) -> bool:
    return await holder(redis, run_id) is not None


async def _resumed(service: WorkflowService, redis: aioredis.Redis, run_id: str,
                   name: str) -> bool:
    """The other replica holds the run, or has already finished its step (the victim is dead:
    a step finished after the kill is the survivor's)."""
    current = await holder(redis, run_id)
    if current is not None:
        return current != name
    return await _finished_at(service, run_id) is not None


async def _finished_at(service: WorkflowService, run_id: str) -> datetime | None:
    """When the run's step was finished, if it was (the audit's time of the commit)."""
    for entry in await service.audit(run_id):
        if entry.type == "step_finished":
            return entry.at
    return None


async def _finished(service: WorkflowService, run_id: str) -> bool:
    return (await service.get(run_id)).status is RunStatus.SUCCEEDED


async def lost_leases(bench: Bench, lease: float, runs: int = 50, step: float = 3.0) -> int:
    """Leases lost by live replicas while ``runs`` steps of ``step`` seconds run on both, with
    every core kept busy by other processes."""
    replicas = bench.replicas(lease)
    await asyncio.gather(*(r.start() for r in replicas))
    service, redis = await bench.service()
    bench.net.nodes[0].faults.latency = step
    try:
        with cpu_hog(step * 3 + 10):
            started = [await service.start("resume-probe", {"environment": "testnet"},
                                           actor="UOPRES01") for _ in range(runs)]
            for run in started:
                await until(lambda r=run: _finished(service, r.id), step * 4 + 60, 0.05)
    finally:
        bench.net.nodes[0].faults.latency = 0.0
        for replica in replicas:
            await replica.terminate()
        await redis.aclose()
    logs = "".join(r.log_text() for r in replicas)
    return logs.count("lease expired while in hand") + logs.count("lease lost")


async def main_async(samples: int, leases: list[float]) -> int:
    with tempfile.TemporaryDirectory(prefix="resume-") as tmp:
        async with Bench(Path(tmp)) as bench:
            results: dict[float, list[float]] = {}
            safety: dict[float, int] = {}
            for lease in leases:
                count = samples if lease >= 5 else samples * 2
                results[lease] = await resume_times(bench, lease, count)
                if lease <= DEFAULT_LEASE:
                    safety[lease] = await lost_leases(bench, lease)
                times = results[lease]
                lost = safety.get(lease)
                print(f"lease {lease:>4g} s: resumed after {statistics.median(times):.2f} s "
                      f"median (min {min(times):.2f}, max {max(times):.2f}, n={len(times)})"
                      + ("" if lost is None else f"; leases lost by live replicas under load: "
                         f"{lost}"), flush=True)
    safe = [lease for lease in leases if lease <= DEFAULT_LEASE and safety.get(lease) == 0]
    fastest = min(safe) if safe else DEFAULT_LEASE
    default = statistics.median(results[DEFAULT_LEASE])
    print(f"resume_default_s={default:.2f} lost_at_default={safety[DEFAULT_LEASE]} "
          f"lease_default_s={DEFAULT_LEASE:g} "
          f"resume_fastest_safe_s={statistics.median(results[fastest]):.2f} "
          f"lease_s={fastest:g}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.resume",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--leases", default="2.5,1,0.5,0.25",
                        help="leases to measure, seconds (the default lease is always added)")
    args = parser.parse_args(argv)
    leases = sorted({float(x) for x in args.leases.split(",")} | {DEFAULT_LEASE}, reverse=True)
    return asyncio.run(main_async(args.samples, leases))


if __name__ == "__main__":
    sys.exit(main())
