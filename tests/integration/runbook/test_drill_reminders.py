"""Drill reminders in Redis: queued once per due drill and period, across replicas."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from workflows import keys
from workflows.drills import DrillKind, DrillRecord
from workflows.drillscheduler import DrillBook, DrillScheduler
from workflows.store import RunStore

START = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def store_at(redis: aioredis.Redis, moment: list[datetime]) -> RunStore:
    return RunStore(redis, clock=lambda: moment[0])


async def test_due_drills_are_reminded_once_per_period(redis: aioredis.Redis) -> None:
    """Never-run drills are due from the first look; a second tick the same day queues
    nothing; a day later each is reminded again; a recorded drill stops being reminded."""
    now = [START]
    book = DrillBook(store_at(redis, now))
    scheduler = DrillScheduler(book, remind_every=timedelta(days=1))
    first = await scheduler.tick()
    assert {r.kind for r in first} == set(DrillKind)
    assert all("has not been run yet" in r.text for r in first)
    assert await scheduler.tick() == []
    now[0] = START + timedelta(days=1, minutes=1)
    await book.record(DrillRecord(kind=DrillKind.RESTORE, run_id="r-1", completed_at=now[0]))
    second = await scheduler.tick()
    assert {r.kind for r in second} == set(DrillKind) - {DrillKind.RESTORE}
    assert all(r.overdue_days == 1 for r in second)
    queued = await scheduler.take_reminders()
    assert len(queued) == len(first) + len(second)
    assert await scheduler.take_reminders() == []
    restore = next(d for d in await book.schedule(now[0]) if d.kind is DrillKind.RESTORE)
    assert restore.due_at == datetime(2025, 4, 2, 9, 1, tzinfo=UTC)


async def test_two_replicas_queue_each_reminder_once(redis: aioredis.Redis) -> None:
    """Two schedulers ticking at the same moment queue one reminder per due drill."""
    now = [START]
    one = DrillScheduler(DrillBook(store_at(redis, now)))
    two = DrillScheduler(DrillBook(store_at(redis, now)))
    results = await asyncio.gather(one.tick(), two.tick())
    assert sum(len(r) for r in results) == len(DrillKind)
    assert len(await one.take_reminders()) == len(DrillKind)


async def test_the_schedule_start_is_kept_once(redis: aioredis.Redis) -> None:
    """The first look fixes 'since'; later looks and read-only listings keep that date."""
    now = [START]
    book = DrillBook(store_at(redis, now))
    assert await book.since(START + timedelta(days=5), keep=False) == START + timedelta(days=5)
    assert await book.since(START) == START
    assert await book.since(START + timedelta(days=9)) == START


async def test_the_loop_ticks_until_stopped(redis: aioredis.Redis) -> None:
    """run_forever queues reminders on its first tick and returns when stopped."""
    scheduler = DrillScheduler(DrillBook(RunStore(redis)), interval=timedelta(seconds=0.05))
    task = asyncio.create_task(scheduler.run_forever())
    for _ in range(100):
        if await redis.llen(keys.DRILL_REMINDERS):
            break
        await asyncio.sleep(0.02)
    scheduler.stop()
    await asyncio.wait_for(task, 5)
    assert len(await scheduler.take_reminders()) == len(DrillKind)
