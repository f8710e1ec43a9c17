"""Paging the on-call for incidents whose severity pages (`incidents.severity.<sev>.page`).

A background loop, on every replica (what it does is idempotent): for each active incident that
should page and has no page yet (or a failed one due for a retry), it sends a trigger to the
configured pager (PagerDuty Events API v2, or a generic webhook signed like the deploy webhook)
with the run id as the dedup key, and records the outcome on the run (`RecordPage`), so the
incident card shows "paged" or "paging failed: why, retrying at ...". When an incident ends (or
its record is archived), its page is resolved with the same dedup key. A page is marked open in
Redis before it is sent, so a crash between sending and recording still resolves it later; a
second trigger for the same dedup key is one incident at PagerDuty.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiohttp

from bot.apiviews import card_url
from bot.config import BotConfig
from bot.pagingconfig import PagingConfig
from workflows import dedupkeys
from workflows.errors import InvalidCommand
from workflows.model import PageState, RecordPage, Run
from workflows.outage import Outage, run_every
from workflows.service import BOT_ACTOR, WorkflowService
from workflows.steps.webhook import sign

__all__ = ["PageFailed", "PagerClient", "PagerLoop"]

log = logging.getLogger("parthenon.pager")

Action = Literal["trigger", "resolve"]
PD_SEVERITY = {"sev1": "critical", "sev2": "error", "sev3": "warning", "sev4": "info"}
MAX_RETRY = 300.0


class PageFailed(Exception):
    """The pager did not take the event; the message says why (no secret in it)."""


class PagerClient:
    """Sends one trigger or resolve to the configured pager."""

    def __init__(self, config: PagingConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self._session = session

    @property
    def via(self) -> str:
        return self.config.via

    async def send(self, action: Action, run_id: str, run: Run | None,
                   card: tuple[str, str] | None) -> None:
        link = card_url(*card) if card is not None else None
        severity = run.params.get("severity", "") if run is not None else ""
        summary = (f"{run.title} ({severity}, {run.environment}): "
                   f"{run.params.get('summary', '')}".rstrip(": ")
                   if run is not None else f"incident {run_id}")
        if self.config.pagerduty is not None:
            pd = self.config.pagerduty
            body: dict[str, Any] = {
                "routing_key": pd.routing_key.get_secret_value(),
                "event_action": action,
                "dedup_key": run_id,
            }
            if action == "trigger":
                body["payload"] = {
                    "summary": summary[:1024], "source": "parthenon-bot",
                    "severity": PD_SEVERITY.get(severity, "critical"),
                    "custom_details": {"run": run_id,
                                       "environment": run.environment if run else None},
                }
                if link:
                    body["links"] = [{"href": link, "text": "Incident card in Slack"}]
            await self._post(pd.url, json.dumps(body).encode(), {}, pd.timeout)
            return
        hook = self.config.webhook
        assert hook is not None  # PagingConfig holds exactly one
        raw = json.dumps({"event": action, "dedup_key": run_id, "summary": summary,
                          "severity": severity, "card_url": link}, sort_keys=True).encode()
        stamp = int(time.time())
        headers = {"X-Parthenon-Timestamp": str(stamp),
                   "X-Parthenon-Signature": sign(hook.secret.get_secret_value(), stamp, raw)}
        await self._post(hook.url, raw, headers, hook.timeout)

    async def _post(self, url: str, body: bytes, headers: dict[str, str],
                    seconds: float) -> None:
        try:
            async with self._session.post(
                url, data=body, headers={"Content-Type": "application/json", **headers},
                timeout=aiohttp.ClientTimeout(total=seconds),
            ) as response:
                if response.status // 100 != 2:
                    raise PageFailed(f"the {self.via} answered HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PageFailed(f"the {self.via} could not be reached "
                             f"({type(exc).__name__})") from None


class PagerLoop:
    def __init__(
        self,
        service: WorkflowService,
        config: BotConfig,
        client: PagerClient,
        *,
        interval: float = 2.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.service = service
        self.store = service.store
        self.config = config
        self.client = client
        self.interval = interval
        self._clock = clock
        self._stopping = asyncio.Event()
        self.outage = Outage("pager", log)

    def should_page(self, run: Run) -> bool:
        return (run.category == "incident" and not run.terminal
                and self.config.incidents.pages(run.params.get("severity", "")))

    async def pass_once(self) -> None:
        """One look: trigger what should be paged, resolve what ended."""
        now = self._clock()
        runs = await self.store.load_many(await self.store.active_ids())
        for run in runs:
            if not self.should_page(run):
                continue
            page = run.page
            if page is not None and (page.status == "triggered" or (
                    page.retry_at is not None and page.retry_at > now)):
                continue
            await self._trigger(run, now)
        for run_id in await self.store.open_pages():
            ended = await self.store.load(run_id)
            if ended is not None and not ended.terminal:
                continue
            try:
                await self.client.send("resolve", run_id, ended, None)
            except PageFailed as exc:
                log.warning("pager: resolving the page of %s failed (%s); retrying", run_id, exc,
                            extra={"run_id": run_id})
                continue
            await self.store.page_closed(run_id)
            log.info("pager: page of %s resolved", run_id, extra={"run_id": run_id})

    async def _trigger(self, run: Run, now: datetime) -> None:
        attempts = (run.page.attempts + 1) if run.page is not None else 1
        await self.store.page_opened(run.id)
        try:
            await self.client.send("trigger", run.id, run, await self.store.get_card(run.id))
        except PageFailed as exc:
            wait = min(MAX_RETRY, 5.0 * 2 ** min(attempts - 1, 10))
            state = PageState(status="failed", via=self.client.via, at=now, attempts=attempts,
                              error=str(exc), retry_at=now + timedelta(seconds=wait))
            log.warning("pager: paging for %s failed (attempt %d: %s); retrying in %.0f s",
                        run.id, attempts, exc, wait, extra={"run_id": run.id})
        else:
            state = PageState(status="triggered", via=self.client.via, at=now, attempts=attempts)
            log.info("pager: paged the on-call for %s via %s", run.id, self.client.via,
                     extra={"run_id": run.id})
        with contextlib.suppress(InvalidCommand):  # it ended meanwhile: the resolve follows
            await self.service.command_as_bot(
                run.id, RecordPage(actor=BOT_ACTOR, page=state),
                dedup_key=dedupkeys.page(attempts, state.status))

    async def run_forever(self, until: asyncio.Event | None = None) -> None:
        """Look every ``interval`` until ``stop()`` (or ``until`` is set: serve's stop event)."""
        if until is not None:
            self._stopping = until
        await run_every(self.interval, self.pass_once, self.outage, self._stopping)

    def stop(self) -> None:
        self._stopping.set()
