"""The run API under `/api/v1/` on serve's port: pipelines start and follow runs over JSON.

Thin like the Slack listeners: authenticate the bearer token (constant-time, never logged),
count it against its per-minute budget (in Redis, so all replicas share it), parse the body, call
the workflow service as `api:<token name>`, answer JSON. Refusals carry the same text Slack shows,
with 400 (bad input), 403 (not this token's workflow), 409 (policy: a lock, a freeze).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from bot.apiconfig import ApiConfig, ApiToken, api_actor
from bot.apiviews import OPENAPI, run_document, run_summary
from workflows import dedupkeys
from workflows.errors import (
    EnvironmentLocked,
    InvalidCommand,
    InvalidParameters,
    NotAuthorized,
    PromotionFrozen,
    RunNotFound,
    WorkflowError,
)
from workflows.service import WorkflowService

__all__ = ["API_STATE", "ApiState", "add_api_routes"]

log = logging.getLogger("parthenon.api")

MAX_BODY = 64 * 1024
_IDEMPOTENCY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class ApiState:
    service: WorkflowService
    config: ApiConfig
    channel: str | None  # where an API-started run's card is posted (the ops channel)
    # (token name, minute) -> the token's requests in that minute, this one included; counted
    # in Redis, so all replicas share the budget (``RunStore.count_request``)
    count_request: Callable[[str, int], Awaitable[int]]


API_STATE = web.AppKey("parthenon_api", ApiState)


def add_api_routes(app: web.Application, state: ApiState) -> None:
    app[API_STATE] = state
    app.router.add_get("/api/v1/openapi.json", _openapi)
    app.router.add_post("/api/v1/runs", _start)
    app.router.add_get("/api/v1/runs", _list)
    app.router.add_get("/api/v1/runs/{run_id}", _get)


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status,
                             headers=headers or None)


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


async def _authenticate(request: web.Request) -> ApiToken | web.Response:
    """The token the request carries, or the 401/429/503 to answer instead."""
    state = request.app[API_STATE]
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return _error(401, "unauthenticated", "send Authorization: Bearer <token>",
                      **{"WWW-Authenticate": 'Bearer realm="parthenon-bot"'})
    found: ApiToken | None = None
    for token in state.config.tokens:  # every token compared, in constant time each
        if hmac.compare_digest(presented.strip().encode(), token.secret.get_secret_value()
                               .encode()):
            found = token
    if found is None:
        log.warning("run API: a request with an unknown token was refused",
                    extra={"path": request.path})
        return _error(401, "unauthenticated", "unknown token",
                      **{"WWW-Authenticate": 'Bearer realm="parthenon-bot", '
                                             'error="invalid_token"'})
    try:
        count = await state.count_request(found.name, int(time.time() // 60))
    except (RedisError, OSError):
        return _error(503, "unavailable", "Redis is unreachable: nothing was recorded, try again")
    if count > state.config.requests_per_minute:
        retry = 60 - int(time.time()) % 60
        return _error(429, "rate_limited",
                      f"more than {state.config.requests_per_minute} requests this minute",
                      **{"Retry-After": str(max(1, retry))})
    return found


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _error(400, "invalid_body", f"the body is larger than {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        return _error(400, "invalid_body", f"the body is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return _error(400, "invalid_body", "the body is not JSON")
    if not isinstance(body, dict):
        return _error(400, "invalid_body", "the body is not a JSON object")
    unknown = sorted(set(body) - {"workflow", "params"})
    if unknown:
        return _error(400, "invalid_body", f"unknown field(s): {', '.join(unknown)}")
    workflow, params = body.get("workflow"), body.get("params", {})
    if not isinstance(workflow, str) or not workflow:
        return _error(400, "invalid_body", "workflow: a workflow name is required")
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in params.items()
    ):
        return _error(400, "invalid_body", "params: an object of strings (name: value)")
    return {"workflow": workflow, "params": params}


async def _start(request: web.Request) -> web.Response:
    token = await _authenticate(request)
    if isinstance(token, web.Response):
        return token
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    state = request.app[API_STATE]
    workflow: str = body["workflow"]
    if workflow in state.service.definitions and workflow not in token.start:
        await state.service.audit_refused_start(
            api_actor(token.name), workflow, f"token {token.name} may not start {workflow}")
        return _error(403, NotAuthorized.code,
                      f"the token {token.name} may not start {workflow} runs "
                      f"(it may start: {', '.join(token.start)})")
    idempotency = request.headers.get("Idempotency-Key")
    if idempotency is not None and not _IDEMPOTENCY.fullmatch(idempotency):
        return _error(400, "invalid_body", "Idempotency-Key: 1-128 of A-Z a-z 0-9 . _ : -")
    dedup = dedupkeys.api_start(token.name, idempotency) if idempotency else None
    try:
        run = await state.service.start(workflow, body["params"], actor=api_actor(token.name),
                                        channel=state.channel, dedup_key=dedup)
    except InvalidParameters as exc:
        return _error(400, exc.code, str(exc))
    except NotAuthorized as exc:
        return _error(403, exc.code, str(exc))
    except (EnvironmentLocked, PromotionFrozen, InvalidCommand) as exc:
        return _error(409, exc.code, str(exc))
    except (RedisError, OSError):
        return _error(503, "unavailable", "Redis is unreachable: nothing was recorded, try again")
    log.info("run API: %s started %s", api_actor(token.name), run.id,
             extra={"run_id": run.id, "workflow": workflow})
    return web.json_response(run_document(run, None), status=201,
                             headers={"Location": f"/api/v1/runs/{run.id}"})


async def _get(request: web.Request) -> web.Response:
    token = await _authenticate(request)
    if isinstance(token, web.Response):
        return token
    state = request.app[API_STATE]
    run_id = request.match_info["run_id"]
    if not _RUN_ID.fullmatch(run_id):
        return _error(404, RunNotFound.code, "no such run")
    try:
        run = await state.service.find(run_id)
        card = await state.service.card_of(run_id) if run is not None else None
    except (RedisError, OSError):
        return _error(503, "unavailable", "Redis is unreachable, try again")
    except WorkflowError as exc:
        return _error(500, exc.code, str(exc))
    if run is None:
        return _error(404, RunNotFound.code, f"no run {run_id}")
    return web.json_response(run_document(run, card))


async def _list(request: web.Request) -> web.Response:
    token = await _authenticate(request)
    if isinstance(token, web.Response):
        return token
    state = request.app[API_STATE]
    which = request.query.get("status", "active")
    try:
        if which == "active":
            runs = await state.service.active_runs(200, ended_too=True)
        elif which == "recent":
            runs = await state.service.recent_runs(50)
        else:
            return _error(400, "invalid_query", "status: active or recent")
    except (RedisError, OSError):
        return _error(503, "unavailable", "Redis is unreachable, try again")
    return web.json_response({"runs": [run_summary(run) for run in runs]})
