"""Paging the on-call for incidents: a sev1 incident pages through a local receiver that speaks
PagerDuty's Events API v2 (and a signed generic webhook), a failed page shows on the incident card
and is retried, the page is resolved when the incident ends, a sev3 incident pages no one, and the
routing key never reaches a log line."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web

from bot.config import BotConfig, parse_config
from bot.inventory import ConfigAuthority, ConfigInventory
from bot.pager import PagerClient, PagerLoop
from bot.slack.views.card import run_card
from workflows.catalog import load_catalog
from workflows.model import Abort, Run
from workflows.service import WorkflowService
from workflows.steps.webhook import sign
from workflows.store import RunStore

ROUTING_KEY = "R0UTING-KEY-0123456789abcdef-do-not-leak"
HOOK_SECRET = "paging-hook-secret-0123456789-do-not-leak"


@dataclass
class Receiver:
    """A local pager: records every event; answers 500 to the first ``fail`` of them."""

    fail: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def _enqueue(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.raw.append(body)
        self.events.append(json.loads(body))
        self.headers.append(dict(request.headers))
        if self.fail > 0:
            self.fail -= 1
            return web.Response(status=500, text="upstream trouble")
        return web.json_response({"status": "success", "message": "Event processed",
                                  "dedup_key": self.events[-1].get("dedup_key")}, status=202)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v2/enqueue", self._enqueue)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v2/enqueue"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def config(receiver: Receiver, *, webhook: bool = False) -> BotConfig:
    paging = (f'webhook: {{url: "{receiver.url}", secret_env: HOOK}}' if webhook
              else f'pagerduty: {{routing_key_env: PD_KEY, url: "{receiver.url}"}}')
    text = f"""
environments:
  testnet:
    network: testnet
    rpc_credentials: {{user: parthenon, password_env: RPC}}
    nodes: [{{name: t1, rpc_url: "http://127.0.0.1:9", canary: true}}]
groups:
  operators: [UOP]
  responders: [URESP]
permissions:
  default: {{start: [operators], operate: [operators]}}
paging:
  {paging}
"""
    return parse_config(text, source="paging.yaml",
                        env={"RPC": "pw", "PD_KEY": ROUTING_KEY, "HOOK": HOOK_SECRET})


@dataclass
class World:
    receiver: Receiver
    service: WorkflowService
    loop: PagerLoop
    clock: Clock
    http: aiohttp.ClientSession

    async def incident(self, severity: str) -> Run:
        return await self.service.start(
            "incident-release", {"environment": "testnet", "severity": severity,
                                 "summary": "chain split"}, actor="UOP")


async def world_for(redis: aioredis.Redis, receiver: Receiver, cfg: BotConfig,
                    http: aiohttp.ClientSession) -> World:
    clock = Clock()
    store = RunStore(redis, clock=clock)
    service = WorkflowService(store, load_catalog(), ConfigInventory(cfg), ConfigAuthority(cfg))
    assert cfg.paging is not None
    loop = PagerLoop(service, cfg, PagerClient(cfg.paging, http), clock=clock)
    return World(receiver, service, loop, clock, http)


@pytest.fixture
async def world(redis: aioredis.Redis) -> AsyncIterator[World]:
    receiver = Receiver()
    await receiver.start()
    async with aiohttp.ClientSession() as http:
        yield await world_for(redis, receiver, config(receiver), http)
    await receiver.stop()


def card_text(run: Run) -> str:
    return json.dumps(run_card(run).blocks)


async def test_sev1_pages_retries_a_failed_page_and_resolves_when_it_ends(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The receiver fails the first trigger: the card says so and when it retries; after the
    back-off the page goes through (same dedup key, the run id) and the card says paged; when
    the incident is aborted the page is resolved with that key, once."""
    caplog.set_level(logging.DEBUG)
    world.receiver.fail = 1
    run = await world.incident("sev1")
    await world.loop.pass_once()
    run = await world.service.store.get(run.id)
    assert run.page is not None
    assert run.page.status == "failed"
    assert "HTTP 500" in (run.page.error or "")
    assert "paging via pagerduty failed (attempt 1): the pagerduty answered HTTP 500" in \
        card_text(run)
    assert "retrying at" in card_text(run)

    await world.loop.pass_once()  # before the retry time: nothing sent again
    assert len(world.receiver.events) == 1
    world.clock.now += timedelta(seconds=6)
    await world.loop.pass_once()
    run = await world.service.store.get(run.id)
    assert run.page is not None
    assert run.page.status == "triggered"
    assert run.page.attempts == 2
    assert ":pager: paged via pagerduty" in card_text(run)
    triggers = [e for e in world.receiver.events if e["event_action"] == "trigger"]
    assert len(triggers) == 2
    assert {e["dedup_key"] for e in triggers} == {run.id}
    assert triggers[-1]["routing_key"] == ROUTING_KEY
    assert triggers[-1]["payload"]["severity"] == "critical"
    assert "chain split" in triggers[-1]["payload"]["summary"]

    await world.loop.pass_once()  # paged: not again
    assert len(world.receiver.events) == 2
    await world.service.command(run.id, Abort(actor="UOP", reason="false alarm"))
    await world.loop.pass_once()
    await world.loop.pass_once()
    resolves = [e for e in world.receiver.events if e["event_action"] == "resolve"]
    assert resolves == [{"routing_key": ROUTING_KEY, "event_action": "resolve",
                         "dedup_key": run.id}]
    assert await world.service.store.open_pages() == []
    assert ROUTING_KEY not in caplog.text


async def test_a_failed_resolve_is_retried_until_the_pager_takes_it(world: World) -> None:
    """The incident ended while the pager was failing: the resolve is sent again on the next
    look, and the page stays open until then."""
    run = await world.incident("sev1")
    await world.loop.pass_once()
    await world.service.command(run.id, Abort(actor="UOP", reason="handled"))
    world.receiver.fail = 1
    await world.loop.pass_once()
    assert await world.service.store.open_pages() == [run.id]
    await world.loop.pass_once()
    assert await world.service.store.open_pages() == []
    assert [e["event_action"] for e in world.receiver.events] == [
        "trigger", "resolve", "resolve"]


async def test_sev3_pages_no_one(world: World) -> None:
    """Only the severities the config's table marks `page` page (sev1 by default)."""
    run = await world.incident("sev3")
    await world.loop.pass_once()
    assert world.receiver.events == []
    assert (await world.service.store.get(run.id)).page is None


async def test_the_generic_webhook_is_signed_like_the_deploy_webhook(
    redis: aioredis.Redis,
) -> None:
    """With `paging.webhook`, the trigger is a JSON body signed with the paging secret
    (X-Parthenon-Signature over the timestamp and body), carrying the run id as dedup key."""
    receiver = Receiver()
    await receiver.start()
    try:
        async with aiohttp.ClientSession() as http:
            w = await world_for(redis, receiver, config(receiver, webhook=True), http)
            run = await w.incident("sev1")
            await w.loop.pass_once()
    finally:
        await receiver.stop()
    [event] = receiver.events
    assert event["event"] == "trigger"
    assert event["dedup_key"] == run.id
    headers = receiver.headers[0]
    stamp = int(headers["X-Parthenon-Timestamp"])
    assert headers["X-Parthenon-Signature"] == sign(HOOK_SECRET, stamp, receiver.raw[0])
    assert HOOK_SECRET not in receiver.raw[0].decode()
