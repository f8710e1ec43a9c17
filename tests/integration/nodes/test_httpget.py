"""The lean GET client for /health and /metrics: keep-alive as the node allows it, and hostile
replies still bounded by size and time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.devnet import Devnet
from bot.environments import NodeConfig
from bot.nodes import NodeClient, Timeouts
from bot.nodes._httpget import GetPool
from workflows.nodeerrors import NodeProtocolError, NodeServerError, NodeTimeout, NodeUnreachable

from .conftest import FAST_TIMEOUTS
from .fakes import fake_node_config

HEALTH = (b'{"best_height":7,"peer_count":3,"rpc_port":1,"status":"ok","sync_progress":100.0,'
          b'"syncing":false}')

# A reply script: given the request number on the connection (1, 2, ...), what to send back;
# None hangs up without answering, a float sleeps that long (between the bytes of a list), and
# CLOSE hangs up after what came before it.
Script = Callable[[int], list[bytes | float] | None]
CLOSE = b"<close>"


class ScriptedServer:
    """A raw TCP server that reads request heads and answers from a script."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        count = 0
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                count += 1
                self.requests += 1
                parts = self.script(count)
                if parts is None:
                    break
                if CLOSE in parts:
                    writer.writelines(p for p in parts[: parts.index(CLOSE)]
                                      if isinstance(p, bytes))
                    await writer.drain()
                    break
                for part in parts:
                    if isinstance(part, float):
                        await writer.drain()
                        await asyncio.sleep(part)
                    else:
                        writer.write(part)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def ok(body: bytes = HEALTH, extra: bytes = b"") -> list[bytes | float]:
    return [b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body]


