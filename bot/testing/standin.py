"""A local stand-in for Slack's Web API and Socket Mode, for the tests and the local demo.

An aiohttp app on a port of its own (0 = any free one) that answers the Web API methods the bot
uses with bodies shaped like Slack's, keeps what was posted (messages by channel and ts with their
blocks and edits, thread replies, ephemeral messages, modals, App Home views, channels with their
members and pins, posts to response URLs), and can be told to misbehave: answer 429 with a
Retry-After, 5xx, an error such as ``name_taken`` or ``missing_scope``, answer late (after doing
the call, as when Slack stored a message but its answer never reached the bot), or hold a call
until released. Messages keep their ``metadata`` (``event_type``, ``event_payload``), which
``conversations.history`` and ``conversations.replies`` return with ``include_all_metadata``, paged
by ``limit`` and ``cursor`` within ``oldest``/``latest`` as Slack pages them.

Socket Mode: ``apps.connections.open`` hands out a ws:// URL on the same server, which
greets with ``hello``, sends envelopes and collects their acks.

Tokens are checked, never kept: a recorded call holds its arguments without any token.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from bot.slack.blocklimits import SlackRefuses, check_blocks, check_view
from workflows.userid import USER_ID_PATTERN

__all__ = [
    "Call",
    "Channel",
    "Fault",
    "OpenedView",
    "PostedMessage",
    "SlackStandIn",
]

T = TypeVar("T")

_CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
_JSON_FIELDS = {"blocks", "attachments", "view", "metadata"}
_USER = re.compile(USER_ID_PATTERN)


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
class PostedMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    user: str = ""
    edits: list[dict[str, Any]] = field(default_factory=list)  # earlier versions, oldest first
    pinned: bool = False
    metadata: dict[str, Any] | None = None  # {"event_type": ..., "event_payload": {...}}

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    message_ts: str


@dataclass
class OpenedView:
    id: str
    method: str  # views.open | views.push | views.update | views.publish
    view: dict[str, Any]
    trigger_id: str | None = None
    user_id: str | None = None


@dataclass
class Channel:
    id: str
    name: str
    members: set[str] = field(default_factory=set)
    pins: list[str] = field(default_factory=list)
    is_private: bool = False
    created_by: str | None = None


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


class SlackStandIn:
    """Start with ``await start()``; point the bot's ``SLACK_API_URL`` at ``api_url``."""

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
        self._bot_token = bot_token
        self._app_token = app_token
        self.host = host
        self.port = port
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.users: dict[str, str] = dict(users or {})
        self.usergroups: dict[str, set[str]] = {}  # user group id (S...) -> its members
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], PostedMessage] = {}
        self.ephemerals: list[Ephemeral] = []
        self.views: list[OpenedView] = []
        self.home: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, Channel] = {}
        self.responses: list[tuple[str, dict[str, Any]]] = []  # (response url id, body)
        self.listeners: list[Callable[[Call], None]] = []
        self._faults: dict[str, list[Fault]] = {}
        self._holds: dict[str, asyncio.Event] = {}
        self._seq = itertools.count(1)
        self._ts = itertools.count(100)
        self._ids = itertools.count(1)
        self._epoch = int(time.time())
        self._second = self._epoch
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

    def add_channel(self, channel_id: str, name: str, members: set[str] | None = None) -> Channel:
        channel = Channel(channel_id, name, set(members or set()))
        self.channels[channel_id] = channel
        return channel

    # --- queries -----------------------------------------------------------------------------

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def channel_messages(self, channel: str) -> list[PostedMessage]:
        """Top-level messages of a channel, oldest first."""
        found = [m for (c, _), m in self.messages.items() if c == channel and not m.is_reply]
        return sorted(found, key=lambda m: float(m.ts))

    def replies(self, channel: str, thread_ts: str) -> list[PostedMessage]:
        found = [
            m for (c, _), m in self.messages.items()
            if c == channel and m.is_reply and m.thread_ts == thread_ts
        ]
        return sorted(found, key=lambda m: float(m.ts))

    def message(self, channel: str, ts: str) -> PostedMessage | None:
        return self.messages.get((channel, ts))

    def channel_named(self, name: str) -> Channel | None:
        return next((c for c in self.channels.values() if c.name == name), None)

    def opened(self, callback_id: str | None = None) -> list[OpenedView]:
        return [
            v for v in self.views
            if v.method == "views.open"
            and (callback_id is None or v.view.get("callback_id") == callback_id)
        ]

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
        handler = _METHODS.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return _refused_layout(method, args) or handler(self, args)

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

    # --- method bodies -----------------------------------------------------------------------

    def _next_ts(self) -> str:
        """Like Slack's: the wall-clock second, unique and increasing within the workspace."""
        self._second = max(self._second, int(time.time()))
        return f"{self._second}.{next(self._ts):06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def _channel(self, channel_id: str) -> Channel:
        """Any well-formed id is a channel the bot is in (a user id is the DM with that user)."""
        channel = self.channels.get(channel_id)
        if channel is None:
            channel = Channel(channel_id, channel_id.lower(), {self.bot_user_id})
            self.channels[channel_id] = channel
        return channel

    def _message_body(
        self, message: PostedMessage, *, metadata: bool = True
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": message.text,
            "ts": message.ts,
            "team": self.team_id,
            "blocks": message.blocks,
        }
        if message.thread_ts is not None:
            body["thread_ts"] = message.thread_ts
        elif any(m.thread_ts == message.ts for m in self.messages.values() if m.is_reply):
            body["thread_ts"] = message.ts
            body["reply_count"] = sum(
                1 for (c, _), m in self.messages.items()
                if c == message.channel and m.is_reply and m.thread_ts == message.ts
            )
        if metadata and message.metadata is not None:
            body["metadata"] = message.metadata
        return body

    def _user(self, user_id: str) -> dict[str, Any]:
        name = self.users.get(user_id, user_id.lower())
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name.title(),
            "tz": "Etc/UTC",
            "is_bot": user_id == self.bot_user_id,
            "deleted": False,
            "profile": {"display_name": name, "real_name": name.title()},
        }


