"""Environment locks: one run at a time holds each of the environments it declares
(``Run.locks``). On one server a run takes its locks in the commit that creates it and gives them
back in the commit that ends it (``workflows.storecommit``); on Cluster a lock lives in another
slot than the run, so it is taken and given back on its own, around the commit (here). A part of
``workflows.store.RunStore``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis

from workflows import keys
from workflows.runreads import RunReads
from workflows.storeformat import text
from workflows.storescripts import LOCK, LOCKS

__all__ = ["EnvironmentLocks", "lock_refusal"]


def lock_refusal(detail: str) -> tuple[str, str]:
    """(environment, holding run) of a lock refused as ``'<lock key>=<holder>'`` (a LOCKED
    commit's detail, ``retake_locks``)."""
    key, _, holder = detail.partition("=")
    return key.rsplit(":", 1)[-1], holder


class EnvironmentLocks(RunReads):
    def __init__(self, redis: Redis, clock: Callable[[], datetime] | None) -> None:
        super().__init__(redis, clock)
        self._lock = redis.register_script(LOCK)
        self._locks = redis.register_script(LOCKS)

    async def release_locks(self, run_id: str, environments: list[str]) -> None:
        """Give up the locks ``run_id`` holds (a take-over); others' are never touched."""
        if not environments:
            return
        if self._single_slot_indexes:
            await self._locks(keys=[keys.lock_key(e) for e in environments],
                              args=["release", run_id])
        else:
            await self._lock_apart(environments, "release", run_id, "")

    async def retake_locks(self, run_id: str, environments: list[str]) -> str | None:
        """Take the run's locks back (resuming after a take-over): all of them, or none and
        ``'<lock key>=<holder>'`` of one another run holds."""
        if not environments:
            return None
        if self._single_slot_indexes:
            held = await self._locks(keys=[keys.lock_key(e) for e in environments],
                                     args=["retake", run_id])
            return text(held) if held is not None else None
        refused, _ = await self._take_locks_apart(run_id, environments, None)
        return refused

    async def lock_holder(self, environment: str) -> str | None:
        raw = await self._redis.get(keys.lock_key(environment))
        return text(raw) if raw is not None else None

    async def _take_locks_apart(
        self, run_id: str, environments: list[str], takeover_from: str | None
    ) -> tuple[str | None, list[str]]:
        """Cluster: take each lock on its own (another slot); undo on the first refusal.
        (``'<lock key>=<holder>'`` of a refusal or None, the environments taken now): a lock
        the run already held (the same run created again, a resume) is not taken now, so
        giving back what was taken never frees it."""
        taken: list[str] = []
        for environment in environments:
            key = keys.lock_key(environment)
            holder = await self._lock(keys=[key], args=["take", run_id, takeover_from or ""])
            if holder not in (None, 1) and await self._ended(text(holder)):
                # the holder ended, and its replica died before giving the lock back (apart
                # from the commit that ended it, here): free; taken if still the ended run's
                holder = await self._lock(keys=[key], args=["take", run_id, text(holder)])
            if holder == 1:
                continue  # the run's already
            if holder is not None:
                await self._lock_apart(taken, "restore", run_id, takeover_from or "")
                return f"{key}={text(holder)}", []
            taken.append(environment)
        return None, taken

    async def _ended(self, run_id: str) -> bool:
        """Whether the run named by a lock has ended (terminal, or archived since): it writes
        no more. A run not (yet) in Redis may be one being created: not ended."""
        run = await self.load(run_id)
        if run is not None:
            return run.terminal
        return await self._redis.zscore(keys.ARCHIVED, run_id) is not None

    async def _lock_apart(self, environments: list[str], op: str, owner: str,
                          previous: str) -> None:
        for environment in environments:
            await self._lock(keys=[keys.lock_key(environment)], args=[op, owner, previous])
