"""The Slack app, built in one factory: the bolt ``AsyncApp`` with its listeners and its one
error handler, the Web API clients (base URL from SLACK_API_URL), the notifier, and the aiohttp
application that serves ``POST /slack/events`` and the ops routes (``/healthz``, ``/readyz``,
``/metrics`` from ``bot.probes``).

The app runs listeners to completion before answering (``process_before_response``): a listener
records the command in Redis and acks, so the command is durable before Slack gets its 200, and
no Web API call happens before it: authorization uses the configured token without calling
``auth.test`` per request, and everything that talks to Slack or to nodes is deferred after the
ack.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.configerror import ConfigError
from bot.observability import BotMetrics
from bot.probes import Readiness, add_ops_routes
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack.deferred import Deferred
from bot.slack.envelope import Refused, read_envelope
from bot.slack.errors import GrammarError, SlackEdgeError
from bot.slack.escape import code, trusted_mentions
from bot.slack.escape import text as free_text
from bot.slack.ids import SLASH_COMMAND
from bot.slack.notifier import Notifier
from bot.slack.pressure import RequestPressure
from bot.slack.unrecorded import NOT_RECORDED, is_store_outage
from bot.slack.views import notice
from bot.usergroups import UserGroupSync
from handlers.api import ApiState, add_api_routes
from handlers.context import HandlerContext
from handlers.replies import tell
from handlers.routes import register_handlers
from handlers.workflow_forms import Catalog
from workflows.drillscheduler import DrillBook, DrillScheduler
from workflows.errors import WorkflowError

__all__ = ["BOT_KEY", "SlackBot", "build_web_app", "create_bot", "describe_error"]

BOT_KEY: web.AppKey[SlackBot] = web.AppKey("parthenon_bot")

log = logging.getLogger("parthenon.slack")

_KNOWN = (WorkflowError, SlackEdgeError, ConfigError)


@dataclass
class SlackBot:
    settings: Settings
    runtime: Runtime
    app: AsyncApp
    client: AsyncWebClient  # for after-ack work: retries a 429 once, 5xx and dropped connections
    notifier: Notifier
    deferred: Deferred
    context: HandlerContext
    drills: DrillScheduler
    session: aiohttp.ClientSession
    bot_user_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    usergroups: UserGroupSync | None = None  # groups that follow Slack user groups

    async def aclose(self, deadline: float = 5.0) -> None:
        """Stop the notifier, let after-ack work finish within ``deadline``, close the session."""
        self.notifier.stop()
        self.drills.stop()
        await self.deferred.aclose(deadline)
        await self.session.close()


async def create_bot(
    settings: Settings,
    runtime: Runtime,
    *,
    bot_user_id: str | None = None,
    notifier_interval: float = 1.0,
    notifier_poll: float = 0.25,
) -> SlackBot:
    """Build the app; call inside the event loop that will serve it."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    token = settings.slack_bot_token.get_secret_value()
    base = settings.slack_api_url
    after_ack = AsyncWebClient(
        token=token,
        base_url=base,
        session=session,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            AsyncServerErrorRetryHandler(max_retry_count=1),
        ],
    )
    # The notifier handles 429 and 5xx itself (it coalesces while it waits), so: no retries.
    for_notifier = AsyncWebClient(token=token, base_url=base, session=session, retry_handlers=[])
    # Bolt's own client carries no token: requests are authorized by ``authorize`` below,
    # which answers from the settings instead of calling auth.test before the first ack.
    for_bolt = AsyncWebClient(base_url=base, session=session)

    async def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            bot_token=token,
            bot_user_id=bot_user_id,
        )

    signing = settings.slack_signing_secret
    app = AsyncApp(
        name="parthenon-bot",
        client=for_bolt,
        authorize=authorize,
        signing_secret=signing.get_secret_value() if signing is not None else None,
        request_verification_enabled=signing is not None,
        process_before_response=True,
        logger=logging.getLogger("parthenon.bolt"),
    )
    deferred = Deferred(log)
    pressure = RequestPressure()
    drills = DrillScheduler(DrillBook(runtime.store))
    notifier = Notifier(
        runtime.store,
        for_notifier,
        runtime.config,
        known_workflows=runtime.definitions,
        drills=drills,
        min_interval=notifier_interval,
        poll=notifier_poll,
        turn=pressure.background,
    )
    usergroups = UserGroupSync(runtime.config, after_ack, runtime.store)
    ctx = HandlerContext(
        service=runtime.service,
        config=runtime.config,
        nodes=runtime.nodes,
        client=after_ack,
        deferred=deferred,
        catalog=Catalog.from_definitions(runtime.definitions),
        drills=drills.book,
        wake_notifier=notifier.wake,
        log=log,
        describe_error=describe_error,
        pressure=pressure,
        guard=runtime.guard,
        cards=runtime.store.cards,
        names=runtime.store.names,
        usergroups_changed=usergroups.changed,
    )
    register_handlers(app, ctx)
    app.error(_error_handler(ctx))
    return SlackBot(settings, runtime, app, after_ack, notifier, deferred, ctx, drills, session,
                    bot_user_id, usergroups=usergroups)


# --- the one error handler ---------------------------------------------------------------------


