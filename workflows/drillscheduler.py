"""Drill records in Redis and the loop that queues a reminder when a drill falls due.

``DrillBook`` keeps each kind's last passed run (the named record the drill's final step writes)
and answers ``schedule(now)`` / ``due_drills(now)``. ``DrillScheduler.tick`` queues one
``DrillReminder`` per due drill per reminder period; the mark is a ``SET NX`` so any number of
replicas together queue it once (``workflows.drillstore``). The Slack side drains the queue
with ``take_reminders`` and posts each with a button that starts ``reminder.workflow``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, ValidationError

from workflows.drills import (
    DrillDue,
    DrillKind,
    DrillRecord,
    due_drills,
    record_name,
    schedule,
)
from workflows.outage import Outage, run_every
from workflows.store import RunStore

__all__ = ["DrillBook", "DrillReminder", "DrillScheduler"]

log = logging.getLogger("parthenon.drills")


class DrillReminder(BaseModel):
    """A reminder for the ops channel: what is due, since when, which workflow starts it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: DrillKind
    workflow: str
    title: str
    due_at: datetime
    overdue_days: int
    last_run_at: datetime | None = None
    last_run_id: str | None = None
    queued_at: datetime
    text: str


class DrillBook:
    """Drill records through the run store's named records."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    async def record_of(self, kind: DrillKind) -> DrillRecord | None:
        raw = await self.store.get_record(record_name(kind))
        if not raw:
            return None
        try:
            return DrillRecord.model_validate({**raw, "kind": kind})
        except ValidationError:
            log.warning("unreadable drill record for %s; treated as never run", kind)
            return None

    async def records(self) -> dict[DrillKind, DrillRecord | None]:
        return {kind: await self.record_of(kind) for kind in DrillKind}

    async def record(self, record: DrillRecord) -> None:
        """Keep ``record`` as the kind's last passed run (only passed runs move the schedule)."""
        if record.passed:
            await self.store.put_record(record_name(record.kind), record.model_dump(mode="json"))

    async def since(self, now: datetime, *, keep: bool = True) -> datetime:
        """When the schedule started: set once, by whoever asks first (``keep=False``: only
        read it, and take ``now`` when it was never set)."""
        return await self.store.drills.since(now, keep=keep)

    async def schedule(self, now: datetime, *, keep: bool = True) -> list[DrillDue]:
        """Every drill with its next due date (for App Home and `/parthenon runs`)."""
        return schedule(await self.records(), now, since=await self.since(now, keep=keep))

    async def due_drills(self, now: datetime) -> list[DrillDue]:
        return due_drills(await self.records(), now, since=await self.since(now))


class DrillScheduler:
    """Looks at the schedule every ``interval`` and queues reminders for due drills."""

    def __init__(
        self,
        book: DrillBook,
        *,
        interval: timedelta = timedelta(minutes=5),
        remind_every: timedelta = timedelta(days=1),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.book = book
        self.interval = interval
        self.remind_every = remind_every
        self._clock = clock or book.store.now
        self._stopping = asyncio.Event()
        self.outage = Outage("drills", log)

    async def tick(self, now: datetime | None = None) -> list[DrillReminder]:
        """Queue a reminder for each due drill not yet reminded in this period; return them."""
        now = now or self._clock()
        queued: list[DrillReminder] = []
        period_seconds = max(self.remind_every.total_seconds(), 1.0)
        for due in await self.book.due_drills(now):
            period = int((now - due.due_at).total_seconds() // period_seconds)
            ttl = int(period_seconds * 2) + 60
            drills = self.book.store.drills
            if not await drills.mark_reminded(due.kind.value, due.due_at.isoformat(), period,
                                              now, ttl):
                continue
            reminder = _reminder(due, now)
            await drills.queue_reminder(reminder.model_dump_json())
            queued.append(reminder)
        return queued

    async def take_reminders(self, limit: int = 50) -> list[DrillReminder]:
        """Remove and return queued reminders, oldest first (the Slack side posts them)."""
        items = await self.book.store.drills.take_reminders(limit)
        return [DrillReminder.model_validate_json(item) for item in items]

    async def run_forever(self) -> None:
        """Tick until ``stop``; Redis being away is waited out, not fatal."""
        await run_every(self.interval.total_seconds(), self.tick, self.outage, self._stopping)

    def stop(self) -> None:
        self._stopping.set()


def _reminder(due: DrillDue, now: datetime) -> DrillReminder:
    when = f"{due.due_at.astimezone(UTC):%Y-%m-%d}"
    if due.last_run_at is None:
        history = "it has not been run yet"
    else:
        history = f"last passed {due.last_run_at.astimezone(UTC):%Y-%m-%d} ({due.last_run_id})"
    overdue = f", {due.overdue_days} day(s) overdue" if due.overdue_days else ""
    text = f"{due.title} is due (since {when}{overdue}); {history}. Start `{due.workflow}`."
    return DrillReminder(
        kind=due.kind,
        workflow=due.workflow,
        title=due.title,
        due_at=due.due_at,
        overdue_days=due.overdue_days,
        last_run_at=due.last_run_at,
        last_run_id=due.last_run_id,
        queued_at=now,
        text=text,
    )
