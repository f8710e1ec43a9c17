"""A run's queued notifications (approval requests, failures, the end) posted in its card's
thread, oldest first.

Notifications stay in the run's outbox in Redis until they are posted: each is peeked, posted,
then acknowledged (trimmed), under the card's lock. One that could not be posted yet is tried again
on the next pass, by this replica or another. Each is posted once through any crash
(``bot.slack.postonce``, as the run's ``note:<n>``), mentions the people who can act on it
(``bot.slack.mentions``), and is remembered when it is a request (``bot.slack.openrequests``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.config import BotConfig
from bot.slack.mentions import everyone, mentioned
from bot.slack.openrequests import OpenRequests
from bot.slack.postonce import PostOnce, digest_of
from bot.slack.views import thread_message
from workflows.machine import Notify
from workflows.model import Run
from workflows.store import RunStore

if TYPE_CHECKING:
    from bot.slack.notifier import NotifierStats

__all__ = ["ThreadPosts"]

_OUTBOX_BATCH = 50  # notifications read from the outbox at a time


class ThreadPosts:
    def __init__(
        self,
        store: RunStore,
        once: PostOnce,
        config: BotConfig,
        requests: OpenRequests,
        stats: NotifierStats,
    ) -> None:
        self._store = store
        self._once = once
        self._config = config
        self._requests = requests
        self._stats = stats

    async def post_outbox(self, run: Run, where: tuple[str, str]) -> Run:
        """Post the run's queued notifications in its thread, oldest first; each is removed from
        the outbox only once Slack took it (a failure leaves it, and the rest, for later).
        Returns the run as last read (requests are rendered from the latest state)."""
        latest: Run | None = None
        while queued := await self._store.peek_outbox(run.id, _OUTBOX_BATCH):
            latest = latest or await self._store.load(run.id) or run
            number = await self._once.note_number(run.id)
            for item in queued:
                note, role = item.notify, f"note:{number}"
                message = thread_message(latest, note, self._members(latest, note),
                                         everyone(self._config.groups))
                posted = await self._once.post(run.id, role, where[0], thread_ts=where[1],
                                               digest=digest_of(item.raw), text=message.text,
                                               blocks=message.blocks)
                self._stats.thread_posts += not posted.adopted
                self._stats.adopted += posted.adopted
                await self._requests.keep(latest, note, message, where[0], posted.ts)
                if not await self._once.note_posted(run.id, item.raw, role):
                    break  # taken off by someone else meanwhile: read the outbox again
                number += 1
            else:
                if len(queued) < _OUTBOX_BATCH:
                    break
        return latest or run

    def _members(self, run: Run, note: Notify) -> set[str]:
        """The people the note mentions: those who can act on it (bot.slack.mentions)."""
        return mentioned(run, note, self._config.groups, self._config.permission(run.workflow)[1])
