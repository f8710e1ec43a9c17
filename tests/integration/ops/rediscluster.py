"""A real three-master Redis Cluster on loopback, started by the test itself.

Three redis-server processes (the binary `find_redis_server` finds) with `--cluster-enabled`,
each on a free port whose cluster-bus port (port + 10000) is free too, in its own data dir; the
slots are split three ways with CLUSTER ADDSLOTS and the nodes are introduced with CLUSTER MEET
(what `redis-cli --cluster create` does, without needing redis-cli).
"""

from __future__ import annotations

import contextlib
import random
import socket
import time
from pathlib import Path

import redis as syncredis

from bot.testing.redisserver import RedisServer

__all__ = ["LocalCluster"]

_SLOTS = 16384


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_port(taken: set[int]) -> int:
    """A port below 55536 that is free, with its bus port (+10000) free too."""
    for _ in range(1000):
        port = random.randint(20_000, 40_000)
        if port not in taken and _bindable(port) and _bindable(port + 10_000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


class LocalCluster:
    """Start with `with LocalCluster(tmp) as cluster:`; `cluster.url` is a redis+cluster:// URL."""

    def __init__(self, data_dir: Path, masters: int = 3) -> None:
        taken: set[int] = set()
        self.servers: list[RedisServer] = []
        for index in range(masters):
            port = _cluster_port(taken)
            taken.add(port)
            node_dir = data_dir / f"node-{index}"
            self.servers.append(RedisServer(
                node_dir, port, extra_args=(
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", str(node_dir / "nodes.conf"),
                    "--cluster-node-timeout", "2000",
                ),
            ))

    @property
    def ports(self) -> list[int]:
        return [s.port for s in self.servers]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def start(self, timeout: float = 20.0) -> None:
        for server in self.servers:
            server.start()
        clients = [syncredis.Redis(port=p, host="127.0.0.1") for p in self.ports]
        try:
            share = _SLOTS // len(clients)
            for index, client in enumerate(clients):
                first = index * share
                last = _SLOTS - 1 if index == len(clients) - 1 else first + share - 1
                client.execute_command("CLUSTER", "ADDSLOTS", *range(first, last + 1))
            for client in clients:
                for port in self.ports:
                    client.execute_command("CLUSTER", "MEET", "127.0.0.1", port)
            deadline = time.monotonic() + timeout
            while not all(_ready(c, len(clients)) for c in clients):
                if time.monotonic() > deadline:
                    raise RuntimeError("the cluster did not become ready")
                time.sleep(0.05)
        finally:
            for client in clients:
                client.close()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _ready(client: syncredis.Redis, masters: int) -> bool:
    with contextlib.suppress(syncredis.RedisError):
        info = client.execute_command("CLUSTER", "INFO")
        text = info.decode() if isinstance(info, bytes) else str(info)
        fields = dict(line.split(":", 1) for line in text.split() if ":" in line)
        return fields.get("cluster_state") == "ok" and fields.get("cluster_known_nodes") == str(
            masters
        )
    return False
