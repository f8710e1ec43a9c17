"""The Slack side's keys of a run, beside its card: the card's lock, the request messages still
open in its thread, the intents of messages being posted, and export marks.

All of them sit under the run's card key (``workflows.keys``), in the run's hash slot. The card's
location and the outbox themselves are the run store's (they change in the run's commit).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import cast

from redis.asyncio import Redis

from workflows import keys
from workflows.storescripts import LEASE

__all__ = ["CardStore"]

# KEYS: outbox, posting   ARGV: the posted item, its role
# (take it off the outbox if it is still the head, count it, forget its intent)
_NOTE_POSTED = """
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then return 0 end
redis.call('LPOP', KEYS[1])
redis.call('HINCRBY', KEYS[2], 'notes', 1)
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
"""


class CardStore:
    """What the notifier, ``bot.slack.postonce`` and the export keep per run in Redis."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._lease = redis.register_script(LEASE)
        self._note_posted = redis.register_script(_NOTE_POSTED)

    # --- the card's lock (one replica at a time works on a card) --------------------------------

    async def lock(self, run_id: str, holder: str, ms: int) -> bool:
        """Take the card's lock for ``ms``; True also when ``holder`` holds it already (a lock of
        ours left behind when Redis went away is ours to use)."""
        key = keys.card_lock_key(run_id)
        if await self._redis.set(key, holder, nx=True, px=ms):
            return True
        return bool(await self._redis.get(key) == holder.encode())

    async def unlock(self, run_id: str, holder: str) -> None:
        """Give the lock back, only if ``holder`` still holds it (a lease released: ttl 0)."""
        await self._lease(keys=[keys.card_lock_key(run_id)], args=[holder, "0"])

    # --- request messages open in the thread --------------------------------------------------

    async def keep_request(self, run_id: str, field: str, value: str) -> None:
        await cast("Awaitable[int]", self._redis.hset(keys.requests_key(run_id), field, value))

    async def open_requests(self, run_id: str) -> dict[str, bytes]:
        raw = await cast("Awaitable[dict[bytes, bytes]]",
                         self._redis.hgetall(keys.requests_key(run_id)))
        return {(f.decode() if isinstance(f, bytes) else str(f)): v for f, v in raw.items()}

    async def drop_request(self, run_id: str, field: str) -> None:
        await cast("Awaitable[int]", self._redis.hdel(keys.requests_key(run_id), field))

    # --- posting intents (bot.slack.postonce) -------------------------------------------------

    async def intent(self, run_id: str, role: str) -> bytes | None:
        return await cast("Awaitable[bytes | None]",
                          self._redis.hget(keys.posting_key(run_id), role))

    async def put_intent(self, run_id: str, role: str, raw: str) -> None:
        await cast("Awaitable[int]", self._redis.hset(keys.posting_key(run_id), role, raw))

    async def forget_intent(self, run_id: str, role: str) -> None:
        await cast("Awaitable[int]", self._redis.hdel(keys.posting_key(run_id), role))

    async def note_number(self, run_id: str) -> int:
        """How many thread notifications of the run were posted."""
        raw = await cast("Awaitable[bytes | None]",
                         self._redis.hget(keys.posting_key(run_id), "notes"))
        return int(raw or 0)

    async def note_posted(self, run_id: str, raw: str, role: str) -> bool:
        """Take the posted notification off the outbox (if still at its head), count it, and
        forget its intent, atomically."""
        outbox = keys.RunKeys(run_id).outbox
        return bool(await self._note_posted(keys=[outbox, keys.posting_key(run_id)],
                                            args=[raw, role]))

    # --- export marks -------------------------------------------------------------------------

    async def mark_export(self, run_id: str, dedup: str, taken_by: str, seconds: int) -> bool:
        """Take the export request (``SET NX`` for ``seconds``); False: taken before."""
        mark = keys.export_mark_key(run_id, dedup)
        return bool(await self._redis.set(mark, taken_by, nx=True, ex=seconds))

    async def export_mark(self, run_id: str, dedup: str) -> str | None:
        """Who took the export request (a delivery or a user), if it is still marked."""
        raw = await self._redis.get(keys.export_mark_key(run_id, dedup))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def drop_export_mark(self, run_id: str, dedup: str) -> None:
        await self._redis.delete(keys.export_mark_key(run_id, dedup))
