"""Retention: finished runs older than the retention leave Redis for the archive directory.

For each run in the finished index (``keys.FINISHED``, by when it finished) whose time is up:

1. read the run, its plan, its whole audit stream, its ledger and where its card is;
2. write the archive document and the incident log (``workflows.archive``: temp file, fsync,
   rename, directory fsync);
3. only then delete its Redis keys in one script (``RunStore.forget``), which refuses if the run
   changed since step 1 (a late refused click appends to its audit) or its card is being posted.

A crash between 2 and 3 leaves the run in Redis and in the index: the next sweep writes the same
document again and deletes. Two replicas sweeping at once write the same bytes; the second
delete finds the run gone. Cost per sweep is the number of runs due, not the number of runs.
Named records (release metadata, drill results) are not a run's keys and are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError

from workflows.archive import ArchiveConflict, RunArchive, archive_document, valid_run_id
from workflows.export import render_incident_log
from workflows.store import RunStore

__all__ = ["Archiver", "NotFinished", "SweepReport"]

log = logging.getLogger("parthenon.archiver")

_BATCH = 100


class NotFinished(Exception):
    """A run in the finished index that is not finished: never archived."""


@dataclass
class SweepReport:
    archived: int = 0  # written and deleted from Redis
    dropped: int = 0  # already gone from Redis (archived before a crash): index cleaned
    deferred: int = 0  # changed or busy since it was read: next sweep


class Archiver:
    def __init__(
        self,
        store: RunStore,
        archive: RunArchive,
        *,
        retention: timedelta,
        interval: float = 300.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.archive = archive
        self.retention = retention
        self.interval = interval
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stopping = asyncio.Event()
        self._outage_since: float | None = None

    # --- one sweep -------------------------------------------------------------------------

    async def sweep(self, now: datetime | None = None, limit: int = 10_000) -> SweepReport:
        """Archive every run that finished more than the retention before ``now``."""
        now = now or self._clock()
        cutoff = now - self.retention
        report = SweepReport()
        skip = 0  # deferred runs stay in the index: read past them
        while report.archived + report.dropped + report.deferred < limit:
            due = await self.store.finished_before(cutoff, limit=skip + _BATCH)
            due = due[skip:]
            if not due:
                break
            for run_id, finished_ms in due:
                if self._stopping.is_set():
                    return report
                outcome = await self.archive_one(run_id, finished_ms, now=now)
                if outcome == "archived":
                    report.archived += 1
                elif outcome == "dropped":
                    report.dropped += 1
                else:
                    report.deferred += 1
                    skip += 1
        await asyncio.to_thread(self.archive.sweep_temporary)
        return report

    async def archive_one(
        self, run_id: str, finished_ms: int, *, now: datetime | None = None
    ) -> str:
        """``archived``, ``dropped`` (not in Redis any more) or ``deferred``."""
        try:
            written = await self.write(run_id) if valid_run_id(run_id) else None
        except NotFinished:
            log.warning("run %s is in the finished index but not finished; left alone", run_id,
                        extra={"run_id": run_id})
            return "deferred"
        except ArchiveConflict as exc:
            log.error("run %s not archived: %s; it stays in Redis", run_id, exc,
                      extra={"run_id": run_id})
            return "deferred"
        if written is None:
            archived = self.archive.exists(run_id)
            if not archived:
                log.warning("finished run %s is not in Redis nor in the archive; dropped from "
                            "the index", run_id, extra={"run_id": run_id})
            await self.store.drop_indexes(run_id, finished_ms, archived=archived)
            return "dropped"
        version, last_audit_id, outbox = written
        outcome = await self.store.forget(run_id, version, last_audit_id, finished_ms,
                                          outbox=outbox, now=now)
        if outcome == "deleted":
            log.info("run archived", extra={"run_id": run_id})
            return "archived"
        if outcome == "gone":  # another replica deleted it after writing the same document
            await self.store.drop_indexes(run_id, finished_ms, archived=True)
            return "dropped"
        log.info("run %s %s since it was read; archived again later", run_id, outcome,
                 extra={"run_id": run_id})
        return "deferred"

    async def write(self, run_id: str) -> tuple[int, str, int] | None:
        """Write the run's archive document (step 2 alone): (version, last audit entry id,
        notifications never posted) as written, or None when the run is not in Redis."""
        snap = await self.store.snapshot(run_id)  # one read: never half a run
        if snap is None:
            return None
        run, audit = snap.run, snap.audit
        if not run.terminal:
            raise NotFinished(run_id)
        document = archive_document(
            run,
            audit,
            ledger=snap.ledger,
            card=snap.card,
            incident_log=render_incident_log(run, audit),
            unposted=[item.model_dump(mode="json") for item in snap.unposted],
        )
        await self.archive.write(document)
        return run.version, str(document["last_audit_id"]), len(snap.unposted)

    # --- the background loop ---------------------------------------------------------------

    async def run_forever(self, until: asyncio.Event | None = None) -> None:
        """Sweep every ``interval`` until ``stop`` (or ``until`` is set); an outage (Redis, the
        archive volume) is one warning when it starts and one line when it ends, never a
        traceback per sweep."""
        watcher = asyncio.create_task(until.wait()) if until is not None else None
        if watcher is not None:
            watcher.add_done_callback(lambda _: self._stopping.set())
        try:
            await self._loop()
        finally:
            if watcher is not None:
                watcher.cancel()

    async def _loop(self) -> None:
        adopted = False
        while not self._stopping.is_set():
            try:
                if not adopted:  # finished runs the index lacks (a crash, an upgrade)
                    found = await self.store.adopt_finished()
                    adopted = True
                    if found:
                        log.info("%d finished runs put in the finished index", found)
                report = await self.sweep()
            except (RedisError, OSError, ValueError) as exc:  # Redis down, the volume, a bad doc
                if self._outage_since is None:
                    self._outage_since = time.monotonic()
                    log.warning("archiving paused: %s: %s", type(exc).__name__, exc)
            else:
                if self._outage_since is not None:
                    lasted = time.monotonic() - self._outage_since
                    self._outage_since = None
                    log.info("archiving resumed after %.0f s", lasted)
                if report.archived or report.dropped:
                    log.info("archived %d finished runs (%d already gone, %d deferred)",
                             report.archived, report.dropped, report.deferred)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    def stop(self) -> None:
        self._stopping.set()
