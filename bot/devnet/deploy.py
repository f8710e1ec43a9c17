"""The stand-in for the operators' deploy system, which the bot's `webhook` step calls.

`POST /deploy` with an HMAC-SHA256 signature over `"{timestamp}.{raw body}"`, a timestamp no more
than five minutes off, and an Idempotency-Key: a repeated key gets the first answer again and
nothing is done twice. Known actions act on the devnet's node processes; others are recorded
and accepted (the devnet cannot take a snapshot, but the bot may ask for one).

Like a real deploy system, it knows what it installed: the answer to a node action carries
`installed: {node: release}` for the nodes it acted on, and the read-only `verify-version`
action answers the same for the nodes named (the "Deploy webhook contract" in
docs/configuration.md). This is the release evidence the bot trusts, since the daemon's
`getinfo.version` is a constant.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

from aiohttp import web
from pydantic import SecretStr

from bot.devnet.errors import UnknownNodeError
from bot.devnet.node import DevnetNode

__all__ = [
    "CHECK_LOGS",
    "NODE_ACTIONS",
    "READ_ACTIONS",
    "DeployReceiver",
    "DeployRequest",
    "NodeDirectory",
    "sign_deploy_body",
]

MAX_SKEW_SECONDS = 300


class NodeDirectory(Protocol):
    """Where the receiver finds the nodes it is asked to act on."""

    def node(self, name: str) -> DevnetNode: ...


def sign_deploy_body(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `X-Parthenon-Signature` value for a body: `v1=<hex hmac_sha256>`."""
    message = f"{timestamp}.".encode() + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass
class DeployRequest:
    """One request as received and what came of it; `applied`: nodes were acted on."""

    time: float
    idempotency_key: str | None
    body: dict[str, Any] | None
    raw: bytes
    status: int
    response: dict[str, Any]
    applied: bool = False
    replay: bool = False

    @property
    def action(self) -> str | None:
        value = self.body.get("action") if self.body else None
        return value if isinstance(value, str) else None


async def _deploy(node: DevnetNode, body: dict[str, Any]) -> None:
    version = body.get("version")
    if isinstance(version, str) and version:
        node.version = version
    await node.stop_process()
    await node.start_process()


async def _restart(node: DevnetNode, body: dict[str, Any]) -> None:
    await node.stop_process()
    await node.start_process()


async def _stop(node: DevnetNode, body: dict[str, Any]) -> None:
    await node.stop_process()


async def _start(node: DevnetNode, body: dict[str, Any]) -> None:
    await node.start_process()


NODE_ACTIONS: dict[str, Callable[[DevnetNode, dict[str, Any]], Awaitable[None]]] = {
    "deploy": _deploy,
    "restart": _restart,
    "stop": _stop,
    "start": _start,
}


CHECK_LOGS = "check-logs"
"""The log check: validation errors each named node logged over a window (read-only)."""

#: Actions that only report (nothing is done to a node): `verify-version`.
READ_ACTIONS = frozenset({"verify-version"})


class DeployReceiver:
    """An aiohttp app on its own loopback port; `requests` records everything it received."""

    def __init__(
        self,
        nodes: NodeDirectory,
        secret: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_skew: float = MAX_SKEW_SECONDS,
        environment: str | None = None,
    ) -> None:
        self.host = host
        self.environment = environment
        self.requests: list[DeployRequest] = []
        self._nodes = nodes
        self._secret = SecretStr(secret)
        self._port = port
        self._max_skew = max_skew
        self._answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self._key_locks: dict[str, asyncio.Lock] = {}
        self._runner: web.AppRunner | None = None

    @property
    def secret(self) -> SecretStr:
        return self._secret

    @secret.setter
    def secret(self, value: str | SecretStr) -> None:
        self._secret = value if isinstance(value, SecretStr) else SecretStr(value)

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The deploy endpoint (what goes into the bot config as `deploy_webhook.url`)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}/deploy"

    @property
    def applied(self) -> list[DeployRequest]:
        return [r for r in self.requests if r.applied]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/deploy", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port, reuse_address=True)
        await site.start()
        self._port = runner.addresses[0][1]
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        key = request.headers.get("Idempotency-Key") or None
        refusal = self._check_signature(request, raw)
        if refusal is not None:
            return self._record(key, None, raw, 401, {"error": refusal})
        try:
            body = json.loads(raw)
        except ValueError:
            return self._record(key, None, raw, 400, {"error": "body is not JSON"})
        if not isinstance(body, dict):
            return self._record(key, None, raw, 400, {"error": "body must be a JSON object"})
        if key is None:
            return self._record(key, body, raw, 400, {"error": "Idempotency-Key is required"})
        lock = self._key_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._answers:
                status, answer = self._answers[key]
                return self._record(key, body, raw, status, answer, replay=True)
            status, answer, applied = await self._act(body)
            self._answers[key] = (status, answer)
            return self._record(key, body, raw, status, answer, applied=applied)

    def _check_signature(self, request: web.Request, raw: bytes) -> str | None:
        timestamp = request.headers.get("X-Parthenon-Timestamp", "")
        signature = request.headers.get("X-Parthenon-Signature", "")
        if not timestamp or not signature:
            return "missing signature"
        try:
            sent_at = int(timestamp)
        except ValueError:
            return "bad timestamp"
        if abs(time.time() - sent_at) > self._max_skew:
            return "stale timestamp"
        expected = sign_deploy_body(self._secret.get_secret_value(), timestamp, raw)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return "bad signature"
        return None

    async def _act(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], bool]:
        action = body.get("action")
        names = body.get("nodes", [])
        environment = body.get("environment")
        if not isinstance(action, str) or not action:
            return 400, {"error": "action is required"}, False
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return 400, {"error": "nodes must be a list of node names"}, False
        if self.environment is not None and environment != self.environment:
            return 400, {"error": f"this deploy system serves {self.environment}"}, False
        if action == CHECK_LOGS:
            return self._check_logs(body, names)
        perform = NODE_ACTIONS.get(action)
        if perform is None and action not in READ_ACTIONS:
            return 200, {"status": "accepted"}, False
        try:
            nodes = [self._nodes.node(name) for name in names]
        except UnknownNodeError as exc:
            return 404, {"error": str(exc)}, False
        if perform is not None:
            for node in nodes:
                await perform(node, body)
        installed = {node.name: node.version for node in nodes}
        answer = {"status": "done", "action": action, "nodes": names, "installed": installed}
        return 200, answer, perform is not None and bool(nodes)

    def _check_logs(
        self, body: dict[str, Any], names: list[str]
    ) -> tuple[int, dict[str, Any], bool]:
        """`check-logs`: the validation errors each named node logged from `since` to `until`."""
        since, until = body.get("since"), body.get("until", time.time())
        if not (_epoch(since) and _epoch(until)):
            return 400, {"error": "since and until are epoch seconds"}, False
        try:
            nodes = [self._nodes.node(name) for name in names]
        except UnknownNodeError as exc:
            return 404, {"error": str(exc)}, False
        report = {
            node.name: {"validation_errors": node.validation_errors_logged(since, until)}
            for node in nodes
        }
        return 200, {"status": "done", "action": CHECK_LOGS, "nodes": report}, False

    def _record(
        self,
        key: str | None,
        body: dict[str, Any] | None,
        raw: bytes,
        status: int,
        answer: dict[str, Any],
        *,
        applied: bool = False,
        replay: bool = False,
    ) -> web.Response:
        self.requests.append(
            DeployRequest(time.time(), key, body, raw, status, answer, applied, replay)
        )
        return web.json_response(answer, status=status)


def _epoch(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
