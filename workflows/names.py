"""People's names cached in Redis for a day (``bot.slack.people`` asks Slack for the rest)."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from workflows import keys

__all__ = ["NameCache"]


class NameCache:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def get(self, users: Sequence[str]) -> list[str | None]:
        """The cached name of each of ``users``, None where none is cached."""
        raw = await self._redis.mget([keys.display_name_key(u) for u in users])
        return [(v.decode() if isinstance(v, bytes) else str(v)) if v else None for v in raw]

    async def put(self, user: str, name: str, seconds: int) -> None:
        await self._redis.set(keys.display_name_key(user), name, ex=seconds)
