"""Benchmark: one /health sweep of 1,000 devnet nodes at the client's default concurrency.

The nodes run in separate OS processes (devnets with 20 ms of injected latency on every node),
so client and server do not share an event loop. With latency L, N nodes and concurrency C, no
client can sweep faster than floor = L * N / C; the figure that matters is how close we get.

    python -m bench.nodes [--nodes 1000] [--latency 0.02] [--rounds 5] [--concurrency N]

Two clients, in the same run and interleaved round by round: the bot's ``NodeClient`` with its
own keep-alive GET client (``bot.nodes._httpget``), and the same ``NodeClient`` whose GETs go
through a tuned aiohttp session instead (one connection per node: ``limit_per_host=1``, the
sweep's concurrency as the total limit, keep-alive 4 s under the node's 5 s idle close, the
same timeouts, body cap, errors and one re-send on a connection the node closed). Each against
two devnets: the shipped one, which answers GET /health before aiohttp (``_getpath``), and one
whose every request goes through aiohttp's server (``fast_get = False``).

The node closes a connection after 5 requests, so one sweep in five opens a new connection to
every node; the rounds show which (`new`), and the mean is printed next to the median.

The last line of output is `fanout_vs_floor=<median sweep of the bot's client, shipped devnet /
floor>`; the lines before it give the other three ratios.
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
from typing import Any

import aiohttp
from pydantic import SecretStr

from bot.devnet import Devnet
from bot.environments import NodeConfig, RpcCredentials
from bot.nodes import DEFAULT_CONCURRENCY, NodeClient
from bot.nodes.exchange import StaleConnection, exchange
from workflows.nodeerrors import NodeProtocolError, NodeServerError

ROOT = Path(__file__).resolve().parent.parent

async def serve(nodes: int, latency: float, fast_get: bool) -> None:
    """The node side (run in its own process): print `node <name> <url>` lines, then `ready`."""
    devnet = Devnet("testnet", nodes=nodes, block_interval=0)
    for node in devnet.nodes:
        node.fast_get = fast_get
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
    nodes: int, latency: float, fast_get: bool
) -> tuple[asyncio.subprocess.Process, list[NodeConfig]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.nodes", "--serve",
        "--nodes", str(nodes), "--latency", str(latency),
        *([] if fast_get else ["--plain"]),
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


PER_HOST = 1  # one connection per node: each gets one request a sweep (0, no limit: no faster)


class _Counting(aiohttp.TCPConnector):
    """Counts the connections it opens (a trace config would cost every request)."""

    opened = 0

    async def _create_connection(self, *args: Any, **kwargs: Any) -> Any:
        self.opened += 1
        return await super()._create_connection(*args, **kwargs)


class AiohttpGets(NodeClient):
    """The bot's node client with its GETs on a tuned aiohttp session instead of ``_httpget``:
    everything else (timeouts, body cap, error mapping, status checks) is the client's own."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._get_session: aiohttp.ClientSession | None = None
        self._connector: _Counting

    def _session(self) -> aiohttp.ClientSession:
        if self._get_session is None:
            self._connector = _Counting(limit=self.concurrency, limit_per_host=PER_HOST,
                                        keepalive_timeout=4.0)
            self._get_session = aiohttp.ClientSession(
                connector=self._connector,
                headers={"User-Agent": "parthenon-bot"},
                timeout=aiohttp.ClientTimeout(total=None, connect=self.timeouts.connect),
                auto_decompress=False)
        return self._get_session

    @property
    def get_connections_opened(self) -> int:
        return self._connector.opened if self._get_session is not None else 0

    async def aclose(self) -> None:
        if self._get_session is not None:
            await self._get_session.close()
        await super().aclose()

    async def _get_once(self, node: NodeConfig, path: str, seconds: float) -> bytes:
        what = f"GET {path}"
        for fresh_try in (False, True):
            try:
                status, raw = await exchange(self._session(), "GET", node, node.rpc_url + path,
                                             seconds, what, max_body=self.max_body)
            except StaleConnection as stale:  # re-sent once, as the client's POSTs are
                if not fresh_try:
                    continue
                raise stale.error from None
            break
        if status >= 500:
            raise NodeServerError(node.name, status, method=what)
        if status != 200:
            raise NodeProtocolError(node.name, "unexpected_status", f"HTTP {status}", method=what)
        return raw


