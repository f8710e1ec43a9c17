"""The run store: every change to a run applied atomically in Redis, with its audit record.

One Lua script per change checks the run's version (and, for workers, the fencing token of the
lease), writes the new run, appends the event to the run's audit stream, records the idempotency
ledger entry and the de-duplication key, and queues notifications, all in the run's hash slot.
A version mismatch comes back as ``CommitStatus.CONFLICT``: the caller re-reads and re-applies.
Global indexes (due timers, active runs, dirty cards) are updated around the script so that a
crash between the two can only wake a run early, never lose it.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, TypeAdapter
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import NoScriptError

from workflows import keys
from workflows.announcements import Announcements
from workflows.cardstore import CardStore
from workflows.drillstore import DrillStore
from workflows.errors import InvalidCommand, NotAuthorized, RunNotFound, VersionConflict
from workflows.freezes import FreezeBook
from workflows.machine import Notify, transition, wake_at
from workflows.model import TERMINAL_STATUSES, Event, PlannedStep, Run
from workflows.names import NameCache

__all__ = [
    "AuditEntry",
    "CommitOutcome",
    "CommitStatus",
    "LedgerWrite",
    "Queued",
    "RunSnapshot",
    "RunStore",
    "from_ms",
    "to_ms",
]

_RECENT_KEEP = 500
_ARCHIVED_KEEP = 500  # archived runs listed by `runs` (the archive itself keeps all)
_TERMINAL = {status.value for status in TERMINAL_STATUSES}
_CARD_BUSY_MS = 3_600_000  # a card dirty for less than this may still be posted: not archived
_PLAN_CACHE = 10_000  # parsed plans kept in memory; a plan never changes once a run exists
_PLAN: TypeAdapter[list[PlannedStep]] = TypeAdapter(list[PlannedStep])

# KEYS: run, audit, ledger, lease, seen, outbox [, due, cards: single server only]
#       [, the environment locks: the last ARGV[23] keys, single server only]
# ARGV: 1 expected version, 2 token, 3 new version, 4 doc, 5 ledger mode, 6 ledger field,
#       7 ledger value, 8 dedup key, 9 dedup value, 10 outbox JSON array or '', 11 plan JSON
#       (only when created) or '', 12-16 audit type, at, actor, step, detail,
#       17 due ms or '', 18 now ms, 19 run id (the indexes, with KEYS 7 and 8),
#       20 lock op ('', 'take', 'release'), 21 the run that may already hold them (a take-over)
#       or '', 22 unused, 23 how many lock keys
_COMMIT = """
if ARGV[2] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[2] then
  return {'lease_lost', ''}
end
if ARGV[8] ~= '' then
  local prior = redis.call('HGET', KEYS[5], ARGV[8])
  if prior then return {'duplicate', prior} end
end
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if v ~= ARGV[1] then return {'conflict', v} end
local nlocks = tonumber(ARGV[23] or '0') or 0
local firstlock = #KEYS - nlocks + 1
if ARGV[20] == 'take' then
  for i = firstlock, #KEYS do
    local holder = redis.call('GET', KEYS[i])
    if holder and holder ~= ARGV[19] and holder ~= ARGV[21] then
      return {'locked', KEYS[i] .. '=' .. holder}
    end
  end
end
if ARGV[5] == 'intent' then
  if redis.call('HSETNX', KEYS[3], ARGV[6], ARGV[7]) == 0 then return {'in_doubt', ''} end
elseif ARGV[5] == 'outcome' then
  redis.call('HSET', KEYS[3], ARGV[6], ARGV[7])
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'doc', ARGV[4])
if ARGV[11] ~= '' then redis.call('HSET', KEYS[1], 'plan', ARGV[11]) end
redis.call('XADD', KEYS[2], '*', 'type', ARGV[12], 'at', ARGV[13], 'actor', ARGV[14],
           'step', ARGV[15], 'v', ARGV[3], 'detail', ARGV[16])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[5], ARGV[8], ARGV[9]) end
if ARGV[10] ~= '' then
  local out = cjson.decode(ARGV[10])
  for i = 1, #out do redis.call('RPUSH', KEYS[6], out[i]) end
end
for i = firstlock, #KEYS do
  if ARGV[20] == 'take' then
    redis.call('SET', KEYS[i], ARGV[19])
  elseif ARGV[20] == 'release' and redis.call('GET', KEYS[i]) == ARGV[19] then
    redis.call('DEL', KEYS[i])
  end
