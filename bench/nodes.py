"""Benchmark: one /health sweep of 1,000 devnet nodes at the client's default concurrency.

The nodes run in a separate OS process (a devnet with 20 ms of injected latency on every node),
so client and server do not share an event loop. With latency L, N nodes and concurrency C, no
client can sweep faster than floor = L * N / C; the figure that matters is how close we get.

    python -m bench.nodes [--nodes 1000] [--latency 0.02] [--rounds 5] [--concurrency N]

The node closes a connection after 5 requests, so one sweep in five opens a new connection to
every node; the rounds show which (`new connections`), and the mean is printed next to the
median. `--concurrency` (default: the client's DEFAULT_CONCURRENCY) shows what the sweep time
does at other limits (the floor moves with it).

The last line of output is `fanout_vs_floor=<median sweep / floor>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import sys
import time
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from bot.config import NodeConfig, RpcCredentials
from bot.devnet import Devnet
from bot.nodes import DEFAULT_CONCURRENCY, NodeClient

ROOT = Path(__file__).resolve().parent.parent


async def serve(nodes: int, latency: float) -> None:
    """The node side (run in its own process): print `node <name> <url>` lines, then `ready`."""
    devnet = Devnet("testnet", nodes=nodes, block_interval=0)
    await devnet.start()
    for node in devnet.nodes:
        node.faults.latency = latency
        print(f"node {node.name} {node.url}", flush=True)
    print("ready", flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, done.set)
    await done.wait()
    await devnet.stop()


async def start_server(
    nodes: int, latency: float
) -> tuple[asyncio.subprocess.Process, list[NodeConfig]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.nodes", "--serve",
        "--nodes", str(nodes), "--latency", str(latency),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    creds = RpcCredentials(user="parthenon", password=SecretStr("devnet-password"))
    configs: list[NodeConfig] = []
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode().strip()
        if line == "ready":
            return proc, configs
        if not line:
            raise RuntimeError("the devnet process exited before it was ready")
        _, name, url = line.split()
        configs.append(NodeConfig(name=name, rpc_url=url, credentials=creds))


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by another process (Linux /proc), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def sweep(client: NodeClient, nodes: list[NodeConfig]) -> tuple[float, float, int]:
    """One /health sample of every node, as the health sampler takes it (one attempt each)."""
    started, cpu = time.perf_counter(), time.process_time()
    results = await client.gather(nodes, lambda node: client.health(node, retry=False))
    elapsed = time.perf_counter() - started
    return elapsed, time.process_time() - cpu, sum(not result.ok for result in results)


async def bare_sweep(
    session: aiohttp.ClientSession, nodes: list[NodeConfig], concurrency: int
) -> float:
    """The same sweep with bare aiohttp GETs (no retries, parsing or errors): the baseline."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(node: NodeConfig) -> bytes:
        async with semaphore, session.get(node.rpc_url + "/health") as response:
            return await response.read()

    started = time.perf_counter()
    await asyncio.gather(*(one(node) for node in nodes))
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> float:
    proc, nodes = await start_server(args.nodes, args.latency)
    try:
        concurrency = args.concurrency
        floor = args.latency * args.nodes / concurrency
        print(f"nodes={len(nodes)} latency={args.latency * 1000:.0f}ms concurrency={concurrency}")
        print(f"floor = latency * nodes / concurrency = {floor * 1000:.1f} ms")
        times: list[float] = []
        bare: list[float] = []
        client_cpu: list[float] = []
        connector = aiohttp.TCPConnector(limit=2 * concurrency, keepalive_timeout=4.0)
        async with NodeClient(concurrency=concurrency) as client, \
                aiohttp.ClientSession(connector=connector) as session:
            await bare_sweep(session, nodes, concurrency)
            cold, _, cold_errors = await sweep(client, nodes)
            print(f"round 0 (cold, new connections): {cold * 1000:.1f} ms, errors={cold_errors}")
            server_before = process_cpu(proc.pid)
            for index in range(1, args.rounds + 1):
                opened = client.get_connections_opened
                elapsed, cpu, errors = await sweep(client, nodes)
                times.append(elapsed)
                client_cpu.append(cpu)
                rate = len(nodes) / elapsed
                print(
                    f"round {index}: {elapsed * 1000:.1f} ms, {rate:.0f} req/s, "
                    f"client cpu {cpu * 1000:.0f} ms, "
                    f"new connections {client.get_connections_opened - opened}, errors={errors}"
                )
                if errors:
                    raise RuntimeError(f"{errors} nodes failed in round {index}")
            server_after = process_cpu(proc.pid)
            for _ in range(args.rounds):
                bare.append(await bare_sweep(session, nodes, concurrency))
        median = statistics.median(times)
        print(f"median sweep: {median * 1000:.1f} ms, mean {statistics.mean(times) * 1000:.1f} ms,"
              f" best: {min(times) * 1000:.1f} ms")
        print(f"baseline, bare aiohttp GETs: median {statistics.median(bare) * 1000:.1f} ms")
        per_request = statistics.median(client_cpu) / len(nodes) * 1e6
        print(f"client cpu per request: {per_request:.0f} us (median round)")
        if server_before is not None and server_after is not None:
            server = (server_after - server_before) / args.rounds
            print(f"devnet process cpu per sweep: {server * 1000:.0f} ms")
        print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
        return median / floor
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.nodes", description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.nodes, args.latency))
        return
    ratio = asyncio.run(run(args))
    print(f"fanout_vs_floor={ratio:.2f}")


if __name__ == "__main__":
    main()