Serve = Callable[[Script], Awaitable[ScriptedServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    started: list[ScriptedServer] = []

    async def start(script: Script) -> ScriptedServer:
        server = ScriptedServer(script)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


@pytest.fixture
async def client() -> AsyncIterator[NodeClient]:
    async with NodeClient(timeouts=FAST_TIMEOUTS, max_body=4096) as c:
        yield c


def node_at(server: ScriptedServer) -> NodeConfig:
    return fake_node_config(server.url)


async def test_connections_are_reused_as_the_node_allows_and_no_further() -> None:
    """Twelve /health GETs to a devnet node (5 requests per connection) open three
    connections, and every answer is read."""
    async with Devnet("testnet", nodes=1, block_interval=0) as net:
        pool = GetPool(max_body=4096, connect_timeout=1.0)
        try:
            for _ in range(12):
                status, body = await pool.get("n", net.nodes[0].url, "/health", 2.0)
                assert (status, body[:1]) == (200, b"{")
            assert pool.opened == 3
        finally:
            await pool.aclose()


async def test_connection_close_and_extra_bytes_stop_reuse(
    serve: Serve, client: NodeClient
) -> None:
    """A reply saying `Connection: close`, or followed by bytes nobody asked for, ends its
    connection: the next GET opens a new one."""
    closing = await serve(lambda n: ok(extra=b"Connection: close\r\n"))
    for _ in range(3):
        assert (await client.health(node_at(closing))).best_height == 7
    assert closing.connections == 3
    junk = await serve(lambda n: [*ok(), b"HTTP/1.1 200 OK\r\n"])
    for _ in range(2):
        assert (await client.health(node_at(junk))).best_height == 7
    assert junk.connections == 2


async def test_a_connection_closed_by_the_node_is_replaced_once(
    serve: Serve, client: NodeClient
) -> None:
    """The node hangs up on the second request of a kept connection (its idle close racing our
    send): the GET goes again on a new connection and succeeds."""
    server = await serve(lambda n: ok() if n == 1 else None)
    node = node_at(server)
    assert (await client.health(node)).ok
    assert (await client.health(node)).ok
    assert (server.connections, server.requests) == (2, 3)


async def test_a_fresh_connection_hung_up_on_is_unreachable(
    serve: Serve, client: NodeClient
) -> None:
    """On a new connection, a hang-up before any answer is NodeUnreachable, not retried."""
    server = await serve(lambda n: None)
    with pytest.raises(NodeUnreachable, match="closed before a complete answer"):
        await client.health(node_at(server), retry=False)
    assert server.requests == 1


async def test_chunked_replies_are_read(
    serve: Serve, client: NodeClient
) -> None:
    """A chunked body (with an extension and a trailer) is put together, and the connection
    is kept."""
    half = len(HEALTH) // 2
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               + f"{half:x};x=y\r\n".encode() + HEALTH[:half] + b"\r\n"
               + f"{len(HEALTH) - half:x}\r\n".encode() + HEALTH[half:] + b"\r\n"
               + b"0\r\nX-Trailer: 1\r\n\r\n")
    server = await serve(lambda n: [chunked])
    for _ in range(2):
        assert (await client.health(node_at(server))).peer_count == 3
    assert server.connections == 1


async def test_a_body_until_close_is_read(
    serve: Serve, client: NodeClient
) -> None:
    """Without Content-Length or chunking the body runs until the node closes."""
    server = await serve(lambda n: [b"HTTP/1.1 200 OK\r\n\r\n" + HEALTH, CLOSE])
    assert (await client.health(node_at(server))).best_height == 7


HOSTILE = [
    pytest.param(lambda n: [b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n"],
                 NodeProtocolError, "too_large", id="declared-too-large"),
    pytest.param(lambda n: [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                            + b"800\r\n" + b"x" * 2048 + b"\r\n" * 1 + b"1000\r\n" + b"x" * 4096],
                 NodeProtocolError, "too_large", id="chunked-too-large"),
    pytest.param(lambda n: [b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 8192],
                 NodeProtocolError, "too_large", id="until-close-too-large"),
    pytest.param(lambda n: [b"HTTP/1.1 200 OK\r\n" + b"X-Big: " + b"y" * 20000 + b"\r\n\r\n"],
                 NodeProtocolError, "bad_http", id="head-too-large"),
    pytest.param(lambda n: [b"<html>502 Bad Gateway</html>\r\n\r\n"],
                 NodeProtocolError, "bad_http", id="not-http"),
    pytest.param(lambda n: [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"],
                 NodeProtocolError, "bad_http", id="two-lengths"),
    pytest.param(lambda n: [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"best", CLOSE],
                 NodeUnreachable, "the reply was cut off", id="cut-off"),
    pytest.param(lambda n: [b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n", 0.3, b"{"],
                 NodeTimeout, "no complete answer within 0.2 s", id="too-slow"),
    pytest.param(lambda n: [b"HTTP/1.1 200 OK\r\n", 5.0],
                 NodeTimeout, "no complete answer within 0.2 s", id="head-never-ends"),
    pytest.param(lambda n: [b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"],
                 NodeServerError, "503", id="server-error"),
    pytest.param(lambda n: [b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"],
                 NodeProtocolError, "HTTP 404", id="not-found"),
]


@pytest.mark.parametrize(("script", "error", "expected"), HOSTILE)
async def test_hostile_replies_are_bounded_by_size_and_time(
    serve: Serve, script: Script, error: type[Exception], expected: str
) -> None:
    """Oversized, malformed, cut-off and trickling replies end in the node layer's errors, within
    the size cap (4 KiB here) and the time limit (0.2 s here)."""
    server = await serve(script)
    timeouts = Timeouts(call=2.0, connect=1.0, health=0.2)
    async with NodeClient(timeouts=timeouts, max_body=4096) as client:
        started = asyncio.get_running_loop().time()
        with pytest.raises(error) as caught:
            await client.health(node_at(server), retry=False)
        assert asyncio.get_running_loop().time() - started < 2.0
    assert expected in f"{caught.value} {getattr(caught.value, 'reason', '')}"
    assert "GET /health" in str(caught.value)


async def test_a_refused_port_is_unreachable_and_unsent() -> None:
    """Nothing listening: NodeUnreachable with sent=False, naming the URL."""
    server = ScriptedServer(lambda n: None)
    await server.start()
    url = server.url
    await server.stop()
    async with NodeClient(timeouts=FAST_TIMEOUTS) as client:
        with pytest.raises(NodeUnreachable) as caught:
            await client.health(fake_node_config(url), retry=False)
    assert caught.value.sent is False
    assert f"cannot connect to {url}" in str(caught.value)


async def test_after_a_restart_all_kept_connections_are_dropped_and_one_new_one_used() -> None:
    """Three kept connections to a node that restarts are all dead: the next GET finds one
    closed, forgets the others, and succeeds on a single new connection; once the node is
    stopped, a GET says the port refuses connections (nothing was sent)."""
    async with Devnet("testnet", nodes=1, block_interval=0) as net:
        node = net.nodes[0]
        config = fake_node_config(node.url)
        async with NodeClient(timeouts=FAST_TIMEOUTS) as client:
            await asyncio.gather(*(client.health(config, retry=False) for _ in range(3)))
            opened = client.get_connections_opened
            assert opened == 3
            await node.stop_process()
            await node.start_process()
            assert (await client.health(config, retry=False)).ok
            assert client.get_connections_opened == opened + 1
            await node.stop_process()
            with pytest.raises(NodeUnreachable) as caught:
                await client.health(config, retry=False)
            assert caught.value.sent is False