end
if #KEYS - nlocks >= 8 then
  if ARGV[17] ~= '' then redis.call('ZADD', KEYS[7], 'LT', ARGV[17], ARGV[19]) end
  redis.call('ZADD', KEYS[8], ARGV[18], ARGV[19])
end
return {'ok', ARGV[3]}
"""

# KEYS: the run's owned keys (keys.RunKeys.owned: run, audit, ledger, lease, fence, seen, outbox,
#       card, card lock, card requests) [, finished, recent, active, due, cards, archived: single
#       server only]
# ARGV: 1 version archived, 2 last audit entry id archived, 3 run id, 4 finished ms,
#       5 archived entries kept, 6 how many owned keys, 7 outbox length archived,
#       8 a card marked dirty after this (ms) is still being posted
# Deletes the run only if it is still exactly what was archived and nobody is posting its card.
_FORGET = """
local n = tonumber(ARGV[6])
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 'gone' end
if v ~= ARGV[1] then return 'changed' end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local lid = ''
if #last > 0 then lid = last[1][1] end
if lid ~= ARGV[2] then return 'changed' end
if redis.call('LLEN', KEYS[7]) ~= tonumber(ARGV[7]) then return 'changed' end
if redis.call('EXISTS', KEYS[9]) == 1 then return 'busy' end
if #KEYS > n then
  local dirty = redis.call('ZSCORE', KEYS[n + 5], ARGV[3])
  if dirty and tonumber(dirty) > tonumber(ARGV[8]) then return 'busy' end
end
for i = 1, n do redis.call('DEL', KEYS[i]) end
if #KEYS > n then
  for i = n + 1, n + 5 do redis.call('ZREM', KEYS[i], ARGV[3]) end
  redis.call('ZADD', KEYS[n + 6], ARGV[4], ARGV[3])
  redis.call('ZREMRANGEBYRANK', KEYS[n + 6], 0, -tonumber(ARGV[5]) - 1)
end
return 'deleted'
"""

# Cluster only (the lock is in another slot than the run). KEYS: lock
# ARGV: 'take' | 'release' | 'restore', owner, take-over from ('' or a run id)
_LOCK = """
local holder = redis.call('GET', KEYS[1])
if ARGV[1] == 'take' then
  if holder and holder ~= ARGV[2] and holder ~= ARGV[3] then return holder end
  redis.call('SET', KEYS[1], ARGV[2])
  return false
elseif ARGV[1] == 'restore' then
  if holder == ARGV[2] then
    if ARGV[3] ~= '' then redis.call('SET', KEYS[1], ARGV[3]) else redis.call('DEL', KEYS[1]) end
  end
  return false
end
if holder == ARGV[2] then redis.call('DEL', KEYS[1]) end
return false
"""

# One server. KEYS: the locks   ARGV: 'release' | 'retake', the run
# release: delete the locks the run holds. retake: take them all if each is free or the run's,
# else change nothing and return 'key=holder' of the first held by another run.
_LOCKS = """
if ARGV[1] == 'retake' then
  for i = 1, #KEYS do
    local holder = redis.call('GET', KEYS[i])
    if holder and holder ~= ARGV[2] then return KEYS[i] .. '=' .. holder end
  end
  for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[2]) end
  return false
end
local n = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[2] then
    redis.call('DEL', KEYS[i])
    n = n + 1
  end
end
return n
"""

# KEYS: run, audit, ledger, card, outbox: everything the archive keeps of a run, read at once
_SNAPSHOT = """
local doc = redis.call('HGET', KEYS[1], 'doc')
if not doc then return false end
return {doc, redis.call('HGET', KEYS[1], 'plan') or '', redis.call('HGET', KEYS[1], 'v') or '0',
        redis.call('XRANGE', KEYS[2], '-', '+'), redis.call('HGETALL', KEYS[3]),
        redis.call('HGETALL', KEYS[4]), redis.call('LRANGE', KEYS[5], 0, -1)}
"""

# KEYS: lease, fence, run   ARGV: worker, ttl ms
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
-- a run archived (its keys deleted) after its id was read from the due index: nothing to take,
-- and no key may be created for it (a fence counter would outlive the run for ever)
if redis.call('EXISTS', KEYS[3]) == 0 then return false end
local token = ARGV[1] .. ':' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token
"""

# KEYS: cards   ARGV: run id, the score the notifier saw
_CARD_DONE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
"""

# KEYS: outbox   ARGV: how many
_TAKE = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
redis.call('LTRIM', KEYS[1], tonumber(ARGV[1]), -1)
return items
"""

