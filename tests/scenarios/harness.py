"""The whole bot served for real, driven like Slack drives it.

The bot listens on 127.0.0.1 (port 0) over aiohttp; requests are signed exactly as Slack signs
them (v0 HMAC-SHA256 of ``v0:{timestamp}:{body}``); its Web API calls go to the stand-in Slack on
another port; the engine and the notifier run in the background on a real Redis. Buttons are
pressed by taking them from the messages the bot actually posted, modals are submitted from the
views it actually opened.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web

from bot.app import SlackBot, build_web_app, create_bot
from bot.config import BotConfig, parse_config
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings, load_settings
from bot.slack.payloads import ButtonValue
from bot.testing import signing
from bot.testing.slackworkspace import OpenedView, PostedMessage
from bot.testing.standin import SlackStandIn
from handlers.api import ApiState
from workflows.connection import connect
from workflows.definition import Definition
from workflows.drills import DrillKind, DrillRecord
from workflows.drillscheduler import DrillBook
from workflows.engine import EngineSettings
from workflows.model import Run, RunStatus

BOT_TOKEN = "xoxb-1111-2222-scenario-bot-token-do-not-leak"
APP_TOKEN = "xapp-1-A0PARTHENON-3333-scenario-app-token-do-not-leak"
SIGNING_SECRET = "8f3e0c1d-scenario-signing-secret-do-not-leak"
OPS = "C0OPS"

RELEASE_MANAGERS = ("URM0001", "URM0002", "URM0003")
OPERATOR = "UOP0001"
RESPONDERS = ("URESP01", "URESP02")
OUTSIDER = "UOUT001"

CONFIG = f"""
environments:
  testnet:
    network: testnet
    rpc_credentials: {{user: parthenon, password_env: SCENARIO_RPC_PASSWORD}}
    nodes:
      - {{name: test-1, rpc_url: "http://127.0.0.1:9", role: miner, canary: true}}
      - {{name: test-2, rpc_url: "http://127.0.0.1:10", role: validator}}
groups:
  release-managers: [{", ".join(RELEASE_MANAGERS)}]
  operators: [{OPERATOR}, URM0001]
  security: [USEC001]
  responders: [{", ".join(RESPONDERS)}]
permissions:
  default: {{start: [release-managers, operators], operate: [operators]}}
slack:
  ops_channel: {OPS}
  incident_responders: [responders]
"""


def scenario_config(text: str = CONFIG) -> BotConfig:
    return parse_config(text, source="scenario.yaml", env={"SCENARIO_RPC_PASSWORD": "rpc-pw"})


def settings_for(standin: SlackStandIn, redis_url: str, *, socket_mode: bool = False) -> Settings:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": standin.api_url,
        "REDIS_URL": redis_url,
    }
    if socket_mode:
        env["SLACK_APP_TOKEN"] = APP_TOKEN
    return load_settings(env)


def sign(body: str, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    """``bot.testing.signing.sign`` with the harness's signing secret unless told another."""
    return signing.sign(body, timestamp, secret)


@dataclass
class Reply:
    status: int
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


