"""An incident run's own channel, opened by the notifier before the run's first card.

The channel is ``inc-<yyyymmdd>-<kind>-<n>`` (the next n when a name is taken), private or not by
the incident's kind (``incidents:`` in the config), with the configured responders, the invited
groups and the initiator invited; once the card is posted there it is pinned, and the run's own
channel is told where the incident runs. If the channel cannot be created (a missing scope), the
card goes to the run's channel and the thread says why.
"""

from __future__ import annotations

import contextlib
import logging
import re

from bot.config import BotConfig
from bot.incidentsconfig import incident_kind
from bot.slack.errors import SlackCallFailed
from bot.slack.escape import code, inline
from bot.slack.mentions import members_of
from bot.slack.views import notice
from bot.slack.webapi import WebApi
from workflows.model import Run
from workflows.store import RunStore

__all__ = ["IncidentChannels", "incident_channel_name"]

log = logging.getLogger("parthenon.notifier")

_NAME_CLEAN = re.compile(r"[^a-z0-9-]+")


def incident_channel_name(run: Run, n: int) -> str:
    kind = _NAME_CLEAN.sub("-", incident_kind(run.workflow).lower()).strip("-")
    return f"inc-{run.created_at:%Y%m%d}-{kind or 'incident'}-{n}"[:80]


class IncidentChannels:
    def __init__(self, store: RunStore, config: BotConfig, api: WebApi) -> None:
        self._store = store
        self._config = config
        self._api = api

    async def open(self, run: Run) -> tuple[str | None, str | None]:
        """(channel id, None) or (None, why it could not be created)."""
        for n in range(1, 51):
            name = incident_channel_name(run, n)
            try:
                created = await self._api.call(
                    "conversations.create", name=name,
                    is_private=self._config.incidents.is_private(run.workflow))
            except SlackCallFailed as exc:
                if exc.error == "name_taken":
                    continue
                log.warning("incident channel %s not created: %s", name, exc.error)
                return None, exc.error
            channel = str(created["channel"]["id"])
            await self._store.set_card(run.id, channel, "")  # remembered before anything else
            await self._invite(run, channel)
            return channel, None
        return None, "name_taken"

    async def _invite(self, run: Run, channel: str) -> None:
        invited = self._config.incidents.invite_groups(frozenset(self._config.groups))
        users = members_of(self._config.groups,
                           (*self._config.slack.incident_responders, *invited))
        users |= {run.initiator}
        users = {u for u in users if u}
        if not users:
            return
        try:
            await self._api.call("conversations.invite", channel=channel,
                                 users=",".join(sorted(users)))
        except SlackCallFailed as exc:
            if exc.error == "already_in_channel":
                return
            for user in sorted(users):  # one refused id must not keep the others out
                with contextlib.suppress(SlackCallFailed):
                    await self._api.call("conversations.invite", channel=channel, users=user)

    async def after_post(self, run: Run, where: tuple[str, str]) -> None:
        """The card is posted in the incident's channel: pin it, and point the run's channel
        there."""
        with contextlib.suppress(SlackCallFailed):
            await self._api.call("pins.add", channel=where[0], timestamp=where[1])
        if run.channel and run.channel != where[0]:
            text = (f":rotating_light: *{inline(run.title, 150)}* ({code(run.id, 40)}) is run in "
                    f"<#{where[0]}>; its checklist is pinned there.")
            with contextlib.suppress(SlackCallFailed):
                await self._api.call("chat.postMessage", channel=run.channel, text=text,
                                     blocks=notice(text).blocks)

    async def say_not_opened(self, run: Run, where: tuple[str, str], reason: str) -> None:
        """In the card's thread: no incident channel could be opened, and why."""
        hint = _scope_hint(reason, self._config.incidents.is_private(run.workflow))
        text = (f":warning: No incident channel could be opened ({code(reason, 60)}"
                f"{hint}); the incident runs here.")
        await self._api.call("chat.postMessage", channel=where[0], thread_ts=where[1], text=text,
                             blocks=notice(text).blocks)


def _scope_hint(error: str, private: bool = False) -> str:
    if error == "missing_scope":
        return f": the app needs the {'groups:write' if private else 'channels:manage'} scope"
    if error == "restricted_action":
        return ": the workspace does not let apps create channels"
    return ""
