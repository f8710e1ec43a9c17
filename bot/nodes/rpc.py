"""The node client: JSON-RPC over HTTP, `/health`, `/metrics`, a verified `stop`, and fan-out.

One `NodeClient` per process. JSON-RPC reads share one pooled `aiohttp.ClientSession`; the node
closes a connection after 5 requests or 5 s idle, so the pool keeps idle connections for less
than that and an idempotent read that meets a connection closed under it is re-sent once at once.
`GET /health` and `/metrics`, which the health sampler sends to every node often, go through a
lean keep-alive GET client of their own (`bot.nodes._httpget`, same bounds, same errors). Calls
with side effects (`stop`, `sendtoaddress`, ...) go out on a fresh connection each time and are
repeated only when the node provably never got them (connect refused, 429), because a repeated
`sendtoaddress` is a second payment. Every POST takes a slot in the shared POST budget first.

The client's parts live beside it: one aiohttp exchange and its error mapping in
`bot.nodes.exchange`, the retry policy in `bot.nodes.retries`, the verified stop in
`bot.nodes.stop`, the fan-out over many nodes in `bot.nodes.fanout`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar, overload

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from bot.nodes import fanout
from bot.nodes._httpget import GetPool
from bot.nodes.budget import PostBudget
from bot.nodes.exchange import StaleConnection, exchange
from bot.nodes.jsonrpc import interpret_reply, request_body
from bot.nodes.metrics import NodeMetrics, parse_metrics
from bot.nodes.retries import Retries, RetryPolicy
from bot.nodes.stop import stop_and_verify
from workflows.nodeerrors import (
    BudgetUnavailable,
    NodeAuthError,
    NodeError,
    NodeProtocolError,
    NodeRateLimited,
    NodeServerError,
)
from workflows.nodereplies import NodeHealth, NodeResult, StopResult, Tip
from workflows.ports import READ_METHODS, NodeRef

if TYPE_CHECKING:
    from bot.environments import NodeConfig

__all__ = [
    "DEFAULT_CONCURRENCY",
    "MAX_BODY_BYTES",
    "Block",
    "NodeClient",
    "RpcObserver",
    "Timeouts",
]

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 128
"""Requests in flight at once in `NodeClient.gather` (`bot.nodes.fanout`), unless told
otherwise; it also sizes the pool of JSON-RPC connections."""

MAX_BODY_BYTES = 1 << 20
"""Largest reply body read from a node (1 MiB); a larger one is a protocol error."""


_T = TypeVar("_T")
_N = TypeVar("_N", bound=NodeRef)  # a fan-out only names its nodes


@dataclass(frozen=True)
class Timeouts:
    """Seconds. `call` and `health` bound one attempt from connect to the last byte."""

    call: float = 10.0
    connect: float = 3.0
    health: float = 5.0
    stop: float = 5.0  # the `stop` request itself: it may hang while the node winds down
    stop_verify: float = 15.0  # how long to watch for the node going down after `stop`
    stop_poll: float = 0.25


class Block(BaseModel):
    """The part of `getblock` the bot relies on."""

    model_config = ConfigDict(extra="allow")

    hash: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    height: int = Field(ge=1)


class RpcObserver(Protocol):
    """Told about every exchange with a node (metrics): node name, method (or "GET /health"),
    seconds the attempt took (including its wait for the POST budget), the error code or None."""

    def __call__(self, node: str, method: str, seconds: float, error: str | None) -> None: ...


class NodeClient:
    """Talks to ParthenonChain nodes; use as `async with NodeClient(...) as client`."""

    def __init__(
        self,
        *,
        budget: PostBudget | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_body: int = MAX_BODY_BYTES,
        keepalive: float = 4.0,
        observer: RpcObserver | None = None,
    ) -> None:
        self.budget = budget
        self.observer = observer
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self.concurrency = concurrency
        self.max_body = max_body
        self._keepalive = keepalive
        self._pooled: aiohttp.ClientSession | None = None
        self._fresh: aiohttp.ClientSession | None = None
        self._gets = GetPool(
            max_body=max_body, connect_timeout=self.timeouts.connect, keepalive=keepalive
        )
        self._retries = Retries(self.retry)
        self._adapters: dict[Any, TypeAdapter[Any]] = {}

    async def __aenter__(self) -> Self:
        self._sessions()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for session in (self._pooled, self._fresh):
            if session is not None:
                await session.close()
        self._pooled = self._fresh = None
        await self._gets.aclose()

    def _sessions(self) -> tuple[aiohttp.ClientSession, aiohttp.ClientSession]:
        if self._pooled is None or self._fresh is None:
            headers = {"User-Agent": "parthenon-bot"}
            timeout = aiohttp.ClientTimeout(total=None, connect=self.timeouts.connect)
            self._pooled = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=max(2 * self.concurrency, 100), keepalive_timeout=self._keepalive
                ),
                headers=headers,
                timeout=timeout,
            )
            self._fresh = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True, limit=0),
                headers=headers,
                timeout=timeout,
            )
        return self._pooled, self._fresh

    @property
    def get_connections_opened(self) -> int:
        """Connections opened for GET /health and /metrics so far (the bench shows them)."""
        return self._gets.opened

    # ------------------------------------------------------------------ JSON-RPC

    @overload
    async def call(
        self,
        node: NodeConfig,
        method: str,
        params: Sequence[Any] | dict[str, Any] | None = None,
        *,
        expect: None = None,
        idempotent: bool | None = None,
        attempt_timeout: float | None = None,
        retry: bool = True,
    ) -> Any: ...

    @overload
    async def call(
        self,
        node: NodeConfig,
        method: str,
        params: Sequence[Any] | dict[str, Any] | None = None,
        *,
        expect: type[_T],
        idempotent: bool | None = None,
        attempt_timeout: float | None = None,
        retry: bool = True,
    ) -> _T: ...

    async def call(
        self,
        node: NodeConfig,
        method: str,
        params: Sequence[Any] | dict[str, Any] | None = None,
        *,
        expect: type[Any] | None = None,
        idempotent: bool | None = None,
        attempt_timeout: float | None = None,
        retry: bool = True,
    ) -> Any:
        """Call `method` on `node` and return its result (validated as `expect`, if given).

        `idempotent` defaults to whether the method is in READ_METHODS; it decides which
        failures may be retried. `attempt_timeout` bounds each attempt (default
        Timeouts.call); `retry=False` makes exactly one attempt.
        """
        is_read = method in READ_METHODS if idempotent is None else idempotent
        sent_params: list[Any] | dict[str, Any] = (
            dict(params) if isinstance(params, dict) else list(params or [])
        )
        per_attempt = self.timeouts.call if attempt_timeout is None else attempt_timeout
        result: Any = await self._retries.run(
            is_read, retry, self._post, node, method, sent_params, per_attempt, is_read, True
        )
        if expect is None:
            return result
        return self._validate(node, method, result, expect)

    async def genesis_hash(self, node: NodeConfig) -> str:
        """`getblock [1].hash`: the only thing that says which network a node is on."""
        block = await self.call(node, "getblock", [1], expect=Block)
        return block.hash.lower()

    async def tip(self, node: NodeConfig) -> Tip:
        """The best height and its block hash (two POSTs: there is no getbestblockhash)."""
        height = await self.call(node, "getblockcount", [], expect=int)
        block = await self.call(node, "getblock", [height], expect=Block)
        return Tip(height, block.hash.lower())

    async def auth_required(self, node: NodeConfig) -> bool:
        """Whether the node refuses a JSON-RPC call sent without credentials (it must)."""
        try:
            await self._retries.run(
                True, True, self._post, node, "getblockcount", [], self.timeouts.call, True, False
            )
        except NodeAuthError:
            return True
        return False

    # ------------------------------------------------------------------ GET routes

    async def health(
        self, node: NodeConfig, *, retry: bool = True, attempt_timeout: float | None = None
    ) -> NodeHealth:
        """`GET /health` (no auth, not rate-limited: this is what to poll). `attempt_timeout`
        bounds each attempt (default Timeouts.health)."""
        seconds = self.timeouts.health if attempt_timeout is None else attempt_timeout
        body: bytes = await self._retries.run(True, retry, self._get, node, "/health", seconds)
        return self._health_of(node, body)

    async def health_fields(self, node: NodeConfig) -> tuple[str, ...]:
        """The field names of the node's `GET /health` object, as it answers them (probing)."""
        body: bytes = await self._retries.run(
            True, False, self._get, node, "/health", self.timeouts.health
        )
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise NodeProtocolError(
                node.name, "wrong_shape", "/health is not a JSON object", method="GET /health"
            )
        return tuple(sorted(str(key) for key in document))

    async def metrics(self, node: NodeConfig, *, retry: bool = True) -> NodeMetrics:
        """`GET /metrics`, read leniently line by line (the node's text is not valid exposition)."""
        body: bytes = await self._retries.run(
            True, retry, self._get, node, "/metrics", self.timeouts.health
        )
        return parse_metrics(body.decode("utf-8", errors="replace"))

    # ------------------------------------------------------------------ stop

    async def stop(
        self,
        node: NodeConfig,
        *,
        stop_timeout: float | None = None,
        verify: float | None = None,
    ) -> StopResult:
        """`stop`, then a look at the node to say what happened (`bot.nodes.stop`)."""
        return await stop_and_verify(self, node, stop_timeout=stop_timeout, verify=verify)

    # ------------------------------------------------------------------ fan-out

    async def gather(
        self,
        nodes: Iterable[_N],
        fn: Callable[[_N], Awaitable[_T]],
        *,
        limit: int | None = None,
    ) -> list[NodeResult[_T]]:
        """`fn(node)` for every node, at most `limit` (default: `concurrency`) at once, results
        in node order, a NodeError as that node's result (`bot.nodes.fanout`)."""
        return await fanout.gather(nodes, fn, limit=limit or self.concurrency)

    # ------------------------------------------------------------------ internals

    async def _post(
        self,
        node: NodeConfig,
        method: str,
        params: list[Any] | dict[str, Any],
        seconds: float,
        idempotent: bool,
        authenticate: bool,
    ) -> Any:
        return await self._observed(
            node, method, self._post_once(node, method, params, seconds, idempotent, authenticate)
        )

    async def _get(self, node: NodeConfig, path: str, seconds: float) -> bytes:
        result: bytes = await self._observed(
            node, f"GET {path}", self._get_once(node, path, seconds)
        )
        return result

    async def _observed(self, node: NodeConfig, what: str, attempt: Awaitable[_T]) -> _T:
        """Run one attempt and tell the observer how long it took and how it ended (an
        attempt cut short by cancellation is not reported)."""
        if self.observer is None:
            return await attempt
        started = time.perf_counter()
        ended = False
        error: str | None = None
        try:
            result = await attempt
            ended = True
            return result
        except NodeError as exc:
            ended, error = True, exc.code
            raise
        except Exception:
            ended, error = True, "unexpected"
            raise
        finally:
            if ended:
                self.observer(node.name, what, time.perf_counter() - started, error)

    async def _post_once(
        self,
        node: NodeConfig,
        method: str,
        params: list[Any] | dict[str, Any],
        seconds: float,
        idempotent: bool,
        authenticate: bool,
    ) -> Any:
        """One attempt (plus one immediate re-send of a read that met a stale connection)."""
        request_id = uuid.uuid4().hex
        body = request_body(request_id, method, params)
        headers = {"Content-Type": "application/json"}
        if authenticate:
            headers.update(_auth_headers(node))
        pooled, fresh = self._sessions()
        session = pooled if idempotent else fresh
        for fresh_try in (False, True):
            if self.budget is not None:
                await self.budget.acquire(node.name)
            try:
                status, raw = await exchange(
                    session,
                    "POST",
                    node,
                    node.rpc_url + "/",
                    seconds,
                    method,
                    max_body=self.max_body,
                    data=body,
                    headers=headers,
                )
            except StaleConnection as stale:
                if idempotent and not fresh_try:
                    log.debug("node %s: re-sending %s after a closed connection", node.name, method)
                    continue
                raise stale.error from None
            break
        if status == 429:
            wait = self.retry.rate_window
            if self.budget is not None:
                with contextlib.suppress(BudgetUnavailable):  # the 429 is the news, not Redis
                    wait = await self.budget.penalize(node.name)
            raise NodeRateLimited(
                node.name,
                f"HTTP 429: the node's rate limit is spent; allowed again in about {wait:.0f} s",
                retry_after=wait,
                local=False,
                method=method,
            )
        creds = node.credentials if authenticate else None
        user = creds.user if creds is not None else None
        return interpret_reply(node.name, method, request_id, status, raw, user=user)

    async def _get_once(self, node: NodeConfig, path: str, seconds: float) -> bytes:
        status, raw = await self._gets.get(node.name, node.rpc_url, path, seconds)
        if status >= 500:
            raise NodeServerError(node.name, status, method=f"GET {path}")
        if status != 200:
            raise NodeProtocolError(
                node.name, "unexpected_status", f"HTTP {status}", method=f"GET {path}"
            )
        return raw

    def _health_of(self, node: NodeConfig, body: bytes) -> NodeHealth:
        try:
            return NodeHealth.model_validate_json(body)
        except ValidationError:
            raise NodeProtocolError(
                node.name,
                "wrong_shape",
                "/health is not the expected JSON object",
                method="GET /health",
            ) from None

    def _validate(self, node: NodeConfig, method: str, result: Any, expect: type[_T]) -> _T:
        adapter = self._adapters.get(expect)
        if adapter is None:
            adapter = self._adapters[expect] = TypeAdapter(expect)
        try:
            value: _T = adapter.validate_python(result, strict=True)
        except ValidationError:
            shown = type(result).__name__
            raise NodeProtocolError(
                node.name,
                "wrong_result_type",
                f"the result is a {shown}, not the expected {getattr(expect, '__name__', expect)}",
                method=method,
            ) from None
        return value


def _auth_headers(node: NodeConfig) -> dict[str, str]:
    """The Basic auth header for the node's credentials (built here: never logged)."""
    creds = node.credentials
    if creds is None:
        return {}
    pair = f"{creds.user}:{creds.password.get_secret_value()}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

