"""`parthenon-bot serve [--config FILE] [--host H] [--port 3000]`: the bot, serving Slack.

HTTP mode serves POST /slack/events and GET /healthz. With SLACK_APP_TOKEN set it runs Socket
Mode instead (events arrive over a WebSocket the bot opens) and still serves /healthz on the
port. The engine, the notifier and the drill scheduler run in the background. SIGTERM (or
SIGINT) stops it gracefully, all within STOP_DEADLINE of the signal (below every shipped grace
period): /readyz turns 503 and the engine claims no new run at once, while the bot keeps
serving for DRAIN seconds (the load balancer stops routing to it) and the steps in hand go on;
then the listener closes (requests in flight get HTTP_CLOSE), the background loops stop, the
steps still in hand finish or are released (every run stays resumable), after-ack work gets what
is left, and the connections close.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import SlackBot, build_web_app, create_bot
from bot.archiving import run_archiver
from bot.capcheck import log_capabilities
from bot.config import BotConfig, load_config
from bot.configerror import ConfigError
from bot.observability import BotMetrics, setup_logging
from bot.observability.outages import watch_outages
from bot.pager import PagerClient, PagerLoop
from bot.probes import Readiness, SlackAuthCheck
from bot.runtime import Runtime, build_runtime, default_executors
from bot.settings import Settings, SettingsError, load_settings
from bot.slack.socketedge import CheckedSocketModeHandler
from handlers.api import ApiState
from workflows.catalog import origins
from workflows.definition import Definition
from workflows.errors import DefinitionError, WorkflowError
from workflows.nodeerrors import NodeError

__all__ = ["run_serve", "serve"]

log = logging.getLogger("parthenon.serve")

STOP_DEADLINE = 20.0  # seconds from SIGTERM to exit, everything included (grace: 30 s)
DRAIN = 5.0  # seconds /readyz says 503 while the bot still serves (endpoint updates catch up)
HTTP_CLOSE = 3.0  # seconds requests in flight get once the listener closes


def run_serve(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="parthenon-bot serve", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="the bot's YAML config (default: $PARTHENON_BOT_CONFIG)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 in a container)")
    parser.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    parser.add_argument("--drain", type=float, default=DRAIN,
                        help=f"seconds to keep serving with /readyz at 503 after SIGTERM "
                             f"(default {DRAIN:g}; 0 without a load balancer)")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    parser.add_argument("--definitions", type=Path, metavar="DIR",
                        help="a directory of your own workflow definitions, added to the shipped "
                             "ones (one of the same name replaces it); default: the config's "
                             "definitions_dir")
    args = parser.parse_args(list(argv))
    setup_logging(level=args.log_level)
    try:
        settings = load_settings()
        path = args.config or settings.parthenon_bot_config
        if path is None:
            print("parthenon-bot serve: give --config FILE or set PARTHENON_BOT_CONFIG",
                  file=sys.stderr)
            return 2
        config = load_config(Path(path))
        extra = args.definitions or config.definitions_dir
        catalog = origins(extra)
    except (SettingsError, ConfigError, DefinitionError) as exc:
        print(f"parthenon-bot serve: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings, config, level=args.log_level)  # now every secret is known
    for name, (_, origin) in sorted(catalog.items()):
        if origin != "shipped":
            log.info("workflow %s from %s", name, origin)
    try:
        return asyncio.run(serve(settings, config, host=args.host, port=args.port,
                                 definitions={n: d for n, (d, _) in catalog.items()},
                                 drain=max(0.0, min(args.drain, STOP_DEADLINE / 2)),
                                 on_started=freeze_startup_heap))
    except KeyboardInterrupt:
        return 130


def freeze_startup_heap(port: int, bot: SlackBot) -> None:
    """Keep what start-up built (modules, schemas, the app) out of the collector's full passes:
    they are never garbage, and scanning them paused the loop for ~70 ms at a time (acks wait)."""
    gc.collect()
    gc.freeze()


async def serve(
    settings: Settings,
    config: BotConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    definitions: dict[str, Definition] | None = None,
    stop: asyncio.Event | None = None,
    on_started: Callable[[int, SlackBot], None] | None = None,
    drain: float = 0.0,
) -> int:
    """Serve until ``stop`` is set (or a signal arrives); ``on_started(port, bot)`` when up."""
    stop = stop or asyncio.Event()
    _install_signal_handlers(stop)
    metrics = BotMetrics()
    try:
        runtime = await build_runtime(config, settings.redis_url, definitions=definitions,
                                      executors=metrics.instrument(default_executors()))
    except WorkflowError as exc:
        log.error("cannot start: %s", exc)
        return 2
    bot: SlackBot | None = None
    runner: web.AppRunner | None = None
    socket: AsyncSocketModeHandler | None = None
    tasks: list[asyncio.Task[None]] = []
    deadline: float | None = None
    engine_stop: asyncio.Task[None] | None = None
    try:
        bot = await create_bot(settings, runtime, bot_user_id=await _whoami(settings))
        runtime.nodes.observer = metrics.observe_rpc
        metrics.watch_store(runtime.store)
        metrics.watch_engine(runtime.engine)
        metrics.watch_notifier(bot.notifier)
        bot.notifier.observer = metrics
        watch_outages(metrics.registry, [
            (runtime.engine.outage, "redis"), (bot.notifier.outage, "redis"),
            (bot.notifier.slack_outage, "slack"), (bot.drills.outage, "redis")])
        readiness = Readiness(runtime.store.ping, SlackAuthCheck(AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)))
        api = (ApiState(runtime.service, config.api, config.slack.ops_channel,
                        runtime.store.count_request) if config.api.tokens else None)
        web_app = build_web_app(bot, events=not settings.socket_mode, readiness=readiness,
                                metrics=metrics, api=api)
        runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=HTTP_CLOSE)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        bound = int(runner.addresses[0][1]) if runner.addresses else port
        tasks = [
            asyncio.create_task(runtime.engine.run_forever(), name="engine"),
            asyncio.create_task(bot.notifier.run_forever(), name="notifier"),
            asyncio.create_task(bot.drills.run_forever(), name="drills"),
            asyncio.create_task(run_archiver(runtime, until=stop), name="archiver"),
            asyncio.create_task(_log_capabilities(runtime, stop), name="capabilities"),
        ]
        if config.slack_usergroups and bot.usergroups is not None:  # groups from Slack
            tasks.append(asyncio.create_task(bot.usergroups.run_forever(until=stop),
                                             name="usergroups"))
        if config.paging is not None:  # incidents whose severity pages reach the on-call
            pager = PagerLoop(runtime.service, config, PagerClient(config.paging, bot.session))
            tasks.append(asyncio.create_task(pager.run_forever(until=stop), name="pager"))
        if settings.socket_mode and settings.slack_app_token is not None:
            socket = CheckedSocketModeHandler(  # payloads bolt cannot read are acked, not raised
                bot.app,
                settings.slack_app_token.get_secret_value(),
                logger=logging.getLogger("parthenon.socket"),
                web_client=AsyncWebClient(base_url=settings.slack_api_url),
            )
            await socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("serving Socket Mode; /healthz, /readyz, /metrics on %s:%s", host, bound)
        else:
            log.info("serving HTTP on %s:%s (POST /slack/events, /healthz, /readyz, /metrics)",
                     host, bound)
        if on_started is not None:
            on_started(bound, bot)
        await stop.wait()
        deadline = asyncio.get_running_loop().time() + STOP_DEADLINE
        readiness.stopping = True
        log.info("stopping", extra={"drain_seconds": drain})
        # From the signal on no new run is claimed (another replica takes them), while the steps
        # in hand go on and the listener keeps answering Slack for the drain. The engine
        # cancels what is still in hand two seconds before the end, to commit its release.
        engine_stop = asyncio.create_task(
            runtime.engine.stop(max(0.0, STOP_DEADLINE - 2.0)), name="engine-stop")
        await asyncio.sleep(drain)
        return 0
    finally:
        await _shutdown(runtime, bot, runner, socket, tasks, deadline, engine_stop)


async def _log_capabilities(runtime: Runtime, stop: asyncio.Event) -> None:
    """Probe every node once at start and log what it can tell (bot/capcheck.py); a stop
    signal ends the probe at once (it never holds up a shutdown)."""
    names = [node.name for env in runtime.config.environments.values() for node in env.nodes]
    try:
        refused = set(await runtime.guard.refused(names))
    except NodeError:  # Redis away: probe nothing rather than a node that may be refused
        log.warning("node capability probe skipped: the network guard's refusals are unavailable")
        return
    probe = asyncio.create_task(log_capabilities(
        runtime.config, runtime.definitions, runtime.nodes, refused=refused))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({probe, stopped}, return_when=asyncio.FIRST_COMPLETED)
    for task in (probe, stopped):
        task.cancel()
    results = await asyncio.gather(probe, stopped, return_exceptions=True)
    error = results[0]
    if isinstance(error, Exception):  # a probe must never stop the bot
        log.warning("node capability probe failed: %s", type(error).__name__)


async def _shutdown(
    runtime: Runtime,
    bot: SlackBot | None,
    runner: web.AppRunner | None,
    socket: AsyncSocketModeHandler | None,
    tasks: list[asyncio.Task[None]],
    deadline: float | None,
    engine_stop: asyncio.Task[None] | None = None,
) -> None:
    """Events first (nothing new comes in), then the engine and every background loop together,
    then after-ack work, then the connections; all before ``deadline`` (loop time)."""
    loop = asyncio.get_running_loop()
    end = deadline if deadline is not None else loop.time() + STOP_DEADLINE
    # What the connections need to close once the work is done (Redis, the HTTP session).
    reserve = 1.0

    def left() -> float:
        return max(0.0, end - reserve - loop.time())

    if socket is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(socket.close_async(), left())  # type: ignore[no-untyped-call]
    if runner is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runner.cleanup(), left())
    if bot is not None:
        bot.notifier.stop()
        bot.drills.stop()
    if engine_stop is None:  # stopped by an error, not a signal: stop the engine now
        engine_stop = asyncio.create_task(runtime.engine.stop(max(0.0, left() - 1.0)),
                                          name="engine-stop")
    _, pending = await asyncio.wait([engine_stop, *tasks], timeout=left())
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in tasks:  # a loop that died earlier: its error is logged, not raised here
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("%s had stopped with an error: %r", task.get_name(), task.exception())
    if bot is not None:
        await bot.aclose(deadline=left())
    await runtime.aclose()


async def _whoami(settings: Settings) -> str | None:
    """The bot's own user id (so it never invites itself); a failure here is not fatal."""
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(),
                            base_url=settings.slack_api_url)
    try:
        response = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.data.get("error") if isinstance(exc.response.data, dict) else None
        log.error("auth.test failed (%s): check SLACK_BOT_TOKEN", error or exc.response.status_code)
        return None
    except (OSError, TimeoutError) as exc:
        log.warning("Slack unreachable at start (%s); going on", type(exc).__name__)
        return None
    user = response.get("user_id")
    return str(user) if user else None


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
