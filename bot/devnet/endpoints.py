"""The HTTP endpoints of one simulated node, answered as the daemon answers them.

`POST /` is JSON-RPC (Basic auth, the per-client rate limit, the method table in `_methods`,
and `stop`, which may hang before the node goes down); `GET /health` and `GET /metrics` are the
node's unauthenticated documents; anything else is a 404. Every request is counted on its
connection (the node closes one after `keepalive_max` requests) and written to the node's
request log. The faults that change an answer (latency, 5xx, garbage, huge or trickled replies,
a hanging `stop`) are read here at request time. The plain GETs answered before aiohttp
(`_getpath`) go through the same `count_on`, `get_reply` and `log_get`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import SecretStr

from bot.devnet import _dialect as dialect
from bot.devnet._methods import METHODS, MethodError, call
from bot.devnet.metrics import NodeMetrics
from bot.devnet.ratelimit import FixedWindowLimiter

if TYPE_CHECKING:
    from bot.devnet.node import DevnetNode

__all__ = ["Endpoints", "RequestRecord"]

_JSON = "application/json"
_GARBAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>\x00\xff"


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP request as the node saw it. `method` is the JSON-RPC method, when there was one."""

    time: float
    path: str
    http_method: str
    method: str | None
    status: int
    remote: str | None = None
    rpc_id: str | None = None


