"""What the notifier reads and writes of a run: its outbox (notifications for Slack, queued by the
commit script), the dirty-cards index (cards to render again), and where its Slack card lives. A
part of ``workflows.store.RunStore``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from redis.asyncio import Redis

from workflows import keys
from workflows.machine import Notify
from workflows.runreads import RunReads
from workflows.storeformat import text
from workflows.storescripts import ACK, CARD_DONE, TAKE

__all__ = ["Outbox", "Queued"]


@dataclass(frozen=True)
class Queued:
    """A notification still in the run's outbox: ``raw`` is how it is stored (for the ack)."""

    raw: str
    notify: Notify


class Outbox(RunReads):
    def __init__(self, redis: Redis, clock: Callable[[], datetime] | None) -> None:
        super().__init__(redis, clock)
        self._card_done = redis.register_script(CARD_DONE)
        self._take = redis.register_script(TAKE)
        self._ack = redis.register_script(ACK)

    # --- the outbox (notifications for Slack), consumed by the notifier ----------------------

    async def dirty_cards(self, limit: int = 100) -> list[str]:
        return [text(x) for x in await self._redis.zrange(keys.CARDS, 0, limit - 1)]

    async def take_outbox(self, run_id: str, limit: int = 50) -> list[Notify]:
        """Pop up to ``limit`` queued notifications, oldest first, atomically."""
        items = await self._take(keys=[keys.RunKeys(run_id).outbox], args=[limit])
        return [Notify.model_validate_json(item) for item in items]

    async def peek_outbox(self, run_id: str, limit: int = 50) -> list[Queued]:
        """Up to ``limit`` queued notifications, oldest first, left in place: the notifier posts
        each and then acknowledges it, so a crash in between posts it again (at least once)."""
        key = keys.RunKeys(run_id).outbox
        raw = await cast("Awaitable[list[bytes]]", self._redis.lrange(key, 0, limit - 1))
        return [Queued(text(item), Notify.model_validate_json(item)) for item in raw]

    async def ack_outbox(self, run_id: str, items: list[Queued]) -> int:
        """Remove ``items`` (as peeked, oldest first) from the head of the outbox; returns how
        many were still there. Items queued meanwhile are never touched."""
        if not items:
            return 0
        args = [item.raw for item in items]
        return int(await self._ack(keys=[keys.RunKeys(run_id).outbox], args=args))

    async def dirty_cards_with_scores(self, limit: int = 100) -> list[tuple[str, float]]:
        found = await self._redis.zrange(keys.CARDS, 0, limit - 1, withscores=True)
        return [(text(member), float(score)) for member, score in found]

    async def card_done(self, run_id: str, seen_score: float) -> bool:
        """Clear the dirty mark unless the run changed again after ``seen_score``."""
        return bool(await self._card_done(keys=[keys.CARDS], args=[run_id, repr(seen_score)]))

    # --- where a run's Slack card lives (written by the notifier) ----------------------------

    async def set_card(self, run_id: str, channel: str, ts: str) -> None:
        key = keys.RunKeys(run_id).card
        await cast("Awaitable[int]", self._redis.hset(key, mapping={"channel": channel, "ts": ts}))

    async def get_card(self, run_id: str) -> tuple[str, str] | None:
        """(channel, ts) of the run's message, or None before it was first posted."""
        raw = await cast(
            "Awaitable[dict[bytes, bytes]]", self._redis.hgetall(keys.RunKeys(run_id).card)
        )
        if b"channel" not in raw or b"ts" not in raw:
            return None
        return text(raw[b"channel"]), text(raw[b"ts"])
