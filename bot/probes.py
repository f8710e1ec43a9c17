"""`/healthz`, `/readyz` and `/metrics`: what Kubernetes, a load balancer and Prometheus ask.

- `/healthz`: the process's event loop answers (liveness; stays 200 while stopping, so a
  graceful stop is never cut short by a liveness kill).
- `/readyz`: Redis answers a PING, Slack did not refuse the bot token (`auth.test`, cached
  briefly, so probes do not spend Slack's rate limit), and the process is not stopping; else 503
  with the reason per dependency. Slack being unreachable (no answer, 5xx, 429) is reported as
  `degraded: ...` but keeps the pod ready: every replica sees the same outage, and taking them
  all out of the Service would only drop the events Slack still sends.
- `/metrics`: Prometheus text from the process's own registry (`bot.observability.BotMetrics`).

`add_ops_routes` mounts them on the Slack app's aiohttp application (`bot.app.build_web_app`),
which serve runs on its port in both modes (in Socket Mode without `/slack/events`).
`build_ops_app` and `start_ops_server` serve the routes alone (tests, a separate metrics port).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.observability.metrics import BotMetrics

__all__ = [
    "OPS_STATE",
    "OpsState",
    "Readiness",
    "SlackAuthCheck",
    "add_ops_routes",
    "build_ops_app",
    "start_ops_server",
]

log = logging.getLogger(__name__)

Ping = Callable[[], Awaitable[Any]]


class SlackAuthCheck:
    """`auth.test` with its answer kept for `ttl` seconds (a failure only for `fail_ttl`)."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl: float = 60.0,
        fail_ttl: float = 10.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._fail_ttl = fail_ttl
        self._timeout = timeout
        self._clock = clock
        self._cached: tuple[float, bool, str] | None = None
        self._lock = asyncio.Lock()
        self.unreachable = False  # the last failure was Slack not answering, not a refusal

    async def check(self) -> tuple[bool, str]:
        """(ok, "ok" or why not); at most one auth.test in flight, one per ttl."""
        async with self._lock:
            now = self._clock()
            if self._cached is not None:
                at, ok, detail = self._cached
                if now - at < (self._ttl if ok else self._fail_ttl):
                    return ok, detail
            ok, detail = await self._ask()
            self._cached = (self._clock(), ok, detail)
            return ok, detail

    async def _ask(self) -> tuple[bool, str]:
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.auth_test()
        except SlackApiError as exc:
            data = exc.response.data
            error = data.get("error") if isinstance(data, dict) else None
            status = exc.response.status_code
            self.unreachable = status >= 500 or status == 429
            return False, f"slack auth.test: {error or f'HTTP {status}'}"
        except TimeoutError:
            self.unreachable = True
            return False, "slack auth.test: no answer in time"
        except aiohttp.ClientError as exc:
            self.unreachable = True
            return False, f"slack auth.test: {type(exc).__name__}"
        self.unreachable = False
        return True, "ok"


@dataclass
class Readiness:
    """Ready = Redis answers, Slack auth holds, and the process is not shutting down."""

    redis_ping: Ping
    slack: SlackAuthCheck | None = None
    redis_timeout: float = 2.0
    stopping: bool = False
    extra: dict[str, Callable[[], Awaitable[tuple[bool, str]]]] = field(default_factory=dict)

    async def check(self) -> tuple[bool, dict[str, str]]:
        checks: dict[str, str] = {}
        if self.stopping:
            checks["process"] = "stopping"
        checks["redis"] = await self._redis()
        degraded: set[str] = set()
        if self.slack is not None:
            ok, checks["slack"] = await self.slack.check()
            if not ok and self.slack.unreachable:  # an outage every replica shares
                checks["slack"] = f"degraded: {checks['slack']}"
                degraded.add("slack")
        for name, probe in self.extra.items():
            _, checks[name] = await probe()
        ready = all(v == "ok" or k in degraded for k, v in checks.items())
        return ready, checks

    async def _redis(self) -> str:
        try:
            async with asyncio.timeout(self.redis_timeout):
                await self.redis_ping()
        except TimeoutError:
            return "redis: no answer in time"
        except (RedisError, OSError) as exc:
            return f"redis: {type(exc).__name__}"
        return "ok"


@dataclass
class OpsState:
    readiness: Readiness | None
    metrics: BotMetrics | None


OPS_STATE = web.AppKey("parthenon_ops", OpsState)


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    state = request.app[OPS_STATE]
    if state.readiness is None:
        return web.json_response({"status": "ready", "checks": {}})
    ok, checks = await state.readiness.check()
    body: Mapping[str, Any] = {"status": "ready" if ok else "not ready", "checks": checks}
    return web.json_response(body, status=200 if ok else 503)


async def _metrics(request: web.Request) -> web.Response:
    state = request.app[OPS_STATE]
    if state.metrics is None:
        raise web.HTTPNotFound(text="metrics are not enabled in this process")
    await state.metrics.refresh()
    return web.Response(body=state.metrics.exposition(), headers={
        "Content-Type": CONTENT_TYPE_LATEST,
    })


def add_ops_routes(
    app: web.Application,
    *,
    readiness: Readiness | None = None,
    metrics: BotMetrics | None = None,
) -> OpsState:
    """Mount `/healthz`, `/readyz`, `/metrics` on ``app``; the returned state can be flipped to
    stopping (`state.readiness.stopping = True`) when SIGTERM arrives."""
    state = OpsState(readiness, metrics)
    app[OPS_STATE] = state
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    return state


def build_ops_app(
    *, readiness: Readiness | None = None, metrics: BotMetrics | None = None
) -> web.Application:
    """An application with only the ops routes (Socket Mode has no HTTP app of its own)."""
    app = web.Application()
    add_ops_routes(app, readiness=readiness, metrics=metrics)
    return app


async def start_ops_server(
    app: web.Application, *, host: str = "0.0.0.0", port: int = 3000  # noqa: S104 - in a pod
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on host:port (0 = any free port); returns the runner and the bound port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    addresses = runner.addresses
    return runner, int(addresses[0][1]) if addresses else port
