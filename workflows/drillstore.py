"""The drill schedule's own keys: when it started, which reminders were queued in which period,
and the queue of reminders for the Slack side to post (records are the run store's)."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import cast

from redis.asyncio import Redis

from workflows import keys

__all__ = ["DrillStore"]


class DrillStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def since(self, now: datetime, *, keep: bool = True) -> datetime:
        """When the schedule started: set once, by whoever asks first (``keep=False``: only
        read it, and take ``now`` when it was never set)."""
        if keep:
            await self._redis.set(keys.DRILL_SINCE, now.isoformat(), nx=True)
        raw = await self._redis.get(keys.DRILL_SINCE)
        if raw is None:
            return now
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return datetime.fromisoformat(text)

    async def mark_reminded(
        self, kind: str, due_at: str, period: int, now: datetime, ttl: int
    ) -> bool:
        """Mark the reminder of one drill's due date in one period (``SET NX``, ``ttl``
        seconds); False: any replica marked it before."""
        mark = keys.drill_reminded_key(kind, due_at, period)
        return bool(await self._redis.set(mark, now.isoformat(), nx=True, ex=ttl))

    async def queue_reminder(self, body: str) -> None:
        await cast("Awaitable[int]", self._redis.rpush(keys.DRILL_REMINDERS, body))

    async def take_reminders(self, limit: int) -> list[bytes]:
        """Remove and return up to ``limit`` queued reminders, oldest first."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.lrange(keys.DRILL_REMINDERS, 0, limit - 1)
        pipe.ltrim(keys.DRILL_REMINDERS, limit, -1)
        items, _ = await pipe.execute()
        return list(items)
