"""Plain GETs of /health and /metrics are answered before aiohttp; any other request hands the
connection to aiohttp, and the node behaves the same either way."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

from bot.devnet import Devnet, DevnetNode

from .conftest import basic


async def _connect(node: DevnetNode) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(node.url)
    assert parts.hostname is not None
    assert parts.port is not None
    return await asyncio.open_connection(parts.hostname, parts.port)


async def _read_reply(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), 5)
    return lines[0], headers, body


def _get(path: str, version: str = "1.1", extra: str = "") -> bytes:
    return f"GET {path} HTTP/{version}\r\nHost: node\r\n{extra}\r\n".encode()


def _post(method: str) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", "id": "1", "method": method, "params": []}).encode()
    head = (f"POST / HTTP/1.1\r\nHost: node\r\nAuthorization: {basic()}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def test_gets_then_posts_on_one_connection_keep_one_count(devnet: Devnet) -> None:
    """Two GETs, two POSTs (handed to aiohttp) and a fifth GET on one connection: every reply is
    right, and the fifth closes the connection as the node's keep-alive policy says."""
    reader, writer = await _connect(devnet.nodes[0])
    try:
        for request in (_get("/health"), _get("/metrics"), _post("getblockcount"),
                        _post("getinfo")):
            writer.write(request)
            status, headers, body = await _read_reply(reader)
            assert status == "HTTP/1.1 200 OK"
            assert headers["keep-alive"] == "timeout=5, max=5"
            assert "connection" not in headers
            assert body
        writer.write(_get("/health"))
        status, headers, body = await _read_reply(reader)
        assert headers["connection"] == "close"
        assert json.loads(body)["status"] == "ok"
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


async def test_pipelined_requests_are_answered_in_order(devnet: Devnet) -> None:
    """GET /health, GET /metrics and a POST sent in one write come back in that order."""
    reader, writer = await _connect(devnet.nodes[0])
    try:
        writer.write(_get("/health") + _get("/metrics") + _post("getblockcount"))
        first = await _read_reply(reader)
        second = await _read_reply(reader)
        third = await _read_reply(reader)
        assert json.loads(first[2])["status"] == "ok"
        assert first[1]["content-type"] == "application/json"
        assert second[2].startswith(b"# HELP pantheon_best_block_height")
        assert second[1]["content-type"] == "text/plain; charset=utf-8"
        assert json.loads(third[2])["result"] == devnet.nodes[0].height
    finally:
        writer.close()


async def test_gets_are_logged_and_wait_out_the_injected_latency(devnet: Devnet) -> None:
    """A /health answered on the fast path is in the request log like any request, and waits
    out the node's latency fault first."""
    node = devnet.nodes[0]
    node.faults.latency = 0.2
    before = len(node.request_log)
    reader, writer = await _connect(node)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        writer.write(_get("/health"))
        await _read_reply(reader)
        assert loop.time() - started >= 0.2
    finally:
        writer.close()
    record = node.request_log[before]
    assert (record.path, record.http_method, record.status, record.method) == (
        "/health", "GET", 200, None)
    assert record.remote == "127.0.0.1"


async def test_other_gets_are_answered_by_aiohttp_the_same_way(devnet: Devnet) -> None:
    """HTTP/1.0, a Connection header and an unknown path go to aiohttp: /health still answers,
    an unknown path is 404, and `Connection: close` is honoured."""
    node = devnet.nodes[0]
    for request, expected in ((_get("/health", "1.0"), "200 OK"),
                              (_get("/nope"), "404 Not Found"),
                              (_get("/health", extra="Connection: close\r\n"), "200 OK")):
        reader, writer = await _connect(node)
        try:
            writer.write(request)
            status, _, _ = await _read_reply(reader)
            assert status.endswith(expected)
        finally:
            writer.close()
    assert node.request_log[-1].path == "/health"


async def test_stopping_the_node_cuts_connections_served_on_the_fast_path(
    devnet: Devnet,
) -> None:
    """A kept-alive connection that only ever carried /health is closed when the node stops."""
    node = devnet.nodes[0]
    reader, writer = await _connect(node)
    try:
        writer.write(_get("/health"))
        await _read_reply(reader)
        await node.stop_process()
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


async def test_without_the_fast_path_aiohttp_answers_gets_the_same_way() -> None:
    """``fast_get = False`` (what bench/nodes.py compares with): five GETs on one connection
    are answered by aiohttp alone, with the same keep-alive policy (the fifth closes)."""
    net = Devnet("testnet", nodes=1, block_interval=0)
    net.nodes[0].fast_get = False
    await net.start()
    try:
        reader, writer = await _connect(net.nodes[0])
        for n in range(5):
            writer.write(_get("/health" if n % 2 == 0 else "/metrics"))
            status, headers, body = await _read_reply(reader)
            assert status == "HTTP/1.1 200 OK"
            assert body
            assert ("connection" in headers) == (n == 4)
        assert headers["connection"] == "close"
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        assert not net.nodes[0]._fast_connections
    finally:
        await net.stop()
