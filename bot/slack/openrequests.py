"""The approval, skip and confirmation requests the notifier posted in runs' threads.

Each request posted with buttons is remembered, next to the card's keys (``workflows.cardstore``);
once the run settles it (approved, rejected, expired, skipped, confirmed, the run ended), the next
card sync updates the message (its buttons go, and it says what happened) and forgets it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.config import BotConfig
from bot.slack.errors import SlackCallFailed
from bot.slack.mentions import everyone
from bot.slack.views import (
    Message,
    OpenRequest,
    posted_request,
    request_outcome,
    resolved_request,
)
from bot.slack.webapi import CHANNEL_GONE, WebApi
from workflows.machine import Notify
from workflows.model import Run
from workflows.store import RunStore

if TYPE_CHECKING:
    from bot.slack.notifier import NotifierStats

__all__ = ["OpenRequests"]


class OpenRequests:
    def __init__(
        self, store: RunStore, api: WebApi, config: BotConfig, stats: NotifierStats
    ) -> None:
        self._store = store
        self._api = api
        self._config = config
        self._stats = stats

    async def keep(self, run: Run, note: Notify, message: Message, channel: str, ts: str) -> None:
        """Remember the thread message just posted for ``note``, when it is a request."""
        request = posted_request(run, note, message, channel, ts)
        if request is not None and ts:
            await self._store.cards.keep_request(run.id, request.field, request.dump())

    async def close_settled(self, run: Run) -> None:
        """Settled requests in the thread lose their buttons and say what happened. One read per
        card sync (syncs are coalesced); an update only when a request was settled."""
        raw = await self._store.cards.open_requests(run.id)
        for field, value in raw.items():
            request = OpenRequest.load(value)
            outcome = (request_outcome(run, request, everyone(self._config.groups))
                       if request else None)
            if request is not None and outcome is None:
                continue
            if request is not None and outcome is not None:
                message = resolved_request(run, request, outcome)
                try:
                    await self._api.call("chat.update", channel=request.channel, ts=request.ts,
                                         text=message.text, blocks=message.blocks)
                except SlackCallFailed as exc:
                    if exc.error != "message_not_found" and exc.error not in CHANNEL_GONE:
                        raise
                self._stats.requests_closed += 1
            await self._store.cards.drop_request(run.id, field)
