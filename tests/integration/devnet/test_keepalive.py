"""The node's keep-alive policy: 5 requests per connection, 5 s idle, and it really closes."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from bot.devnet import Devnet, DevnetNode


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str = "/health"
) -> dict[str, str]:
    """Send one GET on an open connection and read one response; return its headers."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: node\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), 5)
    return headers


async def _connect(node: DevnetNode) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(node.url)
    assert parts.hostname is not None
    assert parts.port is not None
    return await asyncio.open_connection(parts.hostname, parts.port)


async def test_fifth_response_closes_the_connection(devnet: Devnet) -> None:
    """Responses carry `Keep-Alive: timeout=5, max=5`; the 5th says close and the socket closes."""
    reader, writer = await _connect(devnet.nodes[0])
    try:
        for count in range(1, 6):
            headers = await _exchange(reader, writer)
            assert headers["keep-alive"] == "timeout=5, max=5"
            if count < 5:
                assert headers.get("connection", "keep-alive") != "close"
            else:
                assert headers["connection"] == "close"
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


async def test_count_is_per_connection(devnet: Devnet) -> None:
    """Two connections each get their own five requests."""
    node = devnet.nodes[0]
    first = await _connect(node)
    second = await _connect(node)
    try:
        for _ in range(4):
            assert "connection" not in await _exchange(*first)
            assert "connection" not in await _exchange(*second)
        assert (await _exchange(*first))["connection"] == "close"
        assert (await _exchange(*second))["connection"] == "close"
    finally:
        first[1].close()
        second[1].close()


async def test_idle_connection_is_closed_by_the_server() -> None:
    """An idle keep-alive connection is closed by the server after the idle timeout."""
    async with Devnet("regtest", nodes=1, block_interval=0, keepalive_timeout=0.3) as net:
        reader, writer = await _connect(net.nodes[0])
        try:
            headers = await _exchange(reader, writer)
            assert headers["keep-alive"] == "timeout=0.3, max=5"
            assert await asyncio.wait_for(reader.read(), 5) == b""
        finally:
            writer.close()


async def test_404_and_errors_count_too(devnet: Devnet) -> None:
    """Every request counts toward the five, whatever its path or status."""
    reader, writer = await _connect(devnet.nodes[0])
    try:
        for _ in range(4):
            await _exchange(reader, writer, "/missing")
        assert (await _exchange(reader, writer, "/metrics"))["connection"] == "close"
    finally:
        writer.close()
