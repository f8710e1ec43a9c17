"""Leases and timers: the due index (when each run next needs a worker) and the lease a worker
takes on a run, whose fencing token every commit made under it carries. A part of
``workflows.store.RunStore``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis

from workflows import keys
from workflows.machine import wake_at
from workflows.model import Run
from workflows.runreads import RunReads
from workflows.storeformat import text, to_ms
from workflows.storescripts import CLAIM, LEASE

__all__ = ["Leases"]


class Leases(RunReads):
    def __init__(self, redis: Redis, clock: Callable[[], datetime] | None) -> None:
        super().__init__(redis, clock)
        self._claim = redis.register_script(CLAIM)
        self._lease = redis.register_script(LEASE)

    async def due(self, now: datetime, limit: int = 100) -> list[str]:
        found = await self._redis.zrangebyscore(keys.DUE, "-inf", to_ms(now), start=0, num=limit)
        return [text(x) for x in found]

    async def due_count(self, now: datetime) -> int:
        """How many runs are due by ``now`` (for /metrics)."""
        return int(await self._redis.zcount(keys.DUE, "-inf", to_ms(now)))

    async def wake(self, run_id: str, at: datetime) -> None:
        await self._redis.zadd(keys.DUE, {run_id: to_ms(at)}, lt=True)

    async def claim(self, run_id: str, worker: str, ttl_ms: int) -> str | None:
        """Take the run's lease; the token fences every commit made under it."""
        k = keys.RunKeys(run_id)
        token = await self._claim(keys=[k.lease, k.fence, k.run], args=[worker, ttl_ms])
        if token is None:
            # Someone holds it: look again when their lease would have run out. The holder may
            # release in between (it gives the lease back, then sets the due time): when the
            # lease is gone after our write, the run is due now, not at the old lease's end.
            left = await self._redis.pttl(k.lease)
            if left > 0:
                await self._redis.zadd(keys.DUE, {run_id: to_ms(self.now()) + left}, xx=True)
                if not await self._redis.exists(k.lease):
                    await self._redis.zadd(keys.DUE, {run_id: to_ms(self.now())}, xx=True)
            return None
        await self._redis.zadd(keys.DUE, {run_id: to_ms(self.now()) + ttl_ms}, xx=True)
        return text(token)

    async def renew(self, run_id: str, token: str, ttl_ms: int) -> bool:
        return bool(await self._lease(keys=[keys.RunKeys(run_id).lease], args=[token, ttl_ms]))

    async def release(self, run_id: str, token: str, known: Run | None = None) -> None:
        """Give the lease back; the due index is set from the run as stored (``known``: as the
        worker last committed it, which saves a read when nobody changed it since)."""
        run = known
        if run is None or await self._version(run_id) != run.version:
            run = await self.load(run_id)
        when = wake_at(run, self.now()) if run is not None else None
        # The lease first, then the due time: a worker whose claim failed meanwhile sees the
        # lease gone after it wrote the old lease's end, or has its write overwritten here.
        await self._lease(keys=[keys.RunKeys(run_id).lease], args=[token, 0])
        if when is None:
            await self._redis.zrem(keys.DUE, run_id)
        else:
            await self._redis.zadd(keys.DUE, {run_id: to_ms(when)})
        # A command may have committed between our read and the index write: look again.
        if run is not None and await self._version(run_id) != run.version:
            latest = await self.load(run_id)
            again = wake_at(latest, self.now()) if latest is not None else None
            if again is not None:
                await self.wake(run_id, again)
