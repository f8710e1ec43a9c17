"""What the bot says in the ops channel about the promotion freeze: set, lifted, and which runs
it paused, resumed or left paused. Queued in Redis by whoever acted (any replica, the CLI, an
incident's start) and posted by the notifier, at least once, in order."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis

from workflows import keys
from workflows.storescripts import ACK, LEASE

__all__ = ["ANNOUNCEMENTS", "Announcement", "Announcements"]

ANNOUNCEMENTS = keys.ANNOUNCEMENTS


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
        self._redis = redis
        self._ack = redis.register_script(ACK)  # the outbox's: pop each only while the head
        self._lease = redis.register_script(LEASE)

    async def push(self, announcement: Announcement) -> None:
        await cast("Awaitable[int]", self._redis.rpush(ANNOUNCEMENTS,
                                                      announcement.model_dump_json()))

    async def peek(self, limit: int = 20) -> list[tuple[str, Announcement | None]]:
        """The oldest queued, each with its stored form (for the ack); None: unreadable."""
        raw = await cast("Awaitable[list[bytes]]",
                         self._redis.lrange(ANNOUNCEMENTS, 0, limit - 1))
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

    async def lock(self, holder: str, ms: int) -> bool:
        """Take the short lock of whoever posts them (so two replicas do not both post one)."""
        return bool(await self._redis.set(keys.ANNOUNCEMENTS_LOCK, holder, nx=True, px=ms))

    async def unlock(self, holder: str) -> None:
        """Give the lock back, only if ``holder`` still holds it (a lease released: ttl 0)."""
        await self._lease(keys=[keys.ANNOUNCEMENTS_LOCK], args=[holder, "0"])
