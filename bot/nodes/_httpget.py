"""A small keep-alive HTTP/1.1 GET client for the node's unauthenticated routes (/health, /metrics).

The health sampler sends one GET to every node, often, to many nodes at once; through aiohttp
that cost ~0.4 ms of CPU per request, which on a small machine is the whole sweep. This client
does only what those GETs need, on an asyncio Protocol: one request at a time per connection,
idle connections kept per node and reused while the node allows it (it closes a connection after
5 requests or 5 s idle: ``Keep-Alive: timeout=5, max=5``, and ``Connection: close`` is obeyed),
a reply read with strict bounds (head 16 KiB, body ``max_body``; Content-Length, chunked or
until close) and the whole exchange within a time limit. A connection found closed before any
byte of the answer is replaced and the GET sent again once (it is idempotent).

Failures are the node layer's own errors, with the same codes and messages as the rest of the
client (``bot.nodes.rpc``).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from workflows.nodeerrors import NodeProtocolError, NodeTimeout, NodeUnreachable

__all__ = ["GetPool"]

MAX_HEAD = 16 * 1024
_STATUS = re.compile(rb"HTTP/1\.([01]) (\d{3})(?: [^\r\n]*)?")
_KEEPALIVE_MARGIN = 1.0  # reuse an idle connection only this long before the node's own limit
_IDLE_PER_NODE = 8


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    tls: bool
    host_header: bytes


class _Bad(Exception):
    """The reply is not HTTP we can read (internal; becomes NodeProtocolError)."""

    def __init__(self, what: str, code: str = "bad_http") -> None:
        super().__init__(what)
        self.what = what
        self.code = code


class _Dropped(Exception):
    """The connection ended before the answer was complete (internal)."""

    def __init__(self, got_bytes: bool) -> None:
        super().__init__("dropped")
        self.got_bytes = got_bytes


@dataclass
class _Reply:
    status: int
    body: bytes
    reusable: bool
    keepalive_max: int | None
    keepalive_timeout: float | None


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection to a node; reads one reply per request."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.sent = 0  # requests sent on this connection
        self.idle_since = 0.0
        self.keepalive_max: int | None = None
        self.keepalive_timeout: float | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[_Reply] | None = None
        self._head: tuple[int, int, dict[bytes, bytes], int] | None = None  # status, ver, hdrs, end

    # --- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._waiter is not None:
            self._advance(eof=False)
        elif not self.closed:
            # Bytes nobody asked for: the connection is out of step; never reuse it.
            self.close()

    def eof_received(self) -> bool:
        if self._waiter is not None:
            self._advance(eof=True)
        self.closed = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._advance(eof=True)

    # --- one exchange ----------------------------------------------------------------------

    def request(self, raw: bytes) -> asyncio.Future[_Reply]:
        assert self.transport is not None
        self._buffer.clear()
        self._head = None
        self._waiter = asyncio.get_running_loop().create_future()
        self.sent += 1
        self.transport.write(raw)
        return self._waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _finish(self, reply: _Reply | None = None, error: Exception | None = None) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return
        if error is not None:
            waiter.set_exception(error)
        else:
            assert reply is not None
            waiter.set_result(reply)

    def _advance(self, *, eof: bool) -> None:
        try:
            reply = self._parse(eof)
        except (_Bad, _Dropped) as exc:
            self.close()
            self._finish(error=exc)
            return
        if reply is not None:
            if not reply.reusable:
                self.close()
            self._finish(reply)

    def _parse(self, eof: bool) -> _Reply | None:
        buffer = self._buffer
        while self._head is None:
            end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    raise _Bad("the reply's head is larger than 16 KiB")
                if eof:
                    raise _Dropped(bool(buffer))
                return None
            head = _read_head(bytes(buffer[:end]))
            if 100 <= head[0] < 200:  # an interim reply: the real one follows
                del buffer[: end + 4]
                continue
            self._head = (*head, end + 4)
        status, minor, headers, start = self._head
        close = _closes(headers, minor)
        if status != 200:
            # The caller needs only the status; the rest of this reply is not read.
            return _Reply(status, b"", False, None, None)
        encoding = headers.get(b"transfer-encoding", b"").lower()
        if encoding and encoding != b"identity":
            if encoding != b"chunked":
                raise _Bad(f"unsupported transfer-encoding {encoding.decode(errors='replace')}")
            found = _dechunk(buffer, start, self.max_body)
            if found is None:
                if eof:
                    raise _Dropped(True)
                return None
            body, end = found
            return self._reply(status, body, close or len(buffer) > end, headers)
        length_text = headers.get(b"content-length")
        if length_text is not None:
            if not length_text.isdigit():
                raise _Bad("a malformed Content-Length")
            length = int(length_text)
            if length > self.max_body:
                raise _Bad(f"the reply is larger than {self.max_body} bytes", "too_large")
            if len(buffer) - start < length:
                if eof:
                    raise _Dropped(True)
                return None
            end = start + length
            # Bytes beyond the reply put the connection out of step: not reused.
            return self._reply(status, bytes(buffer[start:end]), close or len(buffer) > end,
                               headers)
        # Neither: the body runs until the node closes the connection.
        if len(buffer) - start > self.max_body:
            raise _Bad(f"the reply is larger than {self.max_body} bytes", "too_large")
        if not eof:
            return None
        return _Reply(status, bytes(buffer[start:]), False, None, None)

    def _reply(self, status: int, body: bytes, close: bool,
               headers: dict[bytes, bytes]) -> _Reply:
        ka_max, ka_timeout = _keepalive(headers.get(b"keep-alive", b""))
        return _Reply(status, body, not close, ka_max, ka_timeout)


def _read_head(head: bytes) -> tuple[int, int, dict[bytes, bytes]]:
    lines = head.split(b"\r\n")
    match = _STATUS.fullmatch(lines[0])
    if match is None:
        raise _Bad("not an HTTP/1.x status line")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise _Bad("a malformed header line")
        key = name.lower()
        value = value.strip()
        if key in headers:
            if key in (b"content-length", b"transfer-encoding"):
                raise _Bad(f"{name.decode(errors='replace')} given twice")
            headers[key] += b", " + value
        else:
            headers[key] = value
    return int(match.group(2)), int(match.group(1)), headers


def _closes(headers: dict[bytes, bytes], minor: int) -> bool:
    tokens = {t.strip().lower() for t in headers.get(b"connection", b"").split(b",")}
    if minor == 0:
        return b"keep-alive" not in tokens
    return b"close" in tokens


def _keepalive(value: bytes) -> tuple[int | None, float | None]:
    most: int | None = None
    idle: float | None = None
    for part in value.split(b","):
        name, _, number = part.strip().partition(b"=")
        try:
            if name.lower() == b"max":
                most = int(number)
            elif name.lower() == b"timeout":
                idle = float(number)
        except ValueError:
            continue
    return most, idle


def _dechunk(buffer: bytearray, start: int, cap: int) -> tuple[bytes, int] | None:
    """The whole body of a chunked reply and where it ends, or None while it is incomplete."""
    body = bytearray()
    at = start
    while True:
        line_end = buffer.find(b"\r\n", at, at + 1024)
        if line_end < 0:
            if len(buffer) - at > 1024:
                raise _Bad("a malformed chunk size")
            return None
        size_text = bytes(buffer[at:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _Bad("a malformed chunk size") from None
        at = line_end + 2
        if size == 0:
            # Trailers (if any), then an empty line.
            while True:
                line_end = buffer.find(b"\r\n", at, at + MAX_HEAD)
                if line_end < 0:
                    if len(buffer) - at > MAX_HEAD:
                        raise _Bad("trailers larger than 16 KiB")
                    return None
                if line_end == at:
                    return bytes(body), line_end + 2
                at = line_end + 2
        if len(body) + size > cap:
            raise _Bad(f"the reply is larger than {cap} bytes", "too_large")
        if len(buffer) < at + size + 2:
            return None
        body += buffer[at : at + size]
        if buffer[at + size : at + size + 2] != b"\r\n":
            raise _Bad("a malformed chunk")
        at += size + 2


class GetPool:
    """GETs to nodes over kept-alive connections; one pool per `NodeClient`."""

    def __init__(
        self,
        *,
        max_body: int,
        connect_timeout: float,
        keepalive: float = 4.0,
        user_agent: str = "parthenon-bot",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_body = max_body
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self._agent = user_agent.encode()
        self._clock = clock
        self._idle: dict[str, list[_Connection]] = {}
        self._targets: dict[str, _Target] = {}
        self._busy: set[_Connection] = set()
        self._tls: ssl.SSLContext | None = None
        self.opened = 0  # connections opened so far (tests, the bench)

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        for conn in self._busy:
            conn.close()
        self._idle.clear()
        self._busy.clear()

    async def get(self, node: str, base_url: str, path: str, seconds: float) -> tuple[int, bytes]:
        """(status, body) of ``GET base_url+path``; the body is read only for a 200."""
        what = f"GET {path}"
        target = self._target(base_url)
        raw = b"".join((b"GET ", path.encode(), b" HTTP/1.1\r\nHost: ", target.host_header,
                        b"\r\nUser-Agent: ", self._agent,
                        b"\r\nAccept: */*\r\nAccept-Encoding: identity\r\n\r\n"))
        try:
            async with asyncio.timeout(seconds):
                for retry in (False, True):
                    # The retry after a stale connection always opens a new one.
                    conn = None if retry else self._reuse(base_url)
                    fresh = conn is None
                    if conn is None:
                        conn = await self._connect(node, base_url, target, what)
                    self._busy.add(conn)
                    try:
                        reply = await conn.request(raw)
                    except _Dropped as dropped:
                        if not fresh and not dropped.got_bytes and not retry:
                            # The node had closed it, and likely the other idle ones too
                            # (a restart): drop them, and once more on a new connection.
                            self._forget(base_url)
                            continue
                        if dropped.got_bytes:
                            raise NodeUnreachable(node, "the reply was cut off",
                                                  method=what) from None
                        raise NodeUnreachable(
                            node, "the connection closed before a complete answer", method=what
                        ) from None
                    except BaseException:
                        conn.close()
                        raise
                    finally:
                        self._busy.discard(conn)
                    self._release(base_url, conn, reply)
                    return reply.status, reply.body
        except TimeoutError:
            raise NodeTimeout(node, f"no complete answer within {seconds:g} s",
                              method=what) from None
        except _Bad as bad:
            if bad.code == "too_large":
                raise NodeProtocolError(node, "too_large", bad.what, method=what) from None
            raise NodeProtocolError(node, "bad_http", f"malformed HTTP reply ({bad.what})",
                                    method=what) from None
        raise AssertionError("unreachable")  # pragma: no cover

    # --- connections -----------------------------------------------------------------------

    def _target(self, base_url: str) -> _Target:
        target = self._targets.get(base_url)
        if target is None:
            parts = urlsplit(base_url)
            tls = parts.scheme == "https"
            host = parts.hostname or ""
            port = parts.port or (443 if tls else 80)
            shown = f"[{host}]" if ":" in host else host
            default = port == (443 if tls else 80)
            header = shown if default else f"{shown}:{port}"
            target = self._targets[base_url] = _Target(host, port, tls, header.encode("idna"))
        return target

    def _reuse(self, base_url: str) -> _Connection | None:
        conns = self._idle.get(base_url)
        now = self._clock()
        while conns:
            conn = conns.pop()
            limit = self.keepalive
            if conn.keepalive_timeout is not None:
                limit = min(limit, conn.keepalive_timeout - _KEEPALIVE_MARGIN)
            spent = conn.keepalive_max is not None and conn.sent >= conn.keepalive_max
            if conn.closed or spent or now - conn.idle_since >= limit:
                conn.close()
                continue
            return conn
        return None

    def _forget(self, base_url: str) -> None:
        for conn in self._idle.pop(base_url, []):
            conn.close()

    def _release(self, base_url: str, conn: _Connection, reply: _Reply) -> None:
        if conn.closed or not reply.reusable:
            conn.close()
            return
        if reply.keepalive_max is not None:
            conn.keepalive_max = reply.keepalive_max
        if reply.keepalive_timeout is not None:
            conn.keepalive_timeout = reply.keepalive_timeout
        if conn.keepalive_max is not None and conn.sent >= conn.keepalive_max:
            conn.close()
            return
        conns = self._idle.setdefault(base_url, [])
        conns[:] = [c for c in conns if not c.closed]
        if len(conns) >= _IDLE_PER_NODE:
            conn.close()
            return
        conn.idle_since = self._clock()
        conns.append(conn)

    async def _connect(self, node: str, base_url: str, target: _Target,
                       what: str) -> _Connection:
        loop = asyncio.get_running_loop()
        tls: ssl.SSLContext | None = None
        if target.tls:
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self.max_body), target.host, target.port, ssl=tls,
                    server_hostname=target.host if tls else None,
                )
        except TimeoutError:
            raise NodeTimeout(node, "connecting timed out", method=what, sent=False) from None
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror or type(exc).__name__
            raise NodeUnreachable(
                node, f"cannot connect to {base_url} ({reason})", method=what, sent=False
            ) from None
        self.opened += 1
        return conn

