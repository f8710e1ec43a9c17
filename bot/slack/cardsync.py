"""One run's card brought in step with the run, under the card's lock (``bot.slack.notifier``).

The first time, the card is posted where it belongs: an incident's own channel
(``bot.slack.incidentchannel``), else the run's channel, else the ops channel (also when the run's
channel is gone). Afterwards it is updated when what it shows changed, and posted anew if someone
deleted it. Then the run's queued notifications go to its thread (``bot.slack.threadposts``) and
the requests settled meanwhile are closed (``bot.slack.openrequests``).

The card is posted once through any crash (``bot.slack.postonce``: an intent in Redis, message
metadata, and a look in the channel before posting again); a card posted just before Redis went
away has its place stored on the next pass rather than being posted again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import BotConfig
from bot.slack.errors import SlackCallFailed
from bot.slack.incidentchannel import IncidentChannels
from bot.slack.mentions import everyone
from bot.slack.openrequests import OpenRequests
from bot.slack.postonce import PostOnce
from bot.slack.threadposts import ThreadPosts
from bot.slack.views import Message, run_card
from bot.slack.webapi import CHANNEL_GONE, WebApi
from workflows.model import Run
from workflows.store import RunStore

if TYPE_CHECKING:
    from bot.slack.notifier import NotifierStats

__all__ = ["CardState", "CardSync"]

log = logging.getLogger("parthenon.notifier")


@dataclass
class CardState:
    """What this replica remembers of a run's card between passes."""

    digest: str = ""
    last_update: float = float("-inf")
    retry_at: float = float("-inf")
    failures: int = 0


class CardSync:
    def __init__(
        self,
        store: RunStore,
        api: WebApi,
        once: PostOnce,
        config: BotConfig,
        *,
        known_workflows: Collection[str],
        stats: NotifierStats,
        clock: Callable[[], float],
        incidents: IncidentChannels,
        threads: ThreadPosts,
        requests: OpenRequests,
    ) -> None:
        self._store = store
        self._api = api
        self._once = once
        self._config = config
        self._known_workflows = known_workflows
        self._stats = stats
        self._clock = clock
        self._incidents = incidents
        self._threads = threads
        self._requests = requests
        self._unstored: dict[str, tuple[str, str]] = {}  # cards posted, location not yet stored

    async def sync(self, run_id: str, score: float, state: CardState) -> bool:
        """Bring the card, its thread and its requests up to date; the card is marked done at
        ``score``. True when nothing is left to remember of the card (the run is gone or over)."""
        run = await self._store.load(run_id)
        if run is None:
            await self._store.card_done(run_id, score)
            return True
        where = await self._store.get_card(run_id)
        card = run_card(run, people=everyone(self._config.groups),
                        known_workflows=self._known_workflows)
        digest = _digest(card)
        if (where is None or not where[1]) and run_id in self._unstored:
            # Posted by us, then Redis failed before the location was stored: store it now
            # rather than post a second card.
            where = self._unstored[run_id]
            await self._store.set_card(run_id, *where)
            del self._unstored[run_id]
        if where is None or not where[1]:
            where = await self._first_post(run, where[0] if where else None, card)
            if where is None:
                log.error("run %s has no channel and no ops channel is configured", run_id)
                await self._store.card_done(run_id, score)
                return False
            state.digest = digest
            state.last_update = self._clock()
        elif digest != state.digest:
            try:
                await self._api.call("chat.update", channel=where[0], ts=where[1],
                                     text=card.text, blocks=card.blocks)
            except SlackCallFailed as exc:
                if exc.error != "message_not_found":
                    raise
                # The card was deleted: post a new one in the same place.
                where = await self._first_post(run, where[0], card)
                if where is None:
                    await self._store.card_done(run_id, score)
                    return False
            self._stats.cards_updated += 1
            state.digest = digest
            state.last_update = self._clock()
        latest = await self._threads.post_outbox(run, where)
        await self._requests.close_settled(latest)
        return await self._store.card_done(run_id, score) and run.terminal

    async def _first_post(
        self, run: Run, channel: str | None, card: Message
    ) -> tuple[str, str] | None:
        """Post the card where it belongs; returns (channel, ts) as stored."""
        fallback_reason = None
        incident = run.category == "incident"
        if channel is None and incident:
            channel, fallback_reason = await self._incidents.open(run)
        target = channel or run.channel or self._config.slack.ops_channel
        if target is None:
            return None
        try:
            posted = await self._once.post(run.id, "card", target, text=card.text,
                                           blocks=card.blocks)
        except SlackCallFailed as exc:
            ops = self._config.slack.ops_channel
            if exc.error not in CHANNEL_GONE or ops is None or ops == target:
                raise
            log.warning("cannot post in %s (%s); using the ops channel", target, exc.error)
            posted = await self._once.post(run.id, "card", ops, text=card.text,
                                           blocks=card.blocks)
        where = (posted.channel, posted.ts)
        self._unstored[run.id] = where
        await self._store.set_card(run.id, *where)
        del self._unstored[run.id]
        await self._once.forget(run.id, "card")
        self._stats.cards_posted += not posted.adopted
        self._stats.adopted += posted.adopted
        if posted.adopted:  # it shows the run as it was then: bring it up to date
            await self._api.call("chat.update", channel=where[0], ts=where[1], text=card.text,
                                 blocks=card.blocks)
        if incident and channel is not None:
            await self._incidents.after_post(run, where)
        if fallback_reason is not None:
            await self._incidents.say_not_opened(run, where, fallback_reason)
        return where


def _digest(message: Message) -> str:
    body = json.dumps([message.text, message.blocks], sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()