@dataclass
class Harness:
    standin: SlackStandIn
    bot: SlackBot
    runtime: Runtime
    url: str
    http: aiohttp.ClientSession
    redis: aioredis.Redis  # the test's own client of the bot's Redis, to look at what is kept
    responses: int = 0
    sent: list[str] = field(default_factory=list)  # every body we signed and posted
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)  # engine, notifier

    # --- raw signed requests ---------------------------------------------------------------

    async def post(
        self,
        body: str,
        content_type: str = "application/x-www-form-urlencoded",
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        ts = int(time.time()) if timestamp is None else timestamp
        sent = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature if signature is not None else sign(body, ts),
            **(headers or {}),
        }
        self.sent.append(body)
        async with self.http.post(f"{self.url}/slack/events", data=body.encode(),
                                  headers=sent) as response:
            return Reply(response.status, await response.text())

    # --- what Slack sends ------------------------------------------------------------------

    def command_body(self, user: str, text: str, channel: str = OPS,
                     trigger: str | None = None) -> str:
        self.responses += 1
        return urlencode({
            "token": "verification-token-unused",
            "team_id": self.standin.team_id,
            "team_domain": "parthenon",
            "channel_id": channel,
            "channel_name": "ops",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/parthenon",
            "text": text,
            "api_app_id": "A0PARTHENON",
            "response_url": self.standin.response_url(f"cmd-{self.responses}"),
            "trigger_id": trigger or f"trig-{uuid.uuid4().hex}",
        })

    async def command(self, user: str, text: str, channel: str = OPS, **kw: Any) -> Reply:
        return await self.post(self.command_body(user, text, channel), **kw)

    def click_body(self, user: str, button: dict[str, Any], message: PostedMessage | None,
                   trigger: str | None = None) -> str:
        self.responses += 1
        container: dict[str, Any] = {"type": "view", "view_id": "VHOME"}
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": self.standin.team_id},
            "api_app_id": "A0PARTHENON",
            "token": "verification-token-unused",
            "team": {"id": self.standin.team_id, "domain": "parthenon"},
            "trigger_id": trigger or f"trig-{uuid.uuid4().hex}",
            "actions": [{
                "type": "button",
                "action_id": button["action_id"],
                "block_id": button.get("block_id", "b"),
                "value": button["value"],
                "text": button["text"],
                "action_ts": f"{time.time():.6f}",
            }],
        }
        if message is not None:
            container = {"type": "message", "message_ts": message.ts,
                         "channel_id": message.channel, "is_ephemeral": False}
            payload["channel"] = {"id": message.channel, "name": "ops"}
            payload["message"] = {"type": "message", "ts": message.ts, "text": message.text,
                                  "blocks": message.blocks}
            payload["response_url"] = self.standin.response_url(f"click-{self.responses}")
        payload["container"] = container
        return urlencode({"payload": json.dumps(payload)})

    async def click(self, user: str, message: PostedMessage, action_id: str, **kw: Any) -> Reply:
        button = find_button(message.blocks, action_id)
        return await self.post(self.click_body(user, button, message), **kw)

    async def submit(self, user: str, view: OpenedView, values: dict[str, str]) -> Reply:
        """Submit a modal the bot opened, typing ``values`` into its inputs (by block id); an
        input not in ``values`` keeps what the bot prefilled, as in Slack."""
        state: dict[str, Any] = {}
        for block in view.view.get("blocks", []):
            if block.get("type") != "input":
                continue
            element = block["element"]
            state[block["block_id"]] = {
                element["action_id"]: input_state(element, values.get(block["block_id"]))
            }
        payload = {
            "type": "view_submission",
            "team": {"id": self.standin.team_id, "domain": "parthenon"},
            "user": {"id": user, "username": user.lower(), "team_id": self.standin.team_id},
            "api_app_id": "A0PARTHENON",
            "token": "verification-token-unused",
            "trigger_id": f"trig-{uuid.uuid4().hex}",
            "view": {
                "id": view.id,
                "type": "modal",
                "callback_id": view.view["callback_id"],
                "private_metadata": view.view.get("private_metadata", ""),
                "blocks": view.view.get("blocks", []),
                "state": {"values": state},
                "hash": "h",
            },
        }
        return await self.post(urlencode({"payload": json.dumps(payload)}))

    async def confirm(self, user: str, run_id: str, step_id: str,
                      inputs: dict[str, str]) -> dict[str, Any] | None:
        """Press Confirm on the card for ``step_id`` and submit the modal it opens with
        ``inputs``: the submission's answer (None when the modal just closes)."""
        card = await self.card(run_id, lambda m: button_step(m, "run.confirm") == step_id)
        opened = len(self.standin.opened("modal.confirm"))
        assert (await self.click(user, card, "run.confirm")).status == 200
        views = await self.standin.wait_for(
            lambda: self.standin.opened("modal.confirm")[opened:] or None)
        reply = await self.submit(user, views[0], inputs)
        assert reply.status == 200
        answer: dict[str, Any] | None = reply.json
        return answer

    async def event(self, event: dict[str, Any], **kw: Any) -> Reply:
        body = json.dumps({
            "token": "verification-token-unused",
            "team_id": self.standin.team_id,
            "api_app_id": "A0PARTHENON",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10]}",
            "event_time": int(time.time()),
        })
        return await self.post(body, "application/json", **kw)

    async def seed_restore_drill(self, *, days_ago: float,
                                 details: dict[str, Any] | None = None) -> None:
        """A passed restore drill (run ``r-seeded``) recorded ``days_ago``: the shipped
        promotion checks for one within ``drills.restore_drill_slo_days``."""
        await DrillBook(self.runtime.store).record(DrillRecord(
            kind=DrillKind.RESTORE, run_id="r-seeded",
            completed_at=self.runtime.store.now() - timedelta(days=days_ago),
            details=details or {}))

    # --- looking ---------------------------------------------------------------------------

    async def run(self, run_id: str) -> Run:
        return await self.runtime.store.get(run_id)

    async def wait_run(self, run_id: str, predicate: Callable[[Run], bool],
                       within: float = 15.0) -> Run:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            run = await self.runtime.store.get(run_id)
            if predicate(run):
                return run
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"run {run_id} stuck at {run.status}: {run.reason}")
            await asyncio.sleep(0.02)

    async def card(self, run_id: str, predicate: Callable[[PostedMessage], bool] | None = None,
                   within: float = 15.0) -> PostedMessage:
        """The run's card as Slack shows it, once ``predicate`` holds for it."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            where = await self.runtime.store.get_card(run_id)
            if where is not None and where[1]:
                message = self.standin.message(*where)
                if message is not None and (predicate is None or predicate(message)):
                    return message
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"the card of {run_id} never showed what was expected")
            await asyncio.sleep(0.02)

    async def reply_with(self, card: PostedMessage, action_id: str,
                         within: float = 15.0) -> PostedMessage:
        """The thread reply under ``card`` that carries a button ``action_id``."""
        def found() -> PostedMessage | None:
            for reply in self.standin.replies(card.channel, card.ts):
                if any(action_id == a for a in action_ids(reply.blocks)):
                    return reply
            return None

        return await self.standin.wait_for(found, within)

    async def started_run(self, reply: Reply) -> str:
        """The run id a start command answered with."""
        text = json.dumps(reply.json)
        marker = text.index("`r")
        return text[marker + 1 : text.index("`", marker + 1)]


async def until(check: Callable[[], bool], message: str, within: float = 15.0) -> None:
    """Wait until ``check()`` holds (looked at every 20 ms); ``message`` fails the test after
    ``within`` seconds. For state outside Redis and the stand-in, which have their own waits."""
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(message)
        await asyncio.sleep(0.02)


def input_state(element: dict[str, Any], typed: str | None) -> dict[str, Any]:
    """What Slack sends for one input: the typed value, else the prefilled one."""
    if element["type"] == "static_select":
        chosen = element.get("initial_option")
        if typed is not None:
            chosen = next((o for o in element["options"] if o["value"] == typed), None)
            assert chosen is not None, f"{typed!r} is not one of the select's options"
        return {"type": "static_select", "selected_option": chosen}
    value = typed if typed is not None else element.get("initial_value")
    return {"type": element["type"], "value": value}


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    found = []
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            found.append(element["action_id"])
        if "accessory" in block:
            found.append(block["accessory"]["action_id"])
    return found


def find_button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    for block in blocks:
        elements = block.get("elements", []) if block.get("type") == "actions" else []
        elements = elements + ([block["accessory"]] if "accessory" in block else [])
        for element in elements:
            if element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id", "b")}
    raise AssertionError(f"no {action_id} button in {action_ids(blocks)}")


def button_step(message: PostedMessage, action_id: str) -> str | None:
    """The step a button of ``message`` is for (None when there is no such button)."""
    try:
        button = find_button(message.blocks, action_id)
    except AssertionError:
        return None
    return ButtonValue.parse(button["value"]).s


def status_is(*statuses: RunStatus) -> Callable[[Run], bool]:
    return lambda run: run.status in statuses


def waiting_at(step_id: str) -> Callable[[Run], bool]:
    def check(run: Run) -> bool:
        current = run.current
        return (run.status is RunStatus.WAITING and current is not None
                and current[0].id == step_id and current[1].status.value == "waiting")

    return check


@asynccontextmanager
async def running_bot(
    redis_url: str,
    definitions: dict[str, Definition],
    *,
    config: BotConfig | None = None,
    standin: SlackStandIn | None = None,
    notifier_interval: float = 0.2,
) -> AsyncIterator[Harness]:
    """The bot serving HTTP on 127.0.0.1:0 with its engine and notifier running."""
    own_standin = standin is None
    slack = standin or SlackStandIn(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    if own_standin:
        await slack.start()
    runtime = await build_runtime(
        config or scenario_config(), redis_url, definitions=definitions,
        engine_settings=EngineSettings(worker_id="scenario", poll_interval=0.02),
    )
    bot = await create_bot(settings_for(slack, redis_url), runtime, bot_user_id=slack.bot_user_id,
                           notifier_interval=notifier_interval, notifier_poll=0.05)
    cfg = runtime.config
    api = (ApiState(runtime.service, cfg.api, cfg.slack.ops_channel, runtime.store.count_request)
           if cfg.api.tokens else None)
    runner = web.AppRunner(build_web_app(bot, api=api), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = int(runner.addresses[0][1])
    tasks = {"engine": asyncio.create_task(runtime.engine.run_forever()),
             "notifier": asyncio.create_task(bot.notifier.run_forever())}
    http = aiohttp.ClientSession()
    harness = Harness(slack, bot, runtime, f"http://127.0.0.1:{port}", http, connect(redis_url),
                      tasks=tasks)
    try:
        yield harness
    finally:
        await http.close()
        await runner.cleanup()
        await runtime.engine.stop(2)
        bot.notifier.stop()
        await asyncio.gather(*harness.tasks.values(), return_exceptions=True)
        await bot.aclose()
        await runtime.aclose()
        await harness.redis.aclose()
        if own_standin:
            await slack.stop()