class Endpoints:
    """One node's HTTP endpoints: its aiohttp server calls `handle` for every request."""

    def __init__(
        self,
        node: DevnetNode,
        *,
        rpc_user: str,
        rpc_password: str,
        rate_limit: int,
        rate_window: float,
        keepalive_max: int,
        keepalive_timeout: float,
    ) -> None:
        self._node = node
        self._user = rpc_user
        self._password = SecretStr(rpc_password)
        self.keepalive_max = keepalive_max
        self.keepalive_timeout = keepalive_timeout
        self._limiter = FixedWindowLimiter(rate_limit, rate_window)
        self.rpc_metrics = NodeMetrics()
        self._per_connection: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()

    def reset(self) -> None:
        """A new process: the rate limit, the RPC counters and the connection counts start over."""
        self._limiter.reset()
        self.rpc_metrics = NodeMetrics()
        self._per_connection = weakref.WeakKeyDictionary()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        node = self._node
        close_after = self.count_on(request.transport)
        if node.faults.latency:
            await asyncio.sleep(node.faults.latency)
        rpc_method: str | None = None
        rpc_id: str | None = None
        if request.method == "POST" and request.path == "/":
            response, rpc_method, rpc_id = await self._rpc(request, close_after)
        elif request.method == "GET" and request.path == "/health":
            response = web.Response(body=dialect.dumps(node.health()), content_type=_JSON)
        elif request.method == "GET" and request.path == "/metrics":
            response = web.Response(text=node.metrics_text(), content_type="text/plain")
        else:
            response = web.Response(status=404)
        if not response.prepared:
            self.decorate(response, close_after)
        node.request_log.append(
            RequestRecord(
                time=time.time(),
                path=request.path,
                http_method=request.method,
                method=rpc_method,
                status=response.status,
                remote=request.remote,
                rpc_id=rpc_id,
            )
        )
        return response

    def count_on(self, transport: Any) -> bool:
        """Count a request on its connection: True when it is the last one the connection may
        carry."""
        if transport is None:
            return True
        count = self._per_connection.get(transport, 0) + 1
        self._per_connection[transport] = count
        return count >= self.keepalive_max

    def get_reply(self, path: str) -> tuple[bytes, bytes]:
        """(body, content type) of GET /health or /metrics, as `handle` answers them."""
        if path == "/health":
            return dialect.dumps(self._node.health()), b"application/json"
        return self._node.metrics_text().encode(), b"text/plain; charset=utf-8"

    def log_get(self, path: str, status: int, remote: str | None) -> None:
        self._node.request_log.append(
            RequestRecord(time=time.time(), path=path, http_method="GET", method=None,
                          status=status, remote=remote)
        )

    def decorate(self, response: web.StreamResponse, close_after: bool) -> None:
        response.headers["Keep-Alive"] = (
            f"timeout={self.keepalive_timeout:g}, max={self.keepalive_max}"
        )
        if close_after:
            response.force_close()

    async def _rpc(
        self, request: web.BaseRequest, close_after: bool
    ) -> tuple[web.StreamResponse, str | None, str | None]:
        started = time.perf_counter()
        raw = await request.read()
        error_status = self._node.faults.error_status()
        if error_status is not None:
            return web.Response(status=error_status, text="Service Unavailable"), None, None
        if not self._limiter.allow(request.remote or "", asyncio.get_running_loop().time()):
            body = dialect.RATE_LIMIT_BODY
            return web.Response(status=429, body=body, content_type=_JSON), None, None
        if not self._authorized(request):
            headers = {"WWW-Authenticate": 'Basic realm="parthenon-rpc"'}
            body = dialect.AUTH_REQUIRED_BODY
            response = web.Response(status=401, body=body, content_type=_JSON, headers=headers)
            return response, None, None
        envelope = dialect.parse_envelope(raw)
        if isinstance(envelope, dialect.EnvelopeError):
            self.rpc_metrics.observe("unknown", "error", time.perf_counter() - started)
            return web.Response(body=envelope.body(), content_type=_JSON), None, envelope.id
        method = envelope.method
        label = method if method in METHODS or method == "stop" else "unknown"
        if method == "stop":
            self.rpc_metrics.observe(label, "ok", time.perf_counter() - started)
            return await self._stop(request, envelope.id, close_after), method, envelope.id
        status = "ok"
        try:
            body = dialect.result_body(envelope.id, call(self._node, method, envelope.params))
        except MethodError as exc:
            status = "error" if label != "unknown" else "unknown_method"
            body = dialect.error_body(envelope.id, dialect.METHOD_ERROR, exc.message)
        self.rpc_metrics.observe(label, status, time.perf_counter() - started)
        return await self._reply(request, body, close_after), method, envelope.id

    def _authorized(self, request: web.BaseRequest) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        user, separator, password = decoded.partition(":")
        user_ok = hmac.compare_digest(user.encode(), self._user.encode())
        password_ok = hmac.compare_digest(
            password.encode(), self._password.get_secret_value().encode()
        )
        return bool(separator) and user_ok and password_ok

    async def _reply(
        self, request: web.BaseRequest, body: bytes, close_after: bool
    ) -> web.StreamResponse:
        """A JSON-RPC answer, unless a hostile-reply fault says otherwise."""
        faults = self._node.faults
        if faults.garbage_reply:
            body = _GARBAGE
        huge = faults.huge_bytes()
        if huge > len(body):
            body += b" " * (huge - len(body))
        delay = faults.trickle_seconds()
        if not delay:
            return web.Response(body=body, content_type=_JSON)
        response = web.StreamResponse()
        response.content_type = _JSON
        response.content_length = len(body)
        self.decorate(response, close_after)
        await response.prepare(request)
        for index in range(len(body)):
            await response.write(body[index : index + 1])
            await asyncio.sleep(delay)
        await response.write_eof()
        return response

    async def _stop(
        self, request: web.BaseRequest, request_id: str, close_after: bool
    ) -> web.StreamResponse:
        """`stop`: answer "Node stopping" (maybe after a long hang), then go away."""
        node = self._node
        hang = node.faults.hang_seconds()
        if hang > 0:
            # The daemon has the request: it goes down after the hang even if the client hangs
            # up meanwhile, so a halt is also scheduled apart from this request's handler (a
            # moment later, so that a client still waiting gets its answer first).
            stopped = node.stop_event
            loop = asyncio.get_running_loop()
            halt_later = loop.call_later(hang + 0.5, node.halt_if_running)
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(stopped.wait()), hang)
            except asyncio.CancelledError:
                raise  # the client went away; the scheduled halt still happens
            halt_later.cancel()
        body = dialect.result_body(request_id, "Node stopping")
        response = web.Response(body=body, content_type=_JSON)
        self.decorate(response, close_after)
        response.force_close()
        await response.prepare(request)
        await response.write_eof()
        node.halt_if_running()
        return response
