"""A local stand-in for Slack's Web API and Socket Mode, for the tests and the local demo.

An aiohttp app on a port of its own (0 = any free one) that answers the Web API methods the bot
uses with bodies shaped like Slack's (``bot.testing.slackmethods``), keeps what was posted in its
workspace (``bot.testing.slackworkspace``: messages with their blocks, edits and ``metadata``,
thread replies, ephemeral messages, modals, App Home views, channels with their members and pins)
and posts to response URLs, records every call (``Call``), and can be told to misbehave: answer
429 with a Retry-After, 5xx, an error such as ``name_taken`` or ``missing_scope``, answer late
(after doing the call, as when Slack stored a message but its answer never reached the bot), or
hold a call until released.

Socket Mode: ``apps.connections.open`` hands out a ws:// URL on the same server, which
greets with ``hello``, sends envelopes and collects their acks.

Tokens are checked, never kept: a recorded call holds its arguments without any token.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from bot.testing.slackmethods import METHODS, refused_layout
from bot.testing.slackworkspace import Workspace

__all__ = [
    "Call",
    "Fault",
    "SlackStandIn",
]

T = TypeVar("T")

_JSON_FIELDS = {"blocks", "attachments", "view", "metadata"}


@dataclass
class Call:
    """One Web API call as received (arguments without tokens) and what was answered."""

    seq: int
    method: str
    args: dict[str, Any]
    at: float
    status: int
    response: dict[str, Any]
    authorized: bool

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))


@dataclass
class Fault:
    """How the next ``times`` calls of a method misbehave (optionally only for one channel)."""

    status: int = 200
    error: str | None = None
    retry_after: float | None = None
    times: int = 1
    channel: str | None = None
    delay: float = 0.0
    late: bool = False  # the call is done, and its answer comes only after ``delay``


class SlackStandIn(Workspace):
    """Start with ``await start()``; point the bot's ``SLACK_API_URL`` at ``api_url``. It is the
    workspace its calls change (``bot.testing.slackworkspace.Workspace``): read it from there."""

    def __init__(
        self,
        *,
        bot_token: str,
        app_token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        team_id: str = "T0PARTHENON",
        bot_user_id: str = "U0PARTHBOT",
        bot_id: str = "B0PARTHBOT",
        users: dict[str, str] | None = None,
    ) -> None:
        super().__init__(team_id=team_id, bot_user_id=bot_user_id, bot_id=bot_id, users=users)
        self._bot_token = bot_token
        self._app_token = app_token
        self.host = host
        self.port = port
        self.calls: list[Call] = []
        self.responses: list[tuple[str, dict[str, Any]]] = []  # (response url id, body)
        self.listeners: list[Callable[[Call], None]] = []
        self._faults: dict[str, list[Fault]] = {}
        self._holds: dict[str, asyncio.Event] = {}
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.socket_connected = asyncio.Event()
        self.socket_messages: list[dict[str, Any]] = []  # everything the bot sent on the socket

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """What the bot's SLACK_API_URL should be (slack_sdk appends the method name)."""
        return f"{self.base_url}/api/"

    @property
    def socket_url(self) -> str:
        return f"ws://{self.host}:{self.port}/socket-mode?ticket={uuid.uuid4().hex}"

    def response_url(self, name: str = "r") -> str:
        """A response_url to put in a payload; posts to it are kept in ``responses``."""
        return f"{self.base_url}/respond/{name}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_get("/socket-mode", self._socket)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        for future in self._acks.values():
            if not future.done():
                future.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- knobs -------------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: float | None = None,
        times: int = 1,
        channel: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail: a status (429 with ``retry_after``,
        5xx) or ``ok: false`` with ``error``; ``delay`` seconds before answering."""
        if status == 429 and error is None:
            error = "ratelimited"
        self._faults.setdefault(method, []).append(
            Fault(status, error, retry_after, times, channel, delay)
        )

    def answer_late(
        self, method: str, delay: float, *, times: int = 1, channel: str | None = None
    ) -> None:
        """The next ``times`` calls of ``method`` are done at once (a message is stored) but
        answered only ``delay`` seconds later: longer than the bot's timeout, the answer is lost."""
        self._faults.setdefault(method, []).append(
            Fault(times=times, channel=channel, delay=delay, late=True)
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def hold(self, method: str) -> asyncio.Event:
        """Calls of ``method`` wait until the returned event is set (or ``release``)."""
        event = asyncio.Event()
        self._holds[method] = event
        return event

    def release(self, method: str) -> None:
        event = self._holds.pop(method, None)
        if event is not None:
            event.set()

    # --- queries -----------------------------------------------------------------------------

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, predicate: Callable[[], T | None], within: float = 10.0) -> T:
        """Wait until ``predicate()`` returns something truthy (re-checked after every call)."""
        async with asyncio.timeout(within), self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                await self._changed.wait()

    async def _notify(self, call: Call | None = None) -> None:
        if call is not None:
            for listener in list(self.listeners):
                listener(call)
        async with self._changed:
            self._changed.notify_all()

    # --- Socket Mode -------------------------------------------------------------------------

    async def send_envelope(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        within: float = 10.0,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> dict[str, Any]:
        """Send one envelope (slash_commands, interactive, events_api) and return its ack."""
        await asyncio.wait_for(self.socket_connected.wait(), within)
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = future
        body = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        await self._sockets[-1].send_str(json.dumps(body))
        try:
            return await asyncio.wait_for(future, within)
        finally:
            self._acks.pop(envelope_id, None)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({
            "type": "hello",
            "num_connections": len(self._sockets),
            "debug_info": {"host": "standin", "approximate_connection_time": 3600},
            "connection_info": {"app_id": "A0PARTHENON"},
        }))
        self.socket_connected.set()
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                self.socket_messages.append(data)
                future = self._acks.get(str(data.get("envelope_id")))
                if future is not None and not future.done():
                    future.set_result(data)
                await self._notify()
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self.socket_connected.clear()
        return ws

    # --- response URLs -----------------------------------------------------------------------

    async def _respond(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        self.responses.append((request.match_info["name"], body))
        await self._notify()
        return web.Response(text="ok")

    # --- the Web API -------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _arguments(request)
        token = _bearer(request) or str(args.pop("token", "") or "")
        hold = self._holds.get(method)
        if hold is not None:
            await hold.wait()
        fault = self._fault_for(method, args)
        authorized = self._authorized(method, token)
        status, body, headers = 200, {"ok": False, "error": "invalid_auth"}, {}
        if fault is not None and fault.late:
            body = self._do(method, args) if authorized else body
            call = Call(next(self._seq), method, args, time.monotonic(), status, body, authorized)
            self.calls.append(call)
            await self._notify(call)
            await asyncio.sleep(fault.delay)
            return web.json_response(body, status=status)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            status = fault.status
            body = {"ok": False, "error": fault.error or "fatal_error"}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(int(fault.retry_after)) if float(
                    fault.retry_after).is_integer() else str(fault.retry_after)
        elif authorized:
            body = self._do(method, args)
        elif method == "apps.connections.open":
            body = {"ok": False, "error": "not_allowed_token_type"}
        call = Call(next(self._seq), method, args, time.monotonic(), status, body, authorized)
        self.calls.append(call)
        await self._notify(call)
        if status >= 500:
            return web.Response(status=status, text="upstream error", headers=headers)
        return web.json_response(body, status=status, headers=headers)

    def _do(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "apps.connections.open":  # Socket Mode's, served here
            return {"ok": True, "url": self.socket_url}
        handler = METHODS.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return refused_layout(method, args) or handler(self, args)

    def _fault_for(self, method: str, args: dict[str, Any]) -> Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        for fault in queue:
            if fault.channel is not None and fault.channel != args.get("channel"):
                continue
            fault.times -= 1
            if fault.times <= 0:
                queue.remove(fault)
            return fault
        return None

    def _authorized(self, method: str, token: str) -> bool:
        if method == "apps.connections.open":
            return self._app_token is not None and token == self._app_token
        return token == self._bot_token


async def _arguments(request: web.Request) -> dict[str, Any]:
    """JSON, form or query arguments, with JSON-in-form fields (blocks, view) decoded."""
    args: dict[str, Any] = dict(request.query)
    raw = await request.read()
    if raw:
        if request.content_type == "application/json":
            try:
                loaded = json.loads(raw)
            except ValueError:
                loaded = {}
            if isinstance(loaded, dict):
                args.update(loaded)
        else:
            args.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    for name in _JSON_FIELDS:
        value = args.get(name)
        if isinstance(value, str) and value:
            with contextlib.suppress(ValueError):
                args[name] = json.loads(value)
    return args


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    return header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