async def sweep(client: NodeClient, nodes: list[NodeConfig]) -> tuple[float, float, int]:
    """One /health sample of every node, as the health sampler takes it (one attempt each)."""
    started, cpu = time.perf_counter(), time.process_time()
    results = await client.gather(nodes, lambda node: client.health(node, retry=False))
    elapsed = time.perf_counter() - started
    return elapsed, time.process_time() - cpu, sum(not result.ok for result in results)


async def measure(args: argparse.Namespace, fast_get: bool) -> dict[str, list[float]]:
    """Both clients against one devnet, interleaved round by round; sweep seconds per client."""
    proc, nodes = await start_server(args.nodes, args.latency, fast_get)
    server = "shipped devnet (GET fast path)" if fast_get else "devnet, all through aiohttp"
    times: dict[str, list[float]] = {"custom": [], "aiohttp": []}
    try:
        async with NodeClient(concurrency=args.concurrency) as custom, \
                AiohttpGets(concurrency=args.concurrency) as tuned:
            clients: dict[str, NodeClient] = {"custom": custom, "aiohttp": tuned}
            for name, client in clients.items():
                cold, _, errors = await sweep(client, nodes)
                print(f"{server}, {name:<7} round 0 (cold): {cold * 1000:.1f} ms, "
                      f"errors={errors}")
            server_before = process_cpu(proc.pid)
            for index in range(1, args.rounds + 1):
                for name, client in clients.items():
                    opened = client.get_connections_opened
                    elapsed, cpu, errors = await sweep(client, nodes)
                    times[name].append(elapsed)
                    print(f"{server}, {name:<7} round {index}: {elapsed * 1000:.1f} ms, "
                          f"client cpu {cpu * 1000:.0f} ms "
                          f"({cpu / len(nodes) * 1e6:.0f} us/request), "
                          f"new {client.get_connections_opened - opened}, errors={errors}")
                    if errors:
                        raise RuntimeError(f"{errors} nodes failed in round {index}")
            server_after = process_cpu(proc.pid)
            if server_before is not None and server_after is not None:
                per_sweep = (server_after - server_before) / (2 * args.rounds)
                print(f"{server}: devnet process cpu per sweep {per_sweep * 1000:.0f} ms")
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
    return times


async def run(args: argparse.Namespace) -> float:
    floor = args.latency * args.nodes / args.concurrency
    print(f"nodes={args.nodes} latency={args.latency * 1000:.0f}ms "
          f"concurrency={args.concurrency}")
    print(f"floor = latency * nodes / concurrency = {floor * 1000:.1f} ms")
    ratios: dict[str, float] = {}
    for fast_get, label in ((True, "fastpath"), (False, "plain")):
        for client, times in (await measure(args, fast_get)).items():
            median = statistics.median(times)
            ratios[f"{client}_{label}"] = median / floor
            print(f"  {client} client, {label} devnet: median {median * 1000:.1f} ms, mean "
                  f"{statistics.mean(times) * 1000:.1f} ms, best {min(times) * 1000:.1f} ms, "
                  f"{median / floor:.2f}x the floor")
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    print(f"aiohttp_vs_floor={ratios['aiohttp_fastpath']:.2f} "
          f"custom_plain_devnet_vs_floor={ratios['custom_plain']:.2f} "
          f"aiohttp_plain_devnet_vs_floor={ratios['aiohttp_plain']:.2f}")
    return ratios["custom_fastpath"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.nodes", description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.nodes, args.latency, not args.plain))
        return
    ratio = asyncio.run(run(args))
    print(f"fanout_vs_floor={ratio:.2f}")


if __name__ == "__main__":
    main()