# KEYS: outbox   ARGV: the items posted, oldest first (pop each only while it is still the head,
# so an acknowledgement that comes late, after another notifier trimmed, removes nothing else)
_ACK = """
local n = 0
for i = 1, #ARGV do
  if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[i] then break end
  redis.call('LPOP', KEYS[1])
  n = n + 1
end
return n
"""

# KEYS: lease   ARGV: token, ttl ms (0 = release)
_LEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(value: float) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


class CommitStatus(StrEnum):
    OK = "ok"
    DUPLICATE = "duplicate"  # this delivery was applied before; nothing changed now
    CONFLICT = "conflict"  # the run changed since it was read
    LEASE_LOST = "lease_lost"  # the worker's fencing token no longer holds
    IN_DOUBT = "in_doubt"  # an intent for this step attempt was already recorded
    LOCKED = "locked"  # another run holds an environment lock the new run needs (detail: env=run)


@dataclass(frozen=True)
class CommitOutcome:
    status: CommitStatus
    run: Run | None = None  # the run as stored after an OK commit
    detail: str = ""  # for DUPLICATE: what the first delivery recorded


@dataclass(frozen=True)
class LedgerWrite:
    """Intent before a side-effecting step attempt, outcome after (idempotency ledger)."""

    mode: Literal["intent", "outcome"]
    step_id: str
    attempt: int
    value: dict[str, Any]

    @property
    def field(self) -> str:
        return f"{self.step_id}#{self.attempt}"


@dataclass(frozen=True)
class Queued:
    """A notification still in the run's outbox: ``raw`` is how it is stored (for the ack)."""

    raw: str
    notify: Notify


@dataclass(frozen=True)
class RunSnapshot:
    """All of one run that Redis holds and the archive keeps, read at one moment."""

    run: Run
    audit: list[AuditEntry]
    ledger: dict[str, Any]
    card: tuple[str, str] | None
    unposted: list[Notify]


class AuditEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    at: datetime
    actor: str | None = None
    step_id: str | None = None
    version: int | None = None
    detail: dict[str, Any] = {}


