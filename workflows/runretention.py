"""Retention: a run that finishes enters the finished index (and the recent one); once archived
(``workflows.archiver``) its keys leave Redis and its id the archived index. A part of
``workflows.store.RunStore``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from redis.asyncio import Redis

from workflows import keys
from workflows.auditlog import AuditEntry, audit_entry
from workflows.machine import Notify
from workflows.model import TERMINAL_STATUSES, Run
from workflows.runreads import RunReads
from workflows.storeformat import hget, pairs, text, to_ms, unpack_plan
from workflows.storescripts import FORGET, SNAPSHOT

__all__ = ["Retention", "RunSnapshot"]

_RECENT_KEEP = 500
_ARCHIVED_KEEP = 500  # archived runs listed by `runs` (the archive itself keeps all)
_TERMINAL = {status.value for status in TERMINAL_STATUSES}
_CARD_BUSY_MS = 3_600_000  # a card dirty for less than this may still be posted: not archived


@dataclass(frozen=True)
class RunSnapshot:
    """All of one run that Redis holds and the archive keeps, read at one moment."""

    run: Run
    audit: list[AuditEntry]
    ledger: dict[str, Any]
    card: tuple[str, str] | None
    unposted: list[Notify]


class Retention(RunReads):
    def __init__(self, redis: Redis, clock: Callable[[], datetime] | None) -> None:
        super().__init__(redis, clock)
        self._forget = redis.register_script(FORGET)
        self._snapshot = redis.register_script(SNAPSHOT)

    async def _finished(self, run: Run) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrem(keys.ACTIVE, run.id)
        pipe.zadd(keys.RECENT, {run.id: to_ms(self.now())})
        pipe.zremrangebyrank(keys.RECENT, 0, -_RECENT_KEEP - 1)
        pipe.zadd(keys.FINISHED, {run.id: to_ms(self.now())})  # until archived (retention)
        await pipe.execute()

    async def finished_before(self, cutoff: datetime, limit: int = 100) -> list[tuple[str, int]]:
        """(run id, finished ms) of runs that finished at or before ``cutoff``, oldest first;
        the cost is the due runs', not all runs'."""
        found = await self._redis.zrangebyscore(keys.FINISHED, "-inf", to_ms(cutoff), start=0,
                                               num=limit, withscores=True)
        return [(text(member), int(score)) for member, score in found]

    async def snapshot(self, run_id: str) -> RunSnapshot | None:
        """The run, its whole audit stream, ledger, card and unposted notifications, read in
        one script (so a concurrent delete or change cannot leave it half read); None when the
        run is not in Redis."""
        k = keys.RunKeys(run_id)
        raw = await self._snapshot(keys=[k.run, k.audit, k.ledger, k.card, k.outbox], args=[])
        if not raw:
            return None
        doc, plan, _, audit, ledger, card, outbox = raw
        data = json.loads(doc)
        data["plan"] = unpack_plan(plan or None)
        card_fields = pairs([text(x) for x in card])
        return RunSnapshot(
            run=Run.model_validate(data),
            audit=[audit_entry(entry_id, dict(zip(fields[0::2], fields[1::2], strict=True)))
                   for entry_id, fields in audit],
            ledger={text(f): json.loads(v) for f, v in sorted(
                zip(ledger[0::2], ledger[1::2], strict=True))},
            card=(card_fields["channel"], card_fields["ts"])
            if "channel" in card_fields and "ts" in card_fields else None,
            unposted=[Notify.model_validate_json(item) for item in outbox],
        )

    async def forget(
        self, run_id: str, version: int, last_audit_id: str, finished_ms: int, *,
        outbox: int = 0, now: datetime | None = None,
    ) -> Literal["deleted", "gone", "changed", "busy"]:
        """Delete every key of an archived run in one script, if it is still the run that was
        archived (same version, same last audit entry, ``outbox`` notifications never posted)
        and its card is not being posted (its lock held, or marked dirty in the last hour).
        ``changed``/``busy``: nothing deleted, archive it again later. ``gone``: no such run."""
        owned = keys.RunKeys(run_id).owned()
        indexes = [keys.FINISHED, keys.RECENT, keys.ACTIVE, keys.DUE, keys.CARDS, keys.ARCHIVED]
        posting_after = to_ms(now or self.now()) - _CARD_BUSY_MS
        if not self._single_slot_indexes:
            dirty = await self._redis.zscore(keys.CARDS, run_id)
            if dirty is not None and dirty > posting_after:
                return "busy"
        reply = text(await self._forget(
            keys=owned + (indexes if self._single_slot_indexes else []),
            args=[version, last_audit_id, run_id, finished_ms, _ARCHIVED_KEEP, len(owned),
                  outbox, posting_after],
        ))
        if reply == "deleted" and not self._single_slot_indexes:
            await self.drop_indexes(run_id, finished_ms, archived=True)
        return cast("Literal['deleted', 'gone', 'changed', 'busy']", reply)

    async def drop_indexes(self, run_id: str, finished_ms: int, *, archived: bool) -> None:
        """Take a run that is no longer in Redis out of the indexes (the finished index last,
        so a crash in between leaves it to be found and dropped again)."""
        pipe = self._redis.pipeline(transaction=False)
        for index in (keys.RECENT, keys.ACTIVE, keys.DUE, keys.CARDS):
            pipe.zrem(index, run_id)
        if archived:
            pipe.zadd(keys.ARCHIVED, {run_id: finished_ms})
            pipe.zremrangebyrank(keys.ARCHIVED, 0, -_ARCHIVED_KEEP - 1)
        await pipe.execute()
        await self._redis.zrem(keys.FINISHED, run_id)

    async def adopt_finished(self) -> int:
        """Put finished runs that are missing from the finished index into it (by when they
        finished), so that they are archived too: those left in the active index by a crash
        between a run's last commit and its index update (every start; costs the active runs),
        and, once per Redis, every run stored before the index existed (a SCAN over the run
        keys, the first time a replica starts after an upgrade). Returns how many."""
        adopted = 0
        for run in await self.load_many(await self.active_ids(limit=100_000)):
            if run.terminal:
                await self._index_finished(run)
                adopted += 1
        if await self._redis.set(keys.FINISHED_ADOPTED, self.now().isoformat(), nx=True):
            pattern = f"{keys.PREFIX}:{{*}}:run"
            async for key in self._redis.scan_iter(match=pattern, count=1000):
                doc = await hget(self._redis, text(key), "doc")
                if doc is None:
                    continue
                data = json.loads(doc)
                run_id, finished = data.get("id"), data.get("finished_at")
                if not run_id or not finished or data.get("status") not in _TERMINAL:
                    continue
                ms = to_ms(datetime.fromisoformat(finished))
                if await self._redis.zadd(keys.FINISHED, {run_id: ms}, nx=True):
                    adopted += 1
        return adopted

    async def _index_finished(self, run: Run) -> None:
        when = to_ms(run.finished_at or self.now())
        pipe = self._redis.pipeline(transaction=False)
        pipe.zadd(keys.FINISHED, {run.id: when}, nx=True)
        pipe.zadd(keys.RECENT, {run.id: when}, nx=True)
        pipe.zremrangebyrank(keys.RECENT, 0, -_RECENT_KEEP - 1)
        pipe.zrem(keys.ACTIVE, run.id)
        await pipe.execute()

    async def archived_ids(self, limit: int = 20) -> list[str]:
        """The runs archived last (by when they finished), newest first."""
        return [text(x) for x in await self._redis.zrevrange(keys.ARCHIVED, 0, limit - 1)]
