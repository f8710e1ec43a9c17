"""What the bot says in the ops channel about the promotion freeze: set, lifted, and which runs
it paused, resumed or left paused. Queued in Redis by whoever acted (any replica, the CLI, an
incident's start) and posted by the notifier, at least once, in order."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis

from workflows import keys

__all__ = ["ANNOUNCEMENTS", "Announcement", "Announcements"]

ANNOUNCEMENTS = f"{keys.PREFIX}:announce"  # list: JSON announcements for the ops channel

# KEYS: the list   ARGV: the items posted, oldest first (pop each only while it is the head)
_ACK = """
local n = 0
for i = 1, #ARGV do
  if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[i] then break end
  redis.call('LPOP', KEYS[1])
  n = n + 1
end
return n
"""


class Announcement(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal["freeze_set", "freeze_lifted", "freeze_already_on"]
    actor: str
    scope: str  # "every environment" or an environment's name
    reason: str = ""
    run_id: str | None = None  # the incident that set it, if one did
    held: list[str] = Field(default_factory=list)  # runs that pause before their next write
    resumed: list[str] = Field(default_factory=list)
    still_paused: list[str] = Field(default_factory=list)


class Announcements:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._ack = redis.register_script(_ACK)

    async def push(self, announcement: Announcement) -> None:
        await cast("Awaitable[int]", self.redis.rpush(ANNOUNCEMENTS,
                                                      announcement.model_dump_json()))

    async def peek(self, limit: int = 20) -> list[tuple[str, Announcement | None]]:
        """The oldest queued, each with its stored form (for the ack); None: unreadable."""
        raw = await cast("Awaitable[list[bytes]]",
                         self.redis.lrange(ANNOUNCEMENTS, 0, limit - 1))
        found: list[tuple[str, Announcement | None]] = []
        for item in raw:
            text = item.decode() if isinstance(item, bytes) else str(item)
            try:
                found.append((text, Announcement.model_validate_json(text)))
            except ValueError:
                found.append((text, None))
        return found

    async def ack(self, raw: list[str]) -> None:
        await self._ack(keys=[ANNOUNCEMENTS], args=raw)
