"""Groups that follow Slack user groups (`groups: {release-managers: {slack_usergroup: S...}}`).

Their members are read with `usergroups.users.list`, at start, every `refresh` seconds, and at
once when Slack sends `subteam_members_changed` for the user group. What a replica reads it
shares through Redis, and every replica applies the shared membership every `poll` seconds, so a
change seen by one replica reaches the others within seconds. The config's ``groups`` mapping is
updated in place: every check (who may approve, start, operate, confirm; who is mentioned) reads
it at the moment it is made, so membership is judged at the click. Until a user group has been
read once, its group is empty: nobody can act for it (closed, never open).
"""

from __future__ import annotations

import asyncio
import logging
import time

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import BotConfig
from bot.slack.apifailure import AFTER_ACK_FAILURES, slack_failure
from workflows.outage import Outage, run_every
from workflows.store import RunStore

__all__ = ["UserGroupSync"]

log = logging.getLogger("parthenon.usergroups")


class UserGroupSync:
    def __init__(
        self,
        config: BotConfig,
        client: AsyncWebClient,
        store: RunStore,
        *,
        refresh: float = 300.0,
        poll: float = 2.0,
    ) -> None:
        self.config = config
        self.client = client
        self.store = store
        self.refresh_every = refresh
        self.poll = poll
        self._stopping = asyncio.Event()
        self._wanted = asyncio.Event()
        self.outage = Outage("usergroups", log)
        self._last_read = float("-inf")  # when refresh() last read every user group

    @property
    def followed(self) -> dict[str, str]:
        return self.config.slack_usergroups

    async def refresh(self, only: str | None = None) -> None:
        """Read the members of every followed user group (or of subteam ``only``) from Slack,
        share them in Redis and apply them here. A user group Slack will not list keeps the
        members it had (logged): a Slack hiccup does not empty a group in the middle of a run."""
        for group, subteam in sorted(self.followed.items()):
            if only is not None and subteam != only:
                continue
            try:
                answer = await self.client.usergroups_users_list(usergroup=subteam)
            except AFTER_ACK_FAILURES as exc:
                log.warning("usergroups.users.list for %s (%s) failed: %s; keeping its members",
                            group, subteam, slack_failure(exc))
                continue
            users = answer.get("users")
            if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
                log.warning("usergroups.users.list for %s (%s) gave no list of users", group,
                            subteam)
                continue
            members = frozenset(users)
            await self.store.put_usergroup(group, sorted(members))
            self._apply(group, members)

    async def apply_shared(self) -> None:
        """Take the membership another replica (or this one) read last."""
        for group, members in (await self.store.usergroups()).items():
            if group in self.followed:
                self._apply(group, frozenset(members))

    def _apply(self, group: str, members: frozenset[str]) -> None:
        before = self.config.groups.get(group, frozenset())
        if before == members:
            return
        self.config.groups[group] = members  # the one place groups change after load
        log.info("group %s now has %d members (Slack user group %s): +%d -%d", group,
                 len(members), self.followed[group], len(members - before), len(before - members),
                 extra={"group": group})

    def changed(self, subteam: str) -> None:
        """Slack said the user group's members changed: read it again now."""
        if subteam in self.followed.values():
            self._wanted.set()

    async def run_forever(self, until: asyncio.Event | None = None) -> None:
        if until is not None:
            self._stopping = until
        await run_every(self.poll, self._pass, self.outage, self._stopping, wake=self._wanted)

    async def _pass(self) -> None:
        """Read Slack when asked to or every ``refresh_every``; else take the shared reading."""
        if self._wanted.is_set() or time.monotonic() - self._last_read >= self.refresh_every:
            self._wanted.clear()
            await self.refresh()
            self._last_read = time.monotonic()
        else:
            await self.apply_shared()

    def stop(self) -> None:
        self._stopping.set()