def describe_error(error: Exception, people: frozenset[str] = frozenset()) -> tuple[str, str]:
    """(what to show the person, the code logged). Known errors say what was wrong; anything
    else gets an error id, logged with its traceback and shown, so the two can be matched."""
    if isinstance(error, GrammarError):
        usage = f"\nUsage: {code(f'{SLASH_COMMAND} {error.usage}')}" if error.usage else ""
        return f":no_entry_sign: {free_text(error.message, 2000)}{usage}", error.code
    if isinstance(error, _KNOWN):
        code_ = str(getattr(error, "code", "error"))
        return f":no_entry_sign: {trusted_mentions(str(error), people, 2500)}", code_
    if is_store_outage(error):  # nothing was recorded: say so, and log no traceback
        log.warning("not recorded, Redis unreachable: %s", type(error).__name__)
        return NOT_RECORDED, "store_unreachable"
    error_id = secrets.token_hex(4)
    log.error("unhandled error %s: %s", error_id, type(error).__name__, exc_info=error,
              extra={"error_id": error_id})
    text = (f":boom: Something went wrong on our side (error id {code(error_id)}). "
            "It was logged; give the id to the bot's operators.")
    return text, f"unhandled:{error_id}"


def _error_handler(ctx: HandlerContext) -> Any:
    async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        text, why = describe_error(error, ctx.people)
        if isinstance(error, _KNOWN):
            log.info("refused (%s) for %s", why, _user(body))
        kind = _kind(body)
        if kind == "command":
            payload = {"response_type": "ephemeral", "text": text, "blocks": notice(text).blocks}
            return _json(payload)
        if kind == "view_submission":
            block = _error_block(body, str(error))
            if block is not None:
                return _json({"response_action": "errors", "errors": {block: text[:1000]}})
        user = _user(body)
        if user:
            channel = (body.get("channel") or {}).get("id") or (
                body.get("container") or {}).get("channel_id")
            ctx.deferred.spawn(
                tell(ctx.client, notice(text), user=user, channel=channel,
                     response_url=body.get("response_url")),
                f"error-answer:{why}",
            )
        # A refusal is handled (and audited): 200. Anything else was not: a 200 would tell Slack
        # (and the chaos suite) that a click or an event was taken when it was lost; a 500 makes
        # Slack show the click failed, and Slack redelivers events.
        return BoltResponse(status=200 if isinstance(error, _KNOWN) else 500, body="")

    return on_error


def _json(payload: dict[str, Any]) -> BoltResponse:
    return BoltResponse(status=200, body=json.dumps(payload),
                        headers={"content-type": "application/json"})


def _kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return "command"
    return str(body.get("type", ""))


def _user(body: dict[str, Any]) -> str | None:
    if "user_id" in body:
        return str(body["user_id"])
    user = body.get("user")
    if isinstance(user, dict) and user.get("id"):
        return str(user["id"])
    return None


def _error_block(body: dict[str, Any], message: str) -> str | None:
    """The input a modal error belongs to: the one whose label it names, else the first."""
    inputs = [b for b in (body.get("view") or {}).get("blocks", []) if b.get("type") == "input"]
    for block in inputs:
        label = str((block.get("label") or {}).get("text", ""))
        if label and label in message:
            return str(block.get("block_id"))
    return str(inputs[0].get("block_id")) if inputs else None


# --- HTTP --------------------------------------------------------------------------------------


async def _events(request: web.Request) -> web.Response:
    timestamp = request.headers.get("X-Slack-Request-Timestamp")
    if timestamp is not None and not timestamp.strip().isdigit():
        # slack_sdk's verifier raises on a timestamp that is not a number (an unhandled error,
        # answered 200): refuse it as the unsigned request it is.
        return web.json_response({"error": "invalid request"}, status=401)
    bot = request.app[BOT_KEY]
    with bot.context.pressure.serving():  # work that can wait gives way meanwhile
        # bolt parses the body (and builds its context from it) before it checks the signature,
        # assuming a JSON object of Slack's shape: anyone could make it raise (a 500 and a
        # traceback per request). Here the signature is checked first, on the raw bytes, then
        # the body's shape (bot.slack.envelope); what fails either is refused quietly.
        raw = await request.read()
        signing = bot.settings.slack_signing_secret
        if signing is not None and not SignatureVerifier(signing.get_secret_value()).is_valid(
                raw, timestamp, request.headers.get("X-Slack-Signature")):
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _refused("not UTF-8")
        envelope = read_envelope(text, request.content_type)
        if isinstance(envelope, Refused):
            return _refused(envelope.reason)
        bolt_request = AsyncBoltRequest(body=text, query=request.query_string,
                                        headers=dict(request.headers))
        bolt_response = await bot.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)


def _refused(reason: str) -> web.Response:
    log.debug("refused a signed request: %s", reason)
    return web.json_response({"error": "invalid request", "reason": reason}, status=400)


def build_web_app(
    bot: SlackBot,
    *,
    events: bool = True,
    readiness: Readiness | None = None,
    metrics: BotMetrics | None = None,
    api: ApiState | None = None,
) -> web.Application:
    """The HTTP side: POST /slack/events (unless Socket Mode carries the events), the ops
    routes /healthz, /readyz, /metrics (bot.probes), and the run API under /api/v1/ when the
    config has API tokens (handlers.api)."""
    web_app = web.Application(client_max_size=1024 * 1024)
    web_app[BOT_KEY] = bot
    if events:
        web_app.router.add_post("/slack/events", _events)
    add_ops_routes(web_app, readiness=readiness, metrics=metrics)
    if api is not None:
        add_api_routes(web_app, api)
    return web_app
