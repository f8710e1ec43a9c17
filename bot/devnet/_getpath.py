"""The node's unauthenticated GETs (/health, /metrics) answered without aiohttp's request machinery.

A thousand nodes in one Python process, sampled often, spent ~0.2 ms of CPU per /health in
aiohttp's server: on a small machine, more than the client. Each connection starts on this
protocol; a plain `GET /health` or `GET /metrics` (HTTP/1.1, no body) is answered here, with the
same status, headers, injected latency, request log entry and keep-alive accounting (the 5th
response on a connection says `Connection: close` and closes it; 5 s idle closes it). The moment
anything else arrives (a POST, another path, HTTP/1.0, a request with a body or connection
headers), the connection is handed to the node's aiohttp server as it stands, the bytes already
read included, and aiohttp answers it and everything after it: the dialect stays in one place.
"""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate
from typing import TYPE_CHECKING

from aiohttp.http import SERVER_SOFTWARE

if TYPE_CHECKING:
    from aiohttp import web

    from bot.devnet.node import DevnetNode

__all__ = ["GetPath"]

_ROUTES = {b"/health": "/health", b"/metrics": "/metrics"}
_HANDED_OVER = (b"content-length", b"transfer-encoding", b"connection", b"expect", b"upgrade")
_MAX_HEAD = 8190
_SERVER = SERVER_SOFTWARE.encode()


class _Date:
    """The Date header, formatted once a second."""

    second = -1
    value = b""

    @classmethod
    def now(cls) -> bytes:
        second = int(time.time())
        if second != cls.second:
            cls.second, cls.value = second, formatdate(second, usegmt=True).encode()
        return cls.value


class GetPath(asyncio.Protocol):
    """One accepted connection of a node, until it is handed to aiohttp (if ever)."""

    def __init__(self, node: DevnetNode, server: web.Server) -> None:
        self._node = node
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._remote: str | None = None
        self._buffer = bytearray()
        self._pending: asyncio.Handle | None = None  # a reply waiting out the latency
        self._idle: asyncio.TimerHandle | None = None
        self._handed = False

    # --- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._remote = str(peer[0]) if isinstance(peer, tuple) and peer else None
        self._node._fast_connections.add(self)
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._pending is None:
            self._next()

    def eof_received(self) -> bool:
        self._close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        self._node._fast_connections.discard(self)

    # --- requests --------------------------------------------------------------------------

    def close(self) -> None:
        """Cut the connection (the node stops or refuses connections)."""
        self._close()

    def _next(self) -> None:
        if self._handed or self._transport is None or self._transport.is_closing():
            return
        end = self._buffer.find(b"\r\n\r\n", 0, _MAX_HEAD)
        if end < 0:
            if len(self._buffer) >= _MAX_HEAD:
                self._hand_over()
            return
        path = self._simple_get(bytes(self._buffer[:end]))
        if path is None:
            self._hand_over()
            return
        del self._buffer[: end + 4]
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        close_after = self._node.endpoints.count_on(self._transport)
        latency = self._node.faults.latency
        if latency:
            self._pending = asyncio.get_running_loop().call_later(
                latency, self._reply, path, close_after
            )
        else:
            self._pending = asyncio.get_running_loop().call_soon(self._reply, path, close_after)

    def _simple_get(self, head: bytes) -> str | None:
        """The route of a plain `GET /health|/metrics HTTP/1.1` without a body, else None."""
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or parts[0] != b"GET" or parts[2] != b"HTTP/1.1":
            return None
        route = _ROUTES.get(parts[1])
        if route is None:
            return None
        for line in lines[1:]:
            name, colon, _ = line.partition(b":")
            if not colon or name.strip().lower() in _HANDED_OVER:
                return None
        return route

    def _reply(self, path: str, close_after: bool) -> None:
        self._pending = None
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        node = self._node
        endpoints = node.endpoints
        body, content_type = endpoints.get_reply(path)
        head = b"".join((
            b"HTTP/1.1 200 OK\r\nContent-Type: ", content_type,
            b"\r\nKeep-Alive: timeout=", f"{endpoints.keepalive_timeout:g}".encode(),
            b", max=", str(endpoints.keepalive_max).encode(),
            b"\r\nContent-Length: ", str(len(body)).encode(),
            b"\r\nDate: ", _Date.now(), b"\r\nServer: ", _SERVER,
            b"\r\nConnection: close\r\n\r\n" if close_after else b"\r\n\r\n",
        ))
        transport.write(head + body)
        endpoints.log_get(path, 200, self._remote)
        if close_after:
            self._close()
            return
        self._arm_idle()
        if self._buffer:
            self._next()

    # --- the rest ----------------------------------------------------------------------------

    def _hand_over(self) -> None:
        """From now on aiohttp serves this connection, starting with the bytes read so far."""
        transport = self._transport
        assert transport is not None
        self._handed = True
        self._cancel_timers()
        self._node._fast_connections.discard(self)
        handler = self._server()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        data, self._buffer = bytes(self._buffer), bytearray()
        if data:
            handler.data_received(data)

    def _arm_idle(self) -> None:
        self._idle = asyncio.get_running_loop().call_later(
            self._node.endpoints.keepalive_timeout, self._idle_out
        )

    def _idle_out(self) -> None:
        self._idle = None
        if self._pending is None and not self._handed:
            self._close()

    def _cancel_timers(self) -> None:
        for timer in (self._pending, self._idle):
            if timer is not None:
                timer.cancel()
        self._pending = self._idle = None

    def _close(self) -> None:
        self._cancel_timers()
        if self._transport is not None and not self._handed:
            self._transport.close()