_BLOCK_METHODS = {"chat.postMessage", "chat.update", "chat.postEphemeral"}
_VIEW_METHODS = {"views.open", "views.push", "views.update", "views.publish"}


def _refused_layout(method: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """Slack's answer to blocks or a view that break a Block Kit limit (``bot.slack.blocklimits``:
    slack_sdk's own models plus the per-surface block counts); None when they are fine."""
    try:
        if method in _BLOCK_METHODS and args.get("blocks"):
            blocks = args["blocks"]
            check_blocks(json.loads(blocks) if isinstance(blocks, str) else blocks, "message")
        elif method in _VIEW_METHODS and isinstance(args.get("view"), dict):
            check_view(args["view"])
    except (SlackRefuses, ValueError, TypeError, KeyError) as exc:
        error = "invalid_blocks" if method in _BLOCK_METHODS else "invalid_arguments"
        return {"ok": False, "error": error, "errors": [str(exc)],
                "response_metadata": {"messages": [f"[ERROR] {exc}"]}}
    return None


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


def _str(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    return str(value) if value is not None else ""


def _auth_test(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "ok": True,
        "url": "https://parthenon-standin.slack.com/",
        "team": "Parthenon (stand-in)",
        "user": "parthenon-bot",
        "team_id": s.team_id,
        "user_id": s.bot_user_id,
        "bot_id": s.bot_id,
        "is_enterprise_install": False,
    }


def _post_message(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    channel_id = _str(args, "channel")
    if not channel_id:
        return {"ok": False, "error": "channel_not_found"}
    text, blocks = _str(args, "text"), args.get("blocks") or []
    if not text and not blocks:
        return {"ok": False, "error": "no_text"}
    metadata = args.get("metadata")
    if metadata is not None and not _valid_metadata(metadata):
        return {"ok": False, "error": "invalid_metadata_format"}
    channel = s._channel(channel_id)
    if channel.is_private and s.bot_user_id not in channel.members:
        return {"ok": False, "error": "channel_not_found"}  # Slack hides private channels
    thread_ts = _str(args, "thread_ts") or None
    if thread_ts is not None and (channel.id, thread_ts) not in s.messages:
        return {"ok": False, "error": "thread_not_found"}
    message = PostedMessage(channel.id, s._next_ts(), text, list(blocks), thread_ts,
                            s.bot_user_id, metadata=metadata)
    s.messages[(channel.id, message.ts)] = message
    return {"ok": True, "channel": channel.id, "ts": message.ts,
            "message": s._message_body(message)}


def _update(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    message = s.messages.get((_str(args, "channel"), _str(args, "ts")))
    if message is None:
        return {"ok": False, "error": "message_not_found"}
    message.edits.append({"text": message.text, "blocks": message.blocks})
    if "text" in args:
        message.text = _str(args, "text")
    if "blocks" in args:
        message.blocks = list(args.get("blocks") or [])
    return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text,
            "message": s._message_body(message)}


def _post_ephemeral(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    user = _str(args, "user")
    if not _USER.match(user):
        return {"ok": False, "error": "user_not_found"}
    channel = s._channel(_str(args, "channel"))
    ts = s._next_ts()
    s.ephemerals.append(Ephemeral(channel.id, user, _str(args, "text"),
                                  list(args.get("blocks") or []), ts))
    return {"ok": True, "message_ts": ts}


def _permalink(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    channel, ts = _str(args, "channel"), _str(args, "message_ts")
    return {"ok": True, "channel": channel,
            "permalink": f"https://parthenon-standin.slack.com/archives/{channel}/p"
                         + ts.replace(".", "")}


def _channel_body(s: SlackStandIn, channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "name": channel.name,
        # As Slack answers for channels made since 2021: a private one is a channel (a C id),
        # is_private says so; is_group is only for the old G... private groups.
        "is_channel": True,
        "is_group": False,
        "is_private": channel.is_private,
        "is_member": s.bot_user_id in channel.members,
        "created": s._epoch,
        "creator": channel.created_by or s.bot_user_id,
        "num_members": len(channel.members),
    }


def _create(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    name = _str(args, "name")
    if not _CHANNEL_NAME.match(name):
        return {"ok": False, "error": "invalid_name_specials"}
    if s.channel_named(name) is not None:
        return {"ok": False, "error": "name_taken"}
    channel = Channel(s._next_id("C"), name, {s.bot_user_id},
                      # JSON true, or a form's "true"/"1" (slack_sdk sends booleans as 1/0)
                      is_private=str(args.get("is_private", "")).lower() in {"true", "1"},
                      created_by=s.bot_user_id)
    s.channels[channel.id] = channel
    return {"ok": True, "channel": _channel_body(s, channel)}


def _invite(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    channel = s.channels.get(_str(args, "channel"))
    if channel is None:
        return {"ok": False, "error": "channel_not_found"}
    users = [u for u in _str(args, "users").split(",") if u]
    if not users:
        return {"ok": False, "error": "no_user"}
    if s.bot_user_id in users:
        return {"ok": False, "error": "cant_invite_self"}
    if any(not _USER.match(u) for u in users):
        return {"ok": False, "error": "user_not_found"}
    if all(u in channel.members for u in users):
        return {"ok": False, "error": "already_in_channel"}
    channel.members.update(users)
    return {"ok": True, "channel": _channel_body(s, channel)}


def _join(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    channel = s._channel(_str(args, "channel"))
    channel.members.add(s.bot_user_id)
    return {"ok": True, "channel": _channel_body(s, channel)}


def _info(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    channel = s.channels.get(_str(args, "channel"))
    if channel is None:
        return {"ok": False, "error": "channel_not_found"}
    return {"ok": True, "channel": _channel_body(s, channel)}


def _pin(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    message = s.messages.get((_str(args, "channel"), _str(args, "timestamp")))
    if message is None:
        return {"ok": False, "error": "message_not_found"}
    if message.pinned:
        return {"ok": False, "error": "already_pinned"}
    message.pinned = True
    s._channel(message.channel).pins.append(message.ts)
    return {"ok": True}


def _view(s: SlackStandIn, method: str, args: dict[str, Any]) -> dict[str, Any]:
    view = args.get("view")
    if not isinstance(view, dict):
        return {"ok": False, "error": "invalid_arguments"}
    trigger = _str(args, "trigger_id") or None
    if method in {"views.open", "views.push"} and not trigger:
        return {"ok": False, "error": "invalid_trigger_id"}
    opened = OpenedView(_str(args, "view_id") or s._next_id("V"), method, view, trigger,
                        _str(args, "user_id") or None)
    s.views.append(opened)
    if method == "views.publish" and opened.user_id:
        s.home[opened.user_id] = view
    body = {"id": opened.id, "team_id": s.team_id, "hash": uuid.uuid4().hex[:16],
            "state": {"values": {}}, **view}
    return {"ok": True, "view": body}


def _users_info(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    user = _str(args, "user")
    if not _USER.match(user):
        return {"ok": False, "error": "user_not_found"}
    return {"ok": True, "user": s._user(user)}


def _usergroup_users(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    """usergroups.users.list as Slack answers it: the ids of the user group's members, or
    `no_such_subteam` (a test edits ``s.usergroups`` to change members)."""
    group = _str(args, "usergroup")
    if group not in s.usergroups:
        return {"ok": False, "error": "no_such_subteam"}
    return {"ok": True, "users": sorted(s.usergroups[group])}


def _connections_open(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "url": s.socket_url}


def _valid_metadata(metadata: Any) -> bool:
    return (isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
            and bool(metadata["event_type"]) and isinstance(metadata.get("event_payload"), dict))


def _flag(args: dict[str, Any], name: str) -> bool:
    return str(args.get(name, "")).lower() in {"true", "1"}


def _page(
    s: SlackStandIn, args: dict[str, Any], found: list[PostedMessage], *, newest_first: bool
) -> dict[str, Any]:
    """One page of ``found`` as Slack pages a timeline: within (oldest, latest) (inclusive
    when asked), ``limit`` at a time (default 100, at most 999), ``cursor`` from
    ``response_metadata.next_cursor`` (opaque; here base64 of ``next_ts:<ts>``)."""
    try:
        oldest = float(_str(args, "oldest") or 0)
        latest = float(_str(args, "latest") or "inf")
        limit = max(1, min(int(_str(args, "limit") or 100), 999))
    except ValueError:
        return {"ok": False, "error": "invalid_arguments"}
    inclusive = _flag(args, "inclusive")
    def within(ts: float) -> bool:
        return oldest <= ts <= latest if inclusive else oldest < ts < latest

    kept = [m for m in found if within(float(m.ts))]
    kept.sort(key=lambda m: float(m.ts), reverse=newest_first)
    cursor = _str(args, "cursor")
    if cursor:
        try:
            start = base64.b64decode(cursor, validate=True).decode().removeprefix("next_ts:")
            index = next(i for i, m in enumerate(kept) if m.ts == start)
        except (ValueError, StopIteration):
            return {"ok": False, "error": "invalid_cursor"}
        kept = kept[index:]
    page, rest = kept[:limit], kept[limit:]
    with_metadata = _flag(args, "include_all_metadata")
    body: dict[str, Any] = {
        "ok": True,
        "messages": [s._message_body(m, metadata=with_metadata) for m in page],
        "has_more": bool(rest),
    }
    if rest:
        body["response_metadata"] = {
            "next_cursor": base64.b64encode(f"next_ts:{rest[0].ts}".encode()).decode()}
    return body


def _history(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    """Top-level messages of a channel, newest first (thread replies are not in history)."""
    if not _str(args, "channel"):
        return {"ok": False, "error": "channel_not_found"}
    channel = s._channel(_str(args, "channel"))
    body = _page(s, args, s.channel_messages(channel.id), newest_first=True)
    if body["ok"]:
        body["pin_count"] = len(channel.pins)
    return body


def _replies(s: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    """A thread: its parent first, then the replies oldest first (the parent always leads the
    first page; ``oldest``/``latest`` bound the replies)."""
    if not _str(args, "channel"):
        return {"ok": False, "error": "channel_not_found"}
    channel = s._channel(_str(args, "channel"))
    message = s.messages.get((channel.id, _str(args, "ts")))
    if message is None:
        return {"ok": False, "error": "thread_not_found"}
    parent = s.messages.get((channel.id, message.thread_ts or message.ts)) or message
    body = _page(s, args, s.replies(channel.id, parent.ts), newest_first=False)
    if body["ok"] and not _str(args, "cursor"):
        with_metadata = _flag(args, "include_all_metadata")
        body["messages"].insert(0, s._message_body(parent, metadata=with_metadata))
    return body


_METHODS: dict[str, Callable[[SlackStandIn, dict[str, Any]], dict[str, Any]]] = {
    "api.test": lambda s, a: {"ok": True, "args": {}},
    "auth.test": _auth_test,
    "chat.postMessage": _post_message,
    "chat.update": _update,
    "chat.postEphemeral": _post_ephemeral,
    "chat.getPermalink": _permalink,
    "conversations.create": _create,
    "conversations.invite": _invite,
    "conversations.join": _join,
    "conversations.info": _info,
    "conversations.history": _history,
    "conversations.replies": _replies,
    "pins.add": _pin,
    "views.open": lambda s, a: _view(s, "views.open", a),
    "views.push": lambda s, a: _view(s, "views.push", a),
    "views.update": lambda s, a: _view(s, "views.update", a),
    "views.publish": lambda s, a: _view(s, "views.publish", a),
    "users.info": _users_info,
    "usergroups.users.list": _usergroup_users,
    "apps.connections.open": _connections_open,
}