class RunStore:
    """Owns every Redis key of the workflow layer (names in ``workflows.keys``); the keys beside
    the runs are kept by the small stores it holds: ``cards`` (the Slack side's keys of a run),
    ``drills`` (the drill schedule), ``freezes``, ``announcements`` and ``names``. Nothing else
    holds its Redis client."""

    def __init__(self, redis: Redis, *, clock: Callable[[], datetime] | None = None) -> None:
        self._redis = redis
        self._clock = clock or (lambda: datetime.now(UTC))
        self.cards = CardStore(redis)
        self.drills = DrillStore(redis)
        self.freezes = FreezeBook(redis, self.now)
        self.announcements = Announcements(redis)
        self.names = NameCache(redis)
        self._commit = redis.register_script(_COMMIT)
        self._lock = redis.register_script(_LOCK)
        self._locks = redis.register_script(_LOCKS)
        self._claim = redis.register_script(_CLAIM)
        self._lease = redis.register_script(_LEASE)
        self._card_done = redis.register_script(_CARD_DONE)
        self._take = redis.register_script(_TAKE)
        self._ack = redis.register_script(_ACK)
        self._forget = redis.register_script(_FORGET)
        self._snapshot = redis.register_script(_SNAPSHOT)
        self._plans: dict[tuple[str, str], list[PlannedStep]] = {}
        # One server: indexes change in the same script as the run. Cluster: around it.
        self._single_slot_indexes = not isinstance(redis, RedisCluster)
        self._batch: list[tuple[list[str], list[Any], asyncio.Future[Any]]] = []
        self._flushes: set[asyncio.Future[None]] = set()
        self._on_the_wire = False

    def now(self) -> datetime:
        return self._clock()

    # --- runs ------------------------------------------------------------------------------

    async def load(self, run_id: str) -> Run | None:
        doc = await _hget(self._redis, keys.RunKeys(run_id).run, "doc")
        if doc is None:
            return None
        return await self._inflate(run_id, doc)

    async def _inflate(self, run_id: str, doc: bytes) -> Run:
        """A stored run is its state (``doc``) plus its plan, written once and cached here."""
        data = json.loads(doc)
        cache_key = (run_id, str(data.get("plan_hash", "")))
        plan = self._plans.get(cache_key)
        if plan is None:
            raw = await _hget(self._redis, keys.RunKeys(run_id).run, "plan")
            plan = _unpack_plan(raw)
            if len(self._plans) >= _PLAN_CACHE:
                self._plans.pop(next(iter(self._plans)))
            self._plans[cache_key] = plan
        data["plan"] = plan
        return Run.model_validate(data)

    async def get(self, run_id: str) -> Run:
        run = await self.load(run_id)
        if run is None:
            raise RunNotFound(f"no run {run_id!r}")
        return run

    async def create(
        self, run: Run, *, actor: str, takeover_from: str | None = None
    ) -> CommitOutcome:
        """Store a new run (version 0 -> its version); refused as CONFLICT if the id exists,
        as LOCKED (detail ``environment=holder``) if another run holds one of ``run.locks``
        (``takeover_from``: the run whose locks this one may take over). The locks are taken in
        the same script as the run is written (one server)."""
        if not self._single_slot_indexes and run.locks:
            refused = await self._take_locks_apart(run, takeover_from)
            if refused is not None:
                return CommitOutcome(CommitStatus.LOCKED, None, refused)
        await self._redis.zadd(keys.ACTIVE, {run.id: to_ms(run.created_at)})
        if not self._single_slot_indexes:
            await self._touch_indexes(run)
        detail = {"title": run.title, "params": run.params, "locks": run.locks}
        if takeover_from:
            detail["took_over_from"] = takeover_from
        fields = _audit_fields(self.now(), "run_created", actor, None, run.version, detail)
        outcome = await self._write(run, 0, fields, token=None, ledger=None, dedup_key=None,
                                    effects=[], with_plan=True,
                                    locks=("take", run.locks, takeover_from or ""))
        if outcome.status is not CommitStatus.OK:
            if outcome.status is CommitStatus.LOCKED:
                await self._redis.zrem(keys.ACTIVE, run.id)
            if not self._single_slot_indexes and run.locks:
                await self._lock_apart(run.locks, "restore", run.id, takeover_from or "")
        return outcome

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
            return _text(held) if held is not None else None
        run = await self.get(run_id)
        return await self._take_locks_apart(run, None)

    async def lock_holder(self, environment: str) -> str | None:
        raw = await self._redis.get(keys.lock_key(environment))
        return _text(raw) if raw is not None else None

    async def _take_locks_apart(self, run: Run, takeover_from: str | None) -> str | None:
        """Cluster: take each lock on its own (another slot); undo on the first refusal."""
        taken: list[str] = []
        for environment in run.locks:
            holder = await self._lock(keys=[keys.lock_key(environment)],
                                      args=["take", run.id, takeover_from or ""])
            if holder is not None:
                await self._lock_apart(taken, "restore", run.id, takeover_from or "")
                return f"{keys.lock_key(environment)}={_text(holder)}"
            taken.append(environment)
        return None

    async def _lock_apart(self, environments: list[str], op: str, owner: str,
                          previous: str) -> None:
        for environment in environments:
            await self._lock(keys=[keys.lock_key(environment)], args=[op, owner, previous])

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
        fields = _audit_fields(self.now(), event.type, actor, step_id, new.version, detail)
        if not self._single_slot_indexes:
            await self._touch_indexes(new)
        # A run's locks are released in the commit that ends it.
        ending = new.terminal and not old.terminal and bool(new.locks)
        outcome = await self._write(new, old.version, fields, token=token, ledger=ledger,
                                    dedup_key=dedup_key, effects=effects,
                                    locks=("release", new.locks, "") if ending else None)
        if outcome.status is CommitStatus.OK and new.terminal:
            if ending and not self._single_slot_indexes:
                await self._lock_apart(new.locks, "release", new.id, "")
            await self._finished(new)
        return outcome

    async def _write(
        self,
        run: Run,
        expected: int,
        audit_fields: list[str],
        *,
        token: str | None,
        ledger: LedgerWrite | None,
        dedup_key: str | None,
        effects: list[Notify],
        with_plan: bool = False,
        locks: tuple[str, list[str], str] | None = None,
    ) -> CommitOutcome:
        k = keys.RunKeys(run.id)
        outbox = [json.dumps(e.model_dump(mode="json")) for e in effects]
        run_keys = [k.run, k.audit, k.ledger, k.lease, k.seen, k.outbox]
        index_args: list[str] = ["", "", run.id]
        lock_args: list[str] = ["", "", "", "0"]
        if self._single_slot_indexes:
            now = self.now()
            when = wake_at(run, now)
            run_keys += [keys.DUE, keys.CARDS]
            index_args = ["" if when is None else str(to_ms(when)), str(to_ms(now)), run.id]
            if locks is not None and locks[1]:
                op, environments, previous = locks
                run_keys += [keys.lock_key(e) for e in environments]
                lock_args = [op, previous, "", str(len(environments))]
        audit = _audit_values(audit_fields)
        reply = await self._run_commit(
            run_keys,
            [
                str(expected),
                token or "",
                str(run.version),
                run.model_dump_json(exclude={"plan"}, exclude_defaults=True),
                ledger.mode if ledger else "",
                ledger.field if ledger else "",
                json.dumps(ledger.value) if ledger else "",
                dedup_key or "",
                f"v{run.version}",
                json.dumps(outbox) if outbox else "",
                _pack_plan(run.plan) if with_plan else "",
                *audit,
                *index_args,
                *lock_args,
            ],
        )
        status = CommitStatus(_text(reply[0]))
        if status is CommitStatus.OK:
            return CommitOutcome(status, run)
        return CommitOutcome(status, None, _text(reply[1]))

    async def _run_commit(self, run_keys: list[str], args: list[Any]) -> Any:
        """Run the commit script; on one server, commits issued in the same event-loop turn by
        concurrent runs go out together in one pipeline (group commit: one round trip and one
        socket write for many runs). Each script is still atomic on its own."""
        if not self._single_slot_indexes:
            return await self._commit(keys=run_keys, args=args)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._batch.append((run_keys, args, future))
        if len(self._batch) == 1 and not self._on_the_wire:
            asyncio.get_running_loop().call_soon(self._flush_soon)
        return await future

    def _flush_soon(self) -> None:
        """Send what has gathered. One batch is on the wire at a time: commits made while it
        travels wait for it and go out together next (no delay when nothing is in flight)."""
        if self._on_the_wire or not self._batch:
            return
        batch, self._batch = self._batch, []
        self._on_the_wire = True
        task = asyncio.ensure_future(self._flush(batch))
        self._flushes.add(task)
        task.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Future[None]) -> None:
        self._flushes.discard(task)
        self._on_the_wire = False
        if self._batch:
            asyncio.get_running_loop().call_soon(self._flush_soon)

    async def _flush(self, batch: list[tuple[list[str], list[Any], asyncio.Future[Any]]]) -> None:
        """One EVALSHA, or a pipeline of them. The script is not registered with the pipeline
        (that costs a SCRIPT EXISTS round trip per batch): a NOSCRIPT reply (a restarted or
        flushed server) means that commit did not run, and it is sent again on its own, which
        loads the script."""
        if len(batch) == 1:
            replies: list[Any] = [await self._commit_one(*batch[0][:2])]
        else:
            pipe = self._redis.pipeline(transaction=False)
            for run_keys, args, _ in batch:
                pipe.evalsha(self._commit.sha, len(run_keys), *run_keys, *args)
            try:
                replies = await pipe.execute(raise_on_error=False)
            except Exception as exc:  # the whole batch failed (connection lost): each sees it
                replies = [exc] * len(batch)
            for index, reply in enumerate(replies):
                if isinstance(reply, NoScriptError):
                    replies[index] = await self._commit_one(*batch[index][:2])
        for (_, _, future), reply in zip(batch, replies, strict=True):
            if future.done():
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _commit_one(self, run_keys: list[str], args: list[Any]) -> Any:
        try:
            return await self._commit(keys=run_keys, args=args)
        except Exception as exc:  # handed to the caller waiting for this commit
            return exc

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

    async def _finished(self, run: Run) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrem(keys.ACTIVE, run.id)
        pipe.zadd(keys.RECENT, {run.id: to_ms(self.now())})
        pipe.zremrangebyrank(keys.RECENT, 0, -_RECENT_KEEP - 1)
        pipe.zadd(keys.FINISHED, {run.id: to_ms(self.now())})  # until archived (retention)
        await pipe.execute()

    async def apply(
        self,
        run_id: str,
        event: Event | Callable[[Run], Event],
        *,
        token: str | None = None,
        ledger: Callable[[Run], LedgerWrite | None] | None = None,
        dedup_key: str | None = None,
        attempts: int = 20,
        known: Run | None = None,
    ) -> CommitOutcome:
        """Read, transition, commit; on a version conflict read again and re-apply.

        The machine's refusal (InvalidCommand, NotAuthorized) propagates unchanged and nothing
        is written. ``event`` may be a function of the current run (for events built from it).
        ``known`` is the run as the caller last committed it, saving a read when it is current.
        A delivery applied before (same ``dedup_key``) comes back as DUPLICATE without a look
        of its own up front: the commit script checks the key before anything else, and a
        refusal by the machine is checked against it (a click refused only because it already
        happened). One round trip less per command, which is before Slack's ack.
        """
        for _ in range(attempts):
            old = known if known is not None else await self.get(run_id)
            known = None  # after a conflict, always read again
            ev = event(old) if callable(event) else event
            try:
                new, effects = transition(old, ev, self.now())
            except (InvalidCommand, NotAuthorized):
                # A concurrent delivery of the same command may have just applied it: then this
                # one is a duplicate, not a refusal.
                if dedup_key is not None and await self.delivered(run_id, dedup_key):
                    return CommitOutcome(CommitStatus.DUPLICATE, None, "delivered before")
                raise
            outcome = await self.commit(
                old, new, ev, effects, token=token, ledger=ledger(old) if ledger else None,
                dedup_key=dedup_key,
            )
            if outcome.status is not CommitStatus.CONFLICT:
                return outcome
        raise VersionConflict(f"run {run_id} kept changing; gave up after {attempts} attempts")

    # --- audit -----------------------------------------------------------------------------

    async def audit_refusal(
        self, run_id: str, kind: str, actor: str | None, step_id: str | None, reason: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record something that changed nothing: a refused click or command."""
        body = {"reason": reason, **(detail or {})}
        fields = _audit_fields(self.now(), kind, actor, step_id, None, body)
        await self._redis.xadd(keys.RunKeys(run_id).audit, _pairs(fields))  # type: ignore[arg-type]

    async def audit_start_refusal(
        self, actor: str, workflow: str, reason: str, parent_run_id: str | None = None
    ) -> None:
        """A refused start has no run of its own: it goes to the refused-starts stream (and,
        when it was started from a run's offer, to that run's audit log too)."""
        body = {"workflow": workflow, "reason": reason}
        fields = _audit_fields(self.now(), "refused_start", actor, None, None, body)
        await self._redis.xadd(keys.REFUSED_STARTS, _pairs(fields),  # type: ignore[arg-type]
                              maxlen=10_000, approximate=True)
        if parent_run_id is not None and await self.load(parent_run_id) is not None:
            await self.audit_refusal(parent_run_id, "refused_start", actor, None, reason,
                                     {"workflow": workflow})

    async def refused_starts(self, count: int = 100) -> list[dict[str, str]]:
        """The latest refused starts, newest first (type, at, actor, detail JSON...)."""
        raw = await self._redis.xrevrange(keys.REFUSED_STARTS, count=count)
        return [{_text(k): _text(v) for k, v in fields.items()} for _, fields in raw]

    async def read_audit(
        self, run_id: str, count: int = 10_000, after: str | None = None
    ) -> list[AuditEntry]:
        """Up to ``count`` entries, oldest first; ``after``: only those after that entry id."""
        start = f"({after}" if after else "-"
        raw = await self._redis.xrange(keys.RunKeys(run_id).audit, min=start, count=count)
        return [_audit_entry(entry_id, fields) for entry_id, fields in raw]

    # --- leases and timers -----------------------------------------------------------------

    async def due(self, now: datetime, limit: int = 100) -> list[str]:
        found = await self._redis.zrangebyscore(keys.DUE, "-inf", to_ms(now), start=0, num=limit)
        return [_text(x) for x in found]

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
        return _text(token)

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

    async def _version(self, run_id: str) -> int | None:
        raw = await _hget(self._redis, keys.RunKeys(run_id).run, "v")
        return int(raw) if raw is not None else None

    async def ledger_entry(self, run_id: str, step_id: str, attempt: int) -> dict[str, Any] | None:
        raw = await _hget(self._redis, keys.RunKeys(run_id).ledger, f"{step_id}#{attempt}")
        return json.loads(raw) if raw else None

    # --- indexes ---------------------------------------------------------------------------

    async def active_ids(self, limit: int = 1000) -> list[str]:
        return [_text(x) for x in await self._redis.zrange(keys.ACTIVE, 0, limit - 1)]

    async def recent_ids(self, limit: int = 20) -> list[str]:
        return [_text(x) for x in await self._redis.zrevrange(keys.RECENT, 0, limit - 1)]

    async def load_many(self, run_ids: list[str]) -> list[Run]:
        if not run_ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.hget(keys.RunKeys(run_id).run, "doc")
        docs = await pipe.execute()
        return [
            await self._inflate(run_id, doc)
            for run_id, doc in zip(run_ids, docs, strict=True)
            if doc is not None
        ]

    async def reserve_start(self, dedup_key: str, run_id: str) -> str:
        """The run id a delivered start command owns: ours if first, else the first one's."""
        key = keys.start_key(dedup_key)
        if await self._redis.set(key, run_id, nx=True, ex=86_400):
            return run_id
        existing = await self._redis.get(key)
        return _text(existing) if existing is not None else run_id

    async def delivered(self, run_id: str, dedup_key: str) -> bool:
        """Whether a command with this de-duplication key was already applied to the run."""
        return await _hget(self._redis, keys.RunKeys(run_id).seen, dedup_key) is not None

    # --- the promotion freeze --------------------------------------------------------------

    async def freeze(self) -> dict[str, Any] | None:
        raw = await self._redis.get(keys.FREEZE)
        return json.loads(raw) if raw else None

    async def set_freeze(self, by: str, reason: str, run_id: str | None = None) -> bool:
        """Turn the freeze on; False if it was already on (the first reason stays)."""
        body = {"by": by, "reason": reason, "run_id": run_id, "at": self.now().isoformat()}
        return bool(await self._redis.set(keys.FREEZE, json.dumps(body), nx=True))

    async def clear_freeze(self) -> bool:
        return bool(await self._redis.delete(keys.FREEZE))

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
        return _text(raw[b"channel"]), _text(raw[b"ts"])

    async def put_usergroup(self, group: str, members: list[str]) -> None:
        """The members last read of the Slack user group ``group`` follows (all replicas)."""
        await self._redis.hset(keys.USERGROUPS, group, json.dumps(members))  # type: ignore[misc]

    async def usergroups(self) -> dict[str, list[str]]:
        raw = await self._redis.hgetall(keys.USERGROUPS)  # type: ignore[misc]
        return {_text(k): [str(u) for u in json.loads(v)] for k, v in raw.items()}

    async def page_opened(self, run_id: str) -> None:
        """Before a page is sent: its incident must be resolved at the pager when it ends."""
        await self._redis.sadd(keys.PAGES_OPEN, run_id)  # type: ignore[misc]

    async def page_closed(self, run_id: str) -> None:
        await self._redis.srem(keys.PAGES_OPEN, run_id)  # type: ignore[misc]

    async def open_pages(self, limit: int = 500) -> list[str]:
        found = await self._redis.srandmember(keys.PAGES_OPEN, limit)  # type: ignore[misc]
        return sorted(_text(r) for r in found or [])

    async def count_request(self, token: str, window: int) -> int:
        """Requests of a run-API token in minute ``window``, this one included (all replicas)."""
        key = keys.api_rate_key(token, window)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = await pipe.execute()
        return int(count)

    # --- retention: finished runs leave Redis once archived (workflows.archiver) --------------

    async def finished_before(self, cutoff: datetime, limit: int = 100) -> list[tuple[str, int]]:
        """(run id, finished ms) of runs that finished at or before ``cutoff``, oldest first;
        the cost is the due runs', not all runs'."""
        found = await self._redis.zrangebyscore(keys.FINISHED, "-inf", to_ms(cutoff), start=0,
                                               num=limit, withscores=True)
        return [(_text(member), int(score)) for member, score in found]

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
        data["plan"] = _unpack_plan(plan or None)
        card_fields = _pairs([_text(x) for x in card])
        return RunSnapshot(
            run=Run.model_validate(data),
            audit=[_audit_entry(entry_id, dict(zip(fields[0::2], fields[1::2], strict=True)))
                   for entry_id, fields in audit],
            ledger={_text(f): json.loads(v) for f, v in sorted(
                zip(ledger[0::2], ledger[1::2], strict=True))},
            card=(card_fields["channel"], card_fields["ts"])
            if "channel" in card_fields and "ts" in card_fields else None,
            unposted=[Notify.model_validate_json(item) for item in outbox],
        )

    async def read_ledger(self, run_id: str) -> dict[str, Any]:
        raw = await cast("Awaitable[dict[bytes, bytes]]",
                         self._redis.hgetall(keys.RunKeys(run_id).ledger))
        return {_text(k): json.loads(v) for k, v in sorted(raw.items())}

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
        reply = _text(await self._forget(
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
                doc = await _hget(self._redis, _text(key), "doc")
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
        return [_text(x) for x in await self._redis.zrevrange(keys.ARCHIVED, 0, limit - 1)]

    # --- named records (release metadata, drill results) --------------------------------------

    async def put_record(self, name: str, values: dict[str, Any]) -> None:
        mapping = {k: json.dumps(v, default=str) for k, v in values.items()}
        await cast("Awaitable[int]", self._redis.hset(keys.record_key(name), mapping=mapping))

    async def get_record(self, name: str) -> dict[str, Any]:
        raw = await cast("Awaitable[dict[bytes, bytes]]",
                         self._redis.hgetall(keys.record_key(name)))
        return {_text(k): json.loads(v) for k, v in raw.items()}

    # --- the outbox (notifications for Slack), consumed by the notifier ----------------------

    async def dirty_cards(self, limit: int = 100) -> list[str]:
        return [_text(x) for x in await self._redis.zrange(keys.CARDS, 0, limit - 1)]

    async def take_outbox(self, run_id: str, limit: int = 50) -> list[Notify]:
        """Pop up to ``limit`` queued notifications, oldest first, atomically."""
        items = await self._take(keys=[keys.RunKeys(run_id).outbox], args=[limit])
        return [Notify.model_validate_json(item) for item in items]

    async def peek_outbox(self, run_id: str, limit: int = 50) -> list[Queued]:
        """Up to ``limit`` queued notifications, oldest first, left in place: the notifier posts
        each and then acknowledges it, so a crash in between posts it again (at least once)."""
        key = keys.RunKeys(run_id).outbox
        raw = await cast("Awaitable[list[bytes]]", self._redis.lrange(key, 0, limit - 1))
        return [Queued(_text(item), Notify.model_validate_json(item)) for item in raw]

    async def ack_outbox(self, run_id: str, items: list[Queued]) -> int:
        """Remove ``items`` (as peeked, oldest first) from the head of the outbox; returns how
        many were still there. Items queued meanwhile are never touched."""
        if not items:
            return 0
        args = [item.raw for item in items]
        return int(await self._ack(keys=[keys.RunKeys(run_id).outbox], args=args))

    async def dirty_cards_with_scores(self, limit: int = 100) -> list[tuple[str, float]]:
        found = await self._redis.zrange(keys.CARDS, 0, limit - 1, withscores=True)
        return [(_text(member), float(score)) for member, score in found]

    async def card_done(self, run_id: str, seen_score: float) -> bool:
        """Clear the dirty mark unless the run changed again after ``seen_score``."""
        return bool(await self._card_done(keys=[keys.CARDS], args=[run_id, repr(seen_score)]))


def _audit_entry(entry_id: Any, fields: dict[Any, Any]) -> AuditEntry:
    data = {_text(k): _text(v) for k, v in fields.items()}
    return AuditEntry(
        id=_text(entry_id),
        type=data["type"],
        at=datetime.fromisoformat(data["at"]),
        actor=data.get("actor") or None,
        step_id=data.get("step") or None,
        version=int(data["v"]) if data.get("v") else None,
        detail=json.loads(data.get("detail", "{}")),
    )


def _audit_fields(
    at: datetime,
    kind: str,
    actor: str | None,
    step_id: str | None,
    version: int | None,
    detail: dict[str, Any],
) -> list[str]:
    return [
        "type", kind,
        "at", at.isoformat(),
        "actor", actor or "",
        "step", step_id or "",
        "v", "" if version is None else str(version),
        "detail", json.dumps(detail, default=str),
    ]


def _audit_values(fields: list[str]) -> list[str]:
    """type, at, actor, step, detail: the positional audit arguments of the commit script."""
    pairs = _pairs(fields)
    return [pairs["type"], pairs["at"], pairs["actor"], pairs["step"], pairs["detail"]]


def _pairs(fields: list[str]) -> dict[str, str]:
    return dict(zip(fields[0::2], fields[1::2], strict=True))


def _pack_plan(plan: list[PlannedStep]) -> bytes:
    """A run's plan as stored: its JSON, deflated. Written once, read once per process (the
    plan cache); a promotion's 33 steps are 21 KB of JSON and 3 KB deflated, which is most of
    what an active run keeps in Redis."""
    return zlib.compress(_PLAN.dump_json(plan, exclude_defaults=True), 6)


def _unpack_plan(raw: bytes | None) -> list[PlannedStep]:
    """The stored plan: deflated, or plain JSON (written before plans were deflated)."""
    if not raw:
        return []
    return _PLAN.validate_json(raw if raw[:1] == b"[" else zlib.decompress(raw))


async def _hget(redis: Redis, key: str, field: str) -> bytes | None:
    """HGET with the type redis-py's stubs leave open (sync or async)."""
    return await cast("Awaitable[bytes | None]", redis.hget(key, field))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

