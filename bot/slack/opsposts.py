"""What the notifier posts in the ops channel (``slack.ops_channel``), on each pass: promotion
freezes set and lifted (``workflows.announcements``), and drill reminders
(``workflows.drillscheduler``). Without an ops channel they are dropped, with a warning.

Announcements stay queued in Redis until Slack took them, and are posted under a short lock so
that two replicas do not both post one; reminders taken from the drill scheduler wait in this
replica's memory until posted.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from bot.config import BotConfig
from bot.slack.errors import SlackCallFailed, SlackRateLimited, SlackUnavailable
from bot.slack.mentions import everyone, members_of
from bot.slack.views import drill_reminder, freeze_announcement
from bot.slack.webapi import WebApi
from workflows.announcements import Announcements
from workflows.drillscheduler import DrillReminder, DrillScheduler
from workflows.outage import Outage

__all__ = ["OpsPosts"]

log = logging.getLogger("parthenon.notifier")


class OpsPosts:
    """``holder`` and ``lock_ms``: the notifier's name for its locks, and how long one lasts."""

    def __init__(
        self,
        announcements: Announcements,
        drills: DrillScheduler | None,
        config: BotConfig,
        api: WebApi,
        *,
        known_workflows: Collection[str],
        slack_outage: Outage,
        holder: str,
        lock_ms: int,
    ) -> None:
        self._announcements = announcements
        self._drills = drills
        self._config = config
        self._api = api
        self._known_workflows = known_workflows
        self._slack_outage = slack_outage
        self._holder = holder
        self._lock_ms = lock_ms
        self._reminders: list[DrillReminder] = []

    # --- the promotion freeze, said in the ops channel ----------------------------------------

    async def post_announcements(self) -> None:
        """Freezes set and lifted (workflows.announcements), oldest first, each removed once
        Slack took it; under a short lock so that two replicas do not both post one."""
        queued = await self._announcements.peek()
        if not queued:
            return
        if not await self._announcements.lock(self._holder, self._lock_ms):
            return
        try:
            queued = await self._announcements.peek()  # as they are now that the lock is ours
            channel = self._config.slack.ops_channel
            for raw, item in queued:
                if item is not None and channel is not None:
                    message = freeze_announcement(item, everyone(self._config.groups))
                    try:
                        await self._api.call("chat.postMessage", channel=channel,
                                             text=message.text, blocks=message.blocks)
                    except (SlackRateLimited, SlackUnavailable, SlackCallFailed) as exc:
                        log.warning("freeze announcement not posted yet: %s", exc)
                        return
                elif item is not None:
                    log.warning("freeze announcement dropped: no slack.ops_channel is configured")
                await self._announcements.ack([raw])
        finally:
            await self._announcements.unlock(self._holder)

    # --- drill reminders ---------------------------------------------------------------------

    async def post_reminders(self) -> None:
        if self._drills is None:
            return
        channel = self._config.slack.ops_channel
        self._reminders += await self._drills.take_reminders()
        if channel is None:
            if self._reminders:
                log.warning("drill reminders dropped: no slack.ops_channel is configured")
            self._reminders.clear()
            return
        while self._reminders:
            reminder = self._reminders[0]
            starters = members_of(self._config.groups,
                                  self._config.permission(reminder.workflow)[0])
            blocks = drill_reminder(reminder.workflow, reminder.title, reminder.text,
                                    reminder.workflow in self._known_workflows, starters)
            try:
                await self._api.call("chat.postMessage", channel=channel, text=reminder.text,
                                     blocks=blocks)
            except SlackUnavailable as exc:
                self._slack_outage.failed("slack", exc)
                return
            except (SlackRateLimited, SlackCallFailed) as exc:
                log.warning("drill reminder not posted yet: %s", exc)
                return
            self._reminders.pop(0)
