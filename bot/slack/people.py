"""People's names for text where Slack does not render a mention: an exported incident log (code
blocks in a thread, or a Markdown file someone reads months later) shows "Ana Lopez (U0AB12)",
not a bare user id.

Names come from ``users.info`` (scope ``users:read``), the profile's real name, else its display
name, else the account name, and are cached in Redis for a day (one call per person per day
however many exports: ``workflows.names``). A person Slack does not answer for keeps the bare
id: a name is a convenience, never a reason for an export to fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterable
from typing import Any

from redis.exceptions import RedisError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.apifailure import AFTER_ACK_FAILURES
from workflows.names import NameCache
from workflows.userid import USER_ID_PATTERN

__all__ = ["NAME_TTL_SECONDS", "display_names", "name_of"]

NAME_TTL_SECONDS = 24 * 3600
_USER = re.compile(USER_ID_PATTERN)
_AT_ONCE = 8  # users.info calls in flight for one export (Tier 4: ~100/min)
_MAX_PEOPLE = 100  # an export names at most this many people; the rest keep their ids


def name_of(user: dict[str, Any]) -> str | None:
    """The name a person goes by, from a ``users.info`` user object."""
    raw = user.get("profile")
    profile: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for value in (profile.get("real_name"), profile.get("display_name"), user.get("real_name"),
                  user.get("name")):
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:80]
    return None


async def display_names(
    client: AsyncWebClient, cache: NameCache, users: Iterable[str]
) -> dict[str, str]:
    """user id -> name for the Slack user ids among ``users`` (others, like the bot's own
    actor names, are left out); cached names first, ``users.info`` for the rest."""
    wanted = sorted({u for u in users if isinstance(u, str) and _USER.match(u)})[:_MAX_PEOPLE]
    if not wanted:
        return {}
    names: dict[str, str] = {}
    try:
        cached = await cache.get(wanted)
    except RedisError:
        cached = [None] * len(wanted)
    missing = []
    for user, value in zip(wanted, cached, strict=True):
        if value:
            names[user] = value
        else:
            missing.append(user)
    gate = asyncio.Semaphore(_AT_ONCE)

    async def look_up(user: str) -> None:
        async with gate:
            try:
                answer = await client.users_info(user=user)
            except AFTER_ACK_FAILURES:
                return
        found = answer.get("user")
        name = name_of(found) if isinstance(found, dict) else None
        if name is None:
            return
        names[user] = name
        with contextlib.suppress(RedisError):
            await cache.put(user, name, NAME_TTL_SECONDS)

    await asyncio.gather(*(look_up(u) for u in missing))
    return names
