"""The notifier: keeps each run's Slack card in step with the run, and posts the run's queued
notifications (approval requests, failures, the end) in the card's thread.

It works from the store's dirty-card index, so any replica may do it and a restart loses no card
update: a card is marked done only with the score it was seen at, and a change meanwhile keeps it
dirty. One replica at a time works on a given card (a short lock in Redis, next to the card's
own keys: ``workflows.cardstore``), so two replicas never both post a run's first card.

Updates to one message are coalesced to at most one per ``min_interval`` (about a second); a 429
stops calls of that method until its Retry-After has passed; Slack being unreachable or
answering 5xx backs the run off and the card catches up later. The runs themselves never wait for
Slack.

Card work yields to Slack requests being served (``turn``, the app's background lane): during a
burst of clicks, cards are synced one at a time, and the acks come first.

The ``Notifier`` is the loop and the one object ``bot.app`` builds; the work is done by its
parts, each in a module of its own:

- ``bot.slack.cardsync``: one card posted, or updated, then its thread and its requests;
- ``bot.slack.incidentchannel``: an incident's own channel, opened, its people invited;
- ``bot.slack.threadposts``: the run's outbox posted in the card's thread;
- ``bot.slack.openrequests``: request messages remembered, and closed once settled;
- ``bot.slack.opsposts``: freeze announcements and drill reminders in the ops channel;
- ``bot.slack.webapi``: the Web API calls, their failures as ``bot.slack.errors``;
- ``bot.slack.postonce``: each message posted once through any crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import BotConfig
from bot.slack.cardsync import CardState, CardSync
from bot.slack.errors import (
    SlackCallFailed,
    SlackRateLimited,
    SlackUnavailable,
)
from bot.slack.incidentchannel import IncidentChannels
from bot.slack.openrequests import OpenRequests
from bot.slack.opsposts import OpsPosts
from bot.slack.postonce import PostOnce, PostPending
from bot.slack.threadposts import ThreadPosts
from bot.slack.webapi import SlackCallObserver, WebApi
from workflows.drillscheduler import DrillScheduler
from workflows.outage import Outage
from workflows.store import RunStore

__all__ = ["Notifier", "NotifierStats"]

log = logging.getLogger("parthenon.notifier")

_PERMANENT_LIMIT = 5  # attempts before a card that Slack keeps refusing is given up
_LOCK_MS = 30_000  # a replica that dies holding a card's lock frees it after this


@dataclass
class NotifierStats:
    """Counters for /metrics and the tests."""

    cards_posted: int = 0
    cards_updated: int = 0
    thread_posts: int = 0
    rate_limited: int = 0
    unavailable: int = 0
    failed: int = 0
    coalesced: int = 0
    held_elsewhere: int = 0  # another replica was working on the card
    requests_closed: int = 0  # request messages updated once settled
    adopted: int = 0  # messages found in Slack after a lost answer or a crash, not re-posted


class Notifier:
    def __init__(
        self,
        store: RunStore,
        client: AsyncWebClient,
        config: BotConfig,
        *,
        known_workflows: Collection[str] = (),
        drills: DrillScheduler | None = None,
        min_interval: float = 1.0,
        poll: float = 0.25,
        concurrency: int = 8,
        clock: Callable[[], float] = time.monotonic,
        turn: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.known_workflows = frozenset(known_workflows)
        self.min_interval = min_interval
        self.poll = poll
        self.stats = NotifierStats()
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        self._turn = turn or contextlib.nullcontext
        self._cards: dict[str, CardState] = {}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._holder = f"notifier-{uuid.uuid4().hex[:12]}"
        self.outage = Outage("notifier", log)  # Redis away
        self.slack_outage = Outage("notifier", log)  # Slack away (unreachable, 5xx, no answer)
        self._api = WebApi(client, clock=clock, outage=self.slack_outage)
        once = PostOnce(store.cards, self._api.call, timeout=self._api.answer_timeout)
        requests = OpenRequests(store, self._api, config, self.stats)
        self._card = CardSync(
            store, self._api, once, config, known_workflows=self.known_workflows,
            stats=self.stats, clock=clock, incidents=IncidentChannels(store, config, self._api),
            threads=ThreadPosts(store, once, config, requests, self.stats), requests=requests)
        self._ops = OpsPosts(
            store.announcements, drills, config, self._api, known_workflows=self.known_workflows,
            slack_outage=self.slack_outage, holder=self._holder, lock_ms=_LOCK_MS)

    @property
    def client(self) -> AsyncWebClient:
        """The Web API client; may be replaced (the next call uses the new one)."""
        return self._api.client

    @client.setter
    def client(self, client: AsyncWebClient) -> None:
        self._api.client = client

    @property
    def observer(self) -> SlackCallObserver | None:
        """Told about failed and retried Web API calls (per-method counts for /metrics)."""
        return self._api.observer

    @observer.setter
    def observer(self, observer: SlackCallObserver | None) -> None:
        self._api.observer = observer

    # --- the loop ----------------------------------------------------------------------------

    def wake(self) -> None:
        """Look now rather than at the next poll (a handler just recorded something)."""
        self._wake.set()

    async def run_forever(self) -> None:
        while not self._stopping.is_set():
            wait = self.poll
            try:
                await self.run_once()
                self.outage.recovered()
            except (RedisConnectionError, RedisTimeoutError) as exc:
                wait = self.outage.failed("redis", exc)  # one line per outage, and back off
            except Exception:
                # A bug in one card: the loop itself must survive.
                log.exception("notifier pass failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run_once(self) -> int:
        """Sync every dirty card that is due now; returns how many were attempted."""
        dirty = await self.store.dirty_cards_with_scores(500)
        now = self._clock()
        due = []
        for run_id, score in dirty:
            state = self._cards.setdefault(run_id, CardState())
            if state.retry_at > now:
                continue
            if now - state.last_update < self.min_interval:
                self.stats.coalesced += 1
                continue
            due.append((run_id, score))
        if due:
            await asyncio.gather(*(self._sync_guarded(run_id, score) for run_id, score in due))
        await self._ops.post_reminders()
        await self._ops.post_announcements()
        return len(due)

    # --- one card, under its lock ------------------------------------------------------------

    async def _sync_guarded(self, run_id: str, score: float) -> None:
        async with self._slots, self._turn():
            # (a lock of ours left behind when Redis went away is ours to use)
            if not await self.store.cards.lock(run_id, self._holder, _LOCK_MS):
                self.stats.held_elsewhere += 1
                return
            try:
                await self._sync_held(run_id, score)
            finally:
                await self.store.cards.unlock(run_id, self._holder)

    async def _sync_held(self, run_id: str, score: float) -> None:
        state = self._cards[run_id]
        try:
            if await self._card.sync(run_id, score, state):
                self._cards.pop(run_id, None)
            state.failures = 0
        except SlackRateLimited:
            self.stats.rate_limited += 1  # the method's not-before is set; stays dirty
        except PostPending as exc:  # an earlier post's answer may still come: look again later
            state.retry_at = self._clock() + exc.retry_in
        except SlackUnavailable as exc:
            self.stats.unavailable += 1
            self.slack_outage.failed("slack", exc)
            self._back_off(state, f"Slack unavailable: {exc.message}", run_id, quiet=True)
        except SlackCallFailed as exc:
            self.stats.failed += 1
            self._back_off(state, str(exc), run_id)
            if state.failures >= _PERMANENT_LIMIT:
                log.error("giving up on the card of %s: %s", run_id, exc)
                dropped = await self.store.peek_outbox(run_id, 1000)
                await self.store.ack_outbox(run_id, dropped)
                await self.store.card_done(run_id, score)

    def _back_off(self, state: CardState, why: str, run_id: str, *, quiet: bool = False) -> None:
        """Retry the card later (exponential, jittered); ``quiet`` while Slack is away (the
        outage has its own line)."""
        state.failures += 1
        delay = min(30.0, 0.5 * 2 ** (state.failures - 1)) * (0.5 + random.random() / 2)
        state.retry_at = self._clock() + delay
        log.log(logging.DEBUG if quiet else logging.WARNING,
                "card of %s not synced (%s); again in %.1fs", run_id, why, delay)
