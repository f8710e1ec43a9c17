"""The run store: every change to a run applied atomically in Redis, with its audit record.

One Lua script per change checks the run's version (and, for workers, the fencing token of the
lease), writes the new run, appends the event to the run's audit stream, records the idempotency
ledger entry and the de-duplication key, and queues notifications, all in the run's hash slot.
A version mismatch comes back as ``CommitStatus.CONFLICT``: the caller re-reads and re-applies.
Global indexes (due timers, active runs, dirty cards) are updated around the script so that a
crash between the two can only wake a run early, never lose it.

``RunStore`` is put together from parts, one module each: ``runreads`` (reading runs; the base of
every part), ``storecommit`` (the commit script's arguments and the group commit that writes them),
``storescripts`` (the Lua scripts), ``leases`` (leases and the due index), ``envlocks``
(environment locks), ``runretention`` (the finished and archived indexes, snapshots, deleting an
archived run), ``outbox`` (what the notifier reads), ``auditlog`` and ``sharedrecords`` (records
that belong to no run); ``storeformat`` is how values are encoded. Here: creating and committing
runs. Applying an event (read, transition, commit, again on a conflict) is ``workflows.apply``:
the store never runs the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis

from workflows import keys
from workflows.announcements import Announcements
from workflows.auditlog import AuditLog, audit_fields
from workflows.cardstore import CardStore
from workflows.drillstore import DrillStore
from workflows.envlocks import EnvironmentLocks
from workflows.freezes import FreezeBook
from workflows.leases import Leases
from workflows.machine import Notify, wake_at
from workflows.model import Event, Run
from workflows.names import NameCache
from workflows.outbox import Outbox
from workflows.runretention import Retention
from workflows.sharedrecords import SharedRecords
from workflows.storecommit import CommitOutcome, CommitStatus, CommitWriter, LedgerWrite
from workflows.storeformat import text, to_ms

__all__ = ["RunStore"]


class RunStore(Leases, EnvironmentLocks, Retention, Outbox, AuditLog, SharedRecords):
    """Owns every Redis key of the workflow layer (names in ``workflows.keys``); the keys beside
    the runs are kept by the small stores it holds: ``cards`` (the Slack side's keys of a run),
    ``drills`` (the drill schedule), ``freezes``, ``announcements`` and ``names``. Nothing else
    holds its Redis client."""

    def __init__(self, redis: Redis, *, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(redis, clock)  # each part registers its scripts
        self.cards = CardStore(redis)
        self.drills = DrillStore(redis)
        self.freezes = FreezeBook(redis, self.now)
        self.announcements = Announcements(redis)
        self.names = NameCache(redis)
        self._commits = CommitWriter(redis, self.now, self._single_slot_indexes)

    async def create(
        self, run: Run, *, actor: str, takeover_from: str | None = None
    ) -> CommitOutcome:
        """Store a new run (version 0 -> its version); refused as CONFLICT if the id exists,
        as LOCKED (detail ``environment=holder``) if another run holds one of ``run.locks``
        (``takeover_from``: the run whose locks this one may take over). The locks are taken in
        the same script as the run is written (one server)."""
        taken: list[str] = []  # Cluster: the locks taken apart now (not those already its)
        if not self._single_slot_indexes and run.locks:
            refused, taken = await self._take_locks_apart(run.id, run.locks, takeover_from)
            if refused is not None:
                return CommitOutcome(CommitStatus.LOCKED, None, refused)
        await self._redis.zadd(keys.ACTIVE, {run.id: to_ms(run.created_at)})
        if not self._single_slot_indexes:
            await self._touch_indexes(run)
        detail = {"title": run.title, "params": run.params, "locks": run.locks}
        if takeover_from:
            detail["took_over_from"] = takeover_from
        fields = audit_fields(self.now(), "run_created", actor, None, run.version, detail)
        outcome = await self._commits.write(run, 0, fields, token=None, ledger=None,
                                            dedup_key=None, effects=[], with_plan=True,
                                            locks=("take", run.locks, takeover_from or ""))
        if outcome.status is not CommitStatus.OK:
            if outcome.status is CommitStatus.LOCKED:
                await self._redis.zrem(keys.ACTIVE, run.id)
            if taken:
                await self._lock_apart(taken, "restore", run.id, takeover_from or "")
        return outcome

    async def reserve_start(self, dedup_key: str, run_id: str) -> str:
        """The run id a delivered start command owns: ours if first, else the first one's."""
        key = keys.start_key(dedup_key)
        if await self._redis.set(key, run_id, nx=True, ex=86_400):
            return run_id
        existing = await self._redis.get(key)
        return text(existing) if existing is not None else run_id

    async def commit(
        self,
        old: Run,
        new: Run,
        event: Event,
        effects: list[Notify],
        *,
        token: str | None = None,
        ledger: LedgerWrite | None = None,
        dedup_key: str | None = None,
    ) -> CommitOutcome:
        """Write ``new`` if the stored run is still ``old``'s version; audit ``event``."""
        actor = getattr(event, "actor", None)
        step_id = getattr(event, "step_id", None)
        detail = event.model_dump(mode="json", exclude={"type", "actor", "groups", "step_id"})
        fields = audit_fields(self.now(), event.type, actor, step_id, new.version, detail)
        if not self._single_slot_indexes:
            await self._touch_indexes(new)
        # A run's locks are released in the commit that ends it.
        ending = new.terminal and not old.terminal and bool(new.locks)
        outcome = await self._commits.write(new, old.version, fields, token=token, ledger=ledger,
                                            dedup_key=dedup_key, effects=effects,
                                            locks=("release", new.locks, "") if ending else None)
        if outcome.status is CommitStatus.OK and new.terminal:
            if ending and not self._single_slot_indexes:
                await self._lock_apart(new.locks, "release", new.id, "")
            await self._finished(new)
        return outcome

    async def _touch_indexes(self, run: Run) -> None:
        """On Cluster the indexes live in other slots: update them first, so a crash between
        them and the write can only wake a run early or re-render a card, never miss one."""
        now = self.now()
        pipe = self._redis.pipeline(transaction=False)
        when = wake_at(run, now)
        if when is not None:
            pipe.zadd(keys.DUE, {run.id: to_ms(when)}, lt=True)
        pipe.zadd(keys.CARDS, {run.id: to_ms(now)})
        await pipe.execute()
