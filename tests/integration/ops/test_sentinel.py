"""A redis+sentinel:// URL resolves the master through a real Sentinel on loopback."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.testing.redisserver import RedisServer, find_redis_server, free_port
from workflows.connection import connect
from workflows.store import RunStore


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(
        ("127.0.0.1", port), timeout=0.2
    ) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


@pytest.fixture
def sentinel_port(redis_server: RedisServer, tmp_path: Path) -> Iterator[int]:
    """One sentinel process watching our own session Redis as the master named `bot`."""
    port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor bot 127.0.0.1 {redis_server.port} 1\n"
    )
    proc = subprocess.Popen(
        [find_redis_server(), str(conf), "--sentinel"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _answers(port):
            assert proc.poll() is None, "sentinel exited at start"
            assert time.monotonic() < deadline, "sentinel did not answer"
            time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


async def test_sentinel_url_reaches_the_master_and_the_store_works(
    redis_server: RedisServer, redis_url: str, sentinel_port: int
) -> None:
    """The client asks the sentinel where the master is and the store writes through it."""
    client = connect(f"redis+sentinel://127.0.0.1:{sentinel_port}/bot")
    try:
        store = RunStore(client)
        await store.put_record("drill", {"reason": "drill"})
        assert await store.get_record("drill") == {"reason": "drill"}
        info = await client.info("server")
        assert info["tcp_port"] == redis_server.port
    finally:
        await client.aclose()
