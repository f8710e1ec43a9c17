"""Retention: finished runs past the retention move from Redis to the archive directory, whole,
crash-safely, and without taking the records that gates stand on."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.integration.runbook.conftest import SUM, Bot, state_of
from workflows import keys
from workflows.archive import ArchiveConflict, RunArchive
from workflows.archiver import Archiver
from workflows.drills import DrillKind
from workflows.drillscheduler import DrillBook
from workflows.model import Abort, RunStatus
from workflows.store import RunStore

SHA = "0123456789abcdef0123456789abcdef01234567"
RETENTION = timedelta(days=30)


async def run_keys(redis: aioredis.Redis, run_id: str) -> list[str]:
    found = [k async for k in redis.scan_iter(match=f"{keys.PREFIX}:{{{run_id}}}:*")]
    return sorted(k.decode() if isinstance(k, bytes) else k for k in found)


async def in_index(redis: aioredis.Redis, index: str, run_id: str) -> bool:
    return await redis.zscore(index, run_id) is not None


async def finished(bot: Bot, redis: aioredis.Redis, run_id: str) -> str:
    """Wait until the run has finished and is in the finished index (written just after the
    run's last commit), as it is long before any retention passes."""
    await bot.finished(run_id)
    for _ in range(500):
        if await in_index(redis, keys.FINISHED, run_id):
            return run_id
        await asyncio.sleep(0.01)
    raise AssertionError(f"{run_id} never reached the finished index")


async def backup_and_drill(bot: Bot, redis: aioredis.Redis) -> tuple[str, str]:
    backup = await bot.start("backup", environment="testnet")
    await bot.confirm(backup.id, "store-primary", location="eu-west/bucket-a", checksum=SUM)
    await bot.confirm(backup.id, "store-secondary", location="us-east/bucket-b", checksum=SUM)
    assert (await bot.finished(backup.id)).status is RunStatus.SUCCEEDED
    await finished(bot, redis, backup.id)
    drill = await bot.start("restore-drill", environment="testnet", source="testnet")
    await bot.approve(drill.id, "approve-promotion", "UOP2")
    assert (await bot.finished(drill.id)).status is RunStatus.SUCCEEDED
    await finished(bot, redis, drill.id)
    return backup.id, drill.id


async def test_finished_runs_past_retention_leave_redis_whole_and_gates_still_pass(
    bot: Bot, redis: aioredis.Redis, tmp_path: Path
) -> None:
    """A backup and a restore drill, 31 days on: both archived (JSON with the audit, the plan,
    the approvals; the Markdown log), every key of theirs gone from Redis, while the snapshot
    metadata and the drill record stay, and a promotion's drill gate still passes on them."""
    backup_id, drill_id = await backup_and_drill(bot, redis)
    active = await bot.start("startup-check", environment="testnet")
    archive = RunArchive(tmp_path / "archive")
    archiver = Archiver(bot.store, archive, retention=RETENTION)

    early = await archiver.sweep(bot.store.now() + timedelta(days=29))
    assert early.archived == 0
    assert await run_keys(redis, drill_id)

    report = await archiver.sweep(bot.store.now() + timedelta(days=31))
    assert report.archived >= 2
    for run_id in (backup_id, drill_id):
        assert await run_keys(redis, run_id) == []
        for index in (keys.FINISHED, keys.RECENT, keys.ACTIVE, keys.DUE, keys.CARDS):
            assert not await in_index(redis, index, run_id)
        assert await in_index(redis, keys.ARCHIVED, run_id)
    assert await run_keys(redis, active.id)  # not finished: untouched

    document = json.loads(archive.path_of(drill_id).read_text())
    assert document["status"] == "succeeded"
    assert [a["step_id"] for a in document["approvals"]] == ["approve-promotion"]
    assert document["approvals"][0]["votes"][0]["user"] == "UOP2"
    assert any(e["type"] == "approve" and e["actor"] == "UOP2" for e in document["audit"])
    assert document["plan"][0]["id"]
    assert document["last_audit_id"] == document["audit"][-1]["id"]
    markdown = archive.path_of(drill_id, ".md").read_text()
    assert markdown.startswith("# Incident log: ")
    assert markdown == document["incident_log"]
    archived = await archive.read(drill_id)
    assert archived is not None
    assert archived.run.id == drill_id
    assert archived.run.values["rto_seconds"] >= 0

    assert (await bot.store.get_record("snapshot:testnet"))["snapshot_locations"]
    record = await DrillBook(bot.store).record_of(DrillKind.RESTORE)
    assert record is not None
    assert record.run_id == drill_id
    # the startup check holds testnet's lock, which the promotion's canary deploy needs
    await bot.service.command(active.id, Abort(actor="UOP", reason="checked"))
    promote = await bot.start("promote", version="v2.0.0", git_sha=SHA, environment="mainnet")
    promote = await bot.at(promote.id, "security-signoff")
    assert drill_id in (state_of(promote, "restore-drill-gate").note or "")


async def test_a_crash_between_the_write_and_the_delete_archives_the_same_bytes_and_deletes(
    bot: Bot, redis: aioredis.Redis, tmp_path: Path
) -> None:
    """The archive is written and the process dies before the keys go: a new archiver (another
    process, after a restart) writes the same document again and deletes the keys."""
    run = await bot.start("startup-check", environment="testnet")
    await bot.service.command(run.id, Abort(actor="UOP", reason="testing retention"))
    await finished(bot, redis, run.id)
    archive = RunArchive(tmp_path / "archive")
    first = Archiver(bot.store, archive, retention=RETENTION)
    assert await first.write(run.id) is not None  # ... and the process dies here
    written = archive.path_of(run.id).read_bytes()
    assert await run_keys(redis, run.id)

    restarted = Archiver(RunStore(redis), RunArchive(tmp_path / "archive"), retention=RETENTION)
    report = await restarted.sweep(bot.store.now() + timedelta(days=31))
    assert report.archived == 1
    assert archive.path_of(run.id).read_bytes() == written
    assert await run_keys(redis, run.id) == []
    assert not any(p.name.endswith(".tmp") for p in archive.runs.iterdir())
    again = await restarted.sweep(bot.store.now() + timedelta(days=31))
    assert (again.archived, again.dropped) == (0, 0)


async def test_two_replicas_archiving_at_once_do_no_harm(
    bot: Bot, redis: aioredis.Redis, tmp_path: Path
) -> None:
    """Two archivers sweep the same due runs concurrently: each run archived once, whole."""
    ids = []
    for _ in range(4):
        run = await bot.start("startup-check", environment="testnet")
        await bot.service.command(run.id, Abort(actor="UOP", reason="testing retention"))
        ids.append(await finished(bot, redis, run.id))
    later = bot.store.now() + timedelta(days=31)
    one = Archiver(bot.store, RunArchive(tmp_path / "a"), retention=RETENTION)
    two = Archiver(RunStore(redis), RunArchive(tmp_path / "a"), retention=RETENTION)
    reports = await asyncio.gather(one.sweep(later), two.sweep(later))
    assert sum(r.archived for r in reports) == len(ids)
    for run_id in ids:
        assert await run_keys(redis, run_id) == []
        archived = await RunArchive(tmp_path / "a").read(run_id)
        assert archived is not None
        assert archived.run.status is RunStatus.ABORTED
        assert "testing retention" in (archived.run.reason or "")


async def test_a_run_that_changed_after_it_was_read_is_not_deleted(
    bot: Bot, redis: aioredis.Redis, tmp_path: Path
) -> None:
    """A refused click lands on a finished run between the archive's read and its delete: the
    delete refuses (the archive would miss that audit entry); the next sweep takes it whole."""
    run = await bot.start("startup-check", environment="testnet")
    await bot.service.command(run.id, Abort(actor="UOP", reason="testing retention"))
    run = await bot.store.get(await finished(bot, redis, run.id))
    archive = RunArchive(tmp_path / "archive")
    archiver = Archiver(bot.store, archive, retention=RETENTION)
    written = await archiver.write(run.id)
    assert written is not None
    await bot.store.audit_refusal(run.id, "refused_pause", "UOUT", None, "the run is finished")
    ms = int(run.finished_at.timestamp() * 1000) if run.finished_at else 0
    version, last_id, outbox = written
    assert await bot.store.forget(run.id, version, last_id, ms, outbox=outbox) == "changed"
    assert await run_keys(redis, run.id)
    report = await archiver.sweep(bot.store.now() + timedelta(days=31))
    assert report.archived == 1
    archived = await archive.read(run.id)
    assert archived is not None
    assert archived.audit[-1].type == "refused_pause"
    assert await run_keys(redis, run.id) == []


async def test_runs_finished_before_the_index_existed_are_found_and_archived_by_the_loop(
    bot: Bot, redis: aioredis.Redis, tmp_path: Path
) -> None:
    """Runs an older release finished (no finished index; one still in the active index, as a
    crash between its last commit and its index update leaves it) are archived by the running
    loop all the same, once their retention has passed."""
    ids = []
    for _ in range(2):
        run = await bot.start("startup-check", environment="testnet")
        await bot.service.command(run.id, Abort(actor="UOP", reason="testing retention"))
        ids.append(await finished(bot, redis, run.id))
    await redis.delete(keys.FINISHED, keys.FINISHED_ADOPTED)  # as an older release left them
    await redis.zadd(keys.ACTIVE, {ids[1]: 1})
    later = bot.store.now() + timedelta(days=31)
    archiver = Archiver(RunStore(redis), RunArchive(tmp_path / "archive"), retention=RETENTION,
                        interval=0.05, clock=lambda: later)
    stop = asyncio.Event()
    loop = asyncio.create_task(archiver.run_forever(until=stop))
    try:
        for _ in range(200):
            if all(archiver.archive.exists(run_id) for run_id in ids) and not any(
                [await run_keys(redis, run_id) for run_id in ids]
            ):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(loop, 5)
    for run_id in ids:
        assert await run_keys(redis, run_id) == []
        assert archiver.archive.exists(run_id)
        assert not await in_index(redis, keys.ACTIVE, run_id)


async def test_the_archive_never_replaces_another_run_of_the_same_id(
    bot: Bot, tmp_path: Path
) -> None:
    """Ids are random: should a later run carry an archived run's id, its document is refused
    (that run stays in Redis, logged) and the archived one is kept as it was."""
    run = await bot.start("startup-check", environment="testnet")
    await bot.service.command(run.id, Abort(actor="UOP", reason="testing retention"))
    await bot.finished(run.id)
    archive = RunArchive(tmp_path / "archive")
    assert await Archiver(bot.store, archive, retention=RETENTION).write(run.id) is not None
    kept = archive.path_of(run.id).read_bytes()
    other = {**json.loads(kept), "created_at": "2030-01-01T00:00:00+00:00", "title": "another"}
    with pytest.raises(ArchiveConflict):
        await archive.write(other)
    assert archive.path_of(run.id).read_bytes() == kept
