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

Incident runs get their own channel (``inc-<yyyymmdd>-<kind>-<n>``, the next n when a name is
taken), the configured responders and the initiator invited, the card posted and pinned there. If
the channel cannot be created (a missing scope), the card goes to the run's channel and the thread
says why.

Notifications stay in the run's outbox in Redis until they are posted: each is peeked, posted,
then acknowledged (trimmed), under the card's lock. One that could not be posted yet is tried again
on the next pass, by this replica or another. The card and each thread notification are posted
once through any crash (``bot.slack.postonce``: an intent in Redis, message metadata, and a look
in the channel or thread before posting again).

Card work yields to Slack requests being served (``turn``, the app's background lane): during a
burst of clicks, cards are synced one at a time, and the acks come first.

Approval, skip and confirmation requests posted in a thread are remembered (next to the card's
keys); once the run settles one (approved, rejected, expired, skipped, confirmed, the run ended),
the next card sync updates it: its buttons go, and it says what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Callable, Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import BotConfig
from bot.slack.errors import (
    SlackAnswerLost,
    SlackCallFailed,
    SlackRateLimited,
    SlackUnavailable,
)
from bot.slack.escape import code, inline
from bot.slack.mentions import mentioned
from bot.slack.postonce import PostOnce, PostPending, digest_of
from bot.slack.views import (
    Message,
    OpenRequest,
    drill_reminder,
    freeze_announcement,
    notice,
    posted_request,
    request_outcome,
    resolved_request,
    run_card,
    thread_message,
)
from workflows.drillscheduler import DrillReminder, DrillScheduler
from workflows.keys import card_lock_key, requests_key
from workflows.machine import Notify
from workflows.model import Run
from workflows.outage import Outage
from workflows.store import RunStore

__all__ = ["Notifier", "NotifierStats", "card_lock_key", "incident_channel_name", "requests_key"]

log = logging.getLogger("parthenon.notifier")

_CHANNEL_GONE = {"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived"}
_PERMANENT_LIMIT = 5  # attempts before a card that Slack keeps refusing is given up
_NAME_CLEAN = re.compile(r"[^a-z0-9-]+")
_LOCK_MS = 30_000  # a replica that dies holding a card's lock frees it after this
_OUTBOX_BATCH = 50  # notifications read from the outbox at a time

def incident_channel_name(run: Run, n: int) -> str:
    kind = _NAME_CLEAN.sub("-", run.workflow.removeprefix("incident-").lower()).strip("-")
    return f"inc-{run.created_at:%Y%m%d}-{kind or 'incident'}-{n}"[:80]


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


@dataclass
class _CardState:
    digest: str = ""
    last_update: float = float("-inf")
    retry_at: float = float("-inf")
    failures: int = 0


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
        self.client = client
        self.config = config
        self.known_workflows = frozenset(known_workflows)
        self.drills = drills
        self.min_interval = min_interval
        self.poll = poll
        self.stats = NotifierStats()
        self.observer: SlackCallObserver | None = None  # per-method counts for /metrics
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        self._turn = turn or contextlib.nullcontext
        self._cards: dict[str, _CardState] = {}
        self._unstored: dict[str, tuple[str, str]] = {}  # cards posted, location not yet stored
        self._not_before: dict[str, float] = {}
        self._reminders: list[DrillReminder] = []
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._holder = f"notifier-{uuid.uuid4().hex[:12]}"
        self.announcements = store.announcements
        self.outage = Outage("notifier", log)  # Redis away
        self.slack_outage = Outage("notifier", log)  # Slack away (unreachable, 5xx, no answer)
        self._once = PostOnce(store.cards, self._call, timeout=self._answer_timeout)

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
            state = self._cards.setdefault(run_id, _CardState())
            if state.retry_at > now:
                continue
            if now - state.last_update < self.min_interval:
                self.stats.coalesced += 1
                continue
            due.append((run_id, score))
        if due:
            await asyncio.gather(*(self._sync_guarded(run_id, score) for run_id, score in due))
        if self.drills is not None:
            await self._post_reminders()
        await self._post_announcements()
        return len(due)

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
            await self._sync(run_id, score, state)
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

    def _back_off(self, state: _CardState, why: str, run_id: str, *, quiet: bool = False) -> None:
        """Retry the card later (exponential, jittered); ``quiet`` while Slack is away (the
        outage has its own line)."""
        state.failures += 1
        delay = min(30.0, 0.5 * 2 ** (state.failures - 1)) * (0.5 + random.random() / 2)
        state.retry_at = self._clock() + delay
        log.log(logging.DEBUG if quiet else logging.WARNING,
                "card of %s not synced (%s); again in %.1fs", run_id, why, delay)

    # --- one card ----------------------------------------------------------------------------

    async def _sync(self, run_id: str, score: float, state: _CardState) -> None:
        run = await self.store.load(run_id)
        if run is None:
            await self.store.card_done(run_id, score)
            self._cards.pop(run_id, None)
            return
        where = await self.store.get_card(run_id)
        card = run_card(run, people=self._people, known_workflows=self.known_workflows)
        digest = _digest(card)
        if (where is None or not where[1]) and run_id in self._unstored:
            # Posted by us, then Redis failed before the location was stored: store it now
            # rather than post a second card.
            where = self._unstored[run_id]
            await self.store.set_card(run_id, *where)
            del self._unstored[run_id]
        if where is None or not where[1]:
            where = await self._first_post(run, where[0] if where else None, card)
            if where is None:
                log.error("run %s has no channel and no ops channel is configured", run_id)
                await self.store.card_done(run_id, score)
                return
            state.digest = digest
            state.last_update = self._clock()
        elif digest != state.digest:
            try:
                await self._call("chat.update", channel=where[0], ts=where[1], text=card.text,
                                 blocks=card.blocks)
            except SlackCallFailed as exc:
                if exc.error != "message_not_found":
                    raise
                # The card was deleted: post a new one in the same place.
                where = await self._first_post(run, where[0], card)
                if where is None:
                    await self.store.card_done(run_id, score)
                    return
            self.stats.cards_updated += 1
            state.digest = digest
            state.last_update = self._clock()
        latest = await self._post_outbox(run, where)
        await self._close_requests(latest)
        if await self.store.card_done(run_id, score) and run.terminal:
            self._cards.pop(run_id, None)

    async def _post_outbox(self, run: Run, where: tuple[str, str]) -> Run:
        """Post the run's queued notifications in its thread, oldest first; each is removed from
        the outbox only once Slack took it (a failure leaves it, and the rest, for later).
        Returns the run as last read (requests are rendered from the latest state)."""
        latest: Run | None = None
        while queued := await self.store.peek_outbox(run.id, _OUTBOX_BATCH):
            latest = latest or await self.store.load(run.id) or run
            number = await self._once.note_number(run.id)
            for item in queued:
                note, role = item.notify, f"note:{number}"
                message = thread_message(latest, note, self._members(latest, note),
                                         self._people)
                posted = await self._once.post(run.id, role, where[0], thread_ts=where[1],
                                               digest=digest_of(item.raw), text=message.text,
                                               blocks=message.blocks)
                self.stats.thread_posts += not posted.adopted
                self.stats.adopted += posted.adopted
                request = posted_request(latest, note, message, where[0], posted.ts)
                if request is not None and posted.ts:
                    await self.store.cards.keep_request(run.id, request.field, request.dump())
                if not await self._once.note_posted(run.id, item.raw, role):
                    break  # taken off by someone else meanwhile: read the outbox again
                number += 1
            else:
                if len(queued) < _OUTBOX_BATCH:
                    break
        return latest or run

    async def _close_requests(self, run: Run) -> None:
        """Settled requests in the thread lose their buttons and say what happened. One read per
        card sync (syncs are coalesced); an update only when a request was settled."""
        raw = await self.store.cards.open_requests(run.id)
        for field, value in raw.items():
            request = OpenRequest.load(value)
            outcome = request_outcome(run, request, self._people) if request else None
            if request is not None and outcome is None:
                continue
            if request is not None and outcome is not None:
                message = resolved_request(run, request, outcome)
                try:
                    await self._call("chat.update", channel=request.channel, ts=request.ts,
                                     text=message.text, blocks=message.blocks)
                except SlackCallFailed as exc:
                    if exc.error != "message_not_found" and exc.error not in _CHANNEL_GONE:
                        raise
                self.stats.requests_closed += 1
            await self.store.cards.drop_request(run.id, field)

    def _members(self, run: Run, note: Notify) -> set[str]:
        """The people the note mentions: those who can act on it (bot.slack.mentions)."""
        return mentioned(run, note, self.config.groups, self.config.permission(run.workflow)[1])

    async def _first_post(
        self, run: Run, channel: str | None, card: Message
    ) -> tuple[str, str] | None:
        """Post the card where it belongs; returns (channel, ts) as stored."""
        fallback_reason = None
        incident = run.category == "incident"
        if channel is None and incident:
            channel, fallback_reason = await self._open_incident_channel(run)
        target = channel or run.channel or self.config.slack.ops_channel
        if target is None:
            return None
        try:
            posted = await self._once.post(run.id, "card", target, text=card.text,
                                           blocks=card.blocks)
        except SlackCallFailed as exc:
            ops = self.config.slack.ops_channel
            if exc.error not in _CHANNEL_GONE or ops is None or ops == target:
                raise
            log.warning("cannot post in %s (%s); using the ops channel", target, exc.error)
            posted = await self._once.post(run.id, "card", ops, text=card.text,
                                           blocks=card.blocks)
        where = (posted.channel, posted.ts)
        self._unstored[run.id] = where
        await self.store.set_card(run.id, *where)
        del self._unstored[run.id]
        await self._once.forget(run.id, "card")
        self.stats.cards_posted += not posted.adopted
        self.stats.adopted += posted.adopted
        if posted.adopted:  # it shows the run as it was then: bring it up to date
            await self._call("chat.update", channel=where[0], ts=where[1], text=card.text,
                             blocks=card.blocks)
        if incident and channel is not None:
            await self._after_incident_post(run, where)
        if fallback_reason is not None:
            hint = _scope_hint(fallback_reason, self.config.incidents.is_private(run.workflow))
            text = (f":warning: No incident channel could be opened ({code(fallback_reason, 60)}"
                    f"{hint}); the incident runs here.")
            await self._call("chat.postMessage", channel=where[0], thread_ts=where[1], text=text,
                             blocks=notice(text).blocks)
        return where

    async def _open_incident_channel(self, run: Run) -> tuple[str | None, str | None]:
        """(channel id, None) or (None, why it could not be created)."""
        for n in range(1, 51):
            name = incident_channel_name(run, n)
            try:
                created = await self._call(
                    "conversations.create", name=name,
                    is_private=self.config.incidents.is_private(run.workflow))
            except SlackCallFailed as exc:
                if exc.error == "name_taken":
                    continue
                log.warning("incident channel %s not created: %s", name, exc.error)
                return None, exc.error
            channel = str(created["channel"]["id"])
            await self.store.set_card(run.id, channel, "")  # remembered before anything else
            await self._invite(run, channel)
            return channel, None
        return None, "name_taken"

    async def _invite(self, run: Run, channel: str) -> None:
        invited = self.config.incidents.invite_groups(frozenset(self.config.groups))
        users = self._people_of((*self.config.slack.incident_responders, *invited))
        users |= {run.initiator}
        users = {u for u in users if u}
        if not users:
            return
        try:
            await self._call("conversations.invite", channel=channel, users=",".join(sorted(users)))
        except SlackCallFailed as exc:
            if exc.error == "already_in_channel":
                return
            for user in sorted(users):  # one refused id must not keep the others out
                with contextlib.suppress(SlackCallFailed):
                    await self._call("conversations.invite", channel=channel, users=user)

    @property
    def _people(self) -> frozenset[str]:
        """Everyone in a configured group now (a group may follow a Slack user group)."""
        return frozenset(u for members in self.config.groups.values() for u in members)

    def _people_of(self, groups: Collection[str]) -> set[str]:
        return {u for g in groups for u in self.config.groups.get(g, frozenset())}

    async def _after_incident_post(self, run: Run, where: tuple[str, str]) -> None:
        with contextlib.suppress(SlackCallFailed):
            await self._call("pins.add", channel=where[0], timestamp=where[1])
        if run.channel and run.channel != where[0]:
            text = (f":rotating_light: *{inline(run.title, 150)}* ({code(run.id, 40)}) is run in "
                    f"<#{where[0]}>; its checklist is pinned there.")
            with contextlib.suppress(SlackCallFailed):
                await self._call("chat.postMessage", channel=run.channel, text=text,
                                 blocks=notice(text).blocks)

    # --- the promotion freeze, said in the ops channel ----------------------------------------

    async def _post_announcements(self) -> None:
        """Freezes set and lifted (workflows.announcements), oldest first, each removed once
        Slack took it; under a short lock so that two replicas do not both post one."""
        queued = await self.announcements.peek()
        if not queued:
            return
        if not await self.announcements.lock(self._holder, _LOCK_MS):
            return
        try:
            queued = await self.announcements.peek()  # as they are now that the lock is ours
            channel = self.config.slack.ops_channel
            for raw, item in queued:
                if item is not None and channel is not None:
                    message = freeze_announcement(item, self._people)
                    try:
                        await self._call("chat.postMessage", channel=channel, text=message.text,
                                         blocks=message.blocks)
                    except (SlackRateLimited, SlackUnavailable, SlackCallFailed) as exc:
                        log.warning("freeze announcement not posted yet: %s", exc)
                        return
                elif item is not None:
                    log.warning("freeze announcement dropped: no slack.ops_channel is configured")
                await self.announcements.ack([raw])
        finally:
            await self.announcements.unlock(self._holder)

    # --- drill reminders ---------------------------------------------------------------------

    async def _post_reminders(self) -> None:
        if self.drills is None:
            return
        channel = self.config.slack.ops_channel
        self._reminders += await self.drills.take_reminders()
        if channel is None:
            if self._reminders:
                log.warning("drill reminders dropped: no slack.ops_channel is configured")
            self._reminders.clear()
            return
        while self._reminders:
            reminder = self._reminders[0]
            starters = self._people_of(self.config.permission(reminder.workflow)[0])
            blocks = drill_reminder(reminder.workflow, reminder.title, reminder.text,
                                    reminder.workflow in self.known_workflows, starters)
            try:
                await self._call("chat.postMessage", channel=channel, text=reminder.text,
                                 blocks=blocks)
            except SlackUnavailable as exc:
                self.slack_outage.failed("slack", exc)
                return
            except (SlackRateLimited, SlackCallFailed) as exc:
                log.warning("drill reminder not posted yet: %s", exc)
                return
            self._reminders.pop(0)

    # --- the Web API -------------------------------------------------------------------------

    async def _call(self, method: str, **args: Any) -> dict[str, Any]:
        """One Web API call, its failure turned into our own error class."""
        wait = self._not_before.get(method, 0.0) - self._clock()
        if wait > 0:
            raise SlackRateLimited(f"{method} is rate limited", wait)
        try:
            response = await self.client.api_call(method, json=args)
        except SlackApiError as exc:
            status = exc.response.status_code
            if status == 429:
                retry_after = _retry_after(exc.response.headers)
                self._not_before[method] = self._clock() + retry_after
                log.info("%s rate limited; waiting %.1fs", method, retry_after)
                self._observe_retry(method, "rate_limited")
                raise SlackRateLimited(f"{method} answered 429", retry_after) from None
            if status >= 500:
                self._observe_retry(method, "server_error")
                raise SlackUnavailable(f"{method} answered {status}") from None
            data = exc.response.data
            error = str(data.get("error", "unknown")) if isinstance(data, dict) else "unknown"
            if self.observer is not None:
                self.observer.slack_api_error(method, error)
            raise SlackCallFailed(method, error) from None
        except aiohttp.ClientConnectorError as exc:  # never sent
            self._observe_retry(method, "unreachable")
            raise SlackUnavailable(f"{method}: {type(exc).__name__}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:  # sent; Slack may have done it
            self._observe_retry(method, "unreachable")
            raise SlackAnswerLost(f"{method}: {type(exc).__name__}") from None
        self.slack_outage.recovered()
        data = response.data
        return data if isinstance(data, dict) else {}


    def _answer_timeout(self) -> float:
        """How long a Web API answer can take: the client's timeout (its session's, if longer)."""
        session = getattr(self.client, "session", None)
        total = getattr(getattr(session, "timeout", None), "total", None)
        return max(float(getattr(self.client, "timeout", 30) or 30), float(total or 0))

    def _observe_retry(self, method: str, reason: str) -> None:
        """The call will be made again later (the card catches up): count it per method."""
        if self.observer is not None:
            self.observer.slack_api_retry(method, reason)


class SlackCallObserver(Protocol):
    """Told about every Web API call that failed (``bot.observability.BotMetrics`` is one)."""

    def slack_api_error(self, method: str, error: str) -> None: ...

    def slack_api_retry(self, method: str, reason: str) -> None: ...


def _digest(message: Message) -> str:
    body = json.dumps([message.text, message.blocks], sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def _retry_after(headers: Any) -> float:
    raw = None
    with contextlib.suppress(AttributeError, TypeError):
        raw = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, min(float(raw), 300.0)) if raw is not None else 1.0
    except ValueError:
        return 1.0


def _scope_hint(error: str, private: bool = False) -> str:
    if error == "missing_scope":
        return f": the app needs the {'groups:write' if private else 'channels:manage'} scope"
    if error == "restricted_action":
        return ": the workspace does not let apps create channels"
    return ""
