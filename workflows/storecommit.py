"""The commit script's side in Python: its arguments (``CommitArgs``), its outcome
(``CommitOutcome``), and the writer that runs it, batching the commits of concurrent runs into one
pipeline on one server (group commit). ``workflows.apply`` decides what a change is (the machine's
transition), ``workflows.store.RunStore`` the locks and indexes around it; this module only
writes it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from workflows import keys
from workflows.auditlog import audit_values
from workflows.machine import Notify, wake_at
from workflows.model import Run
from workflows.storeformat import pack_plan, text, to_ms
from workflows.storescripts import COMMIT

__all__ = ["CommitArgs", "CommitOutcome", "CommitStatus", "CommitWriter", "LedgerWrite"]


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


@dataclass(frozen=True, slots=True)
class CommitArgs:
    """One commit of ``run``: what the script checks, writes and queues; ``script_keys`` and
    ``script_argv`` lay it out as ``storescripts.COMMIT`` reads it."""

    run: Run  # the new state
    expected: int  # the version the stored run must still have
    audit: list[str]  # type, at, actor, step, detail (``auditlog.audit_values``)
    token: str | None  # a worker's fencing token (None: a command, not under a lease)
    ledger: LedgerWrite | None
    dedup_key: str | None
    effects: list[Notify]  # queued in the outbox
    with_plan: bool  # a new run: its plan is written too
    # One server only (None on Cluster, where the indexes and locks are in other slots and are
    # changed around the script): the dirty-card mark at ``now_ms``, the due time, the locks
    # (op 'take' or 'release', the environments, the run they may be taken over from or '').
    now_ms: int | None = None
    due_ms: int | None = None
    locks: tuple[str, list[str], str] | None = None

    def script_keys(self) -> list[str]:
        k = keys.RunKeys(self.run.id)
        run_keys = [k.run, k.audit, k.ledger, k.lease, k.seen, k.outbox]
        if self.now_ms is not None:
            run_keys += [keys.DUE, keys.CARDS]
            if self.locks is not None and self.locks[1]:
                run_keys += [keys.lock_key(e) for e in self.locks[1]]
        return run_keys

    def script_argv(self) -> list[Any]:
        run, ledger = self.run, self.ledger
        outbox = [json.dumps(e.model_dump(mode="json")) for e in self.effects]
        index_args: list[str] = ["", "", run.id]
        lock_args: list[str] = ["", "", "", "0"]
        if self.now_ms is not None:
            due = "" if self.due_ms is None else str(self.due_ms)
            index_args = [due, str(self.now_ms), run.id]
            if self.locks is not None and self.locks[1]:
                op, environments, previous = self.locks
                lock_args = [op, previous, "", str(len(environments))]
        return [
            str(self.expected),
            self.token or "",
            str(run.version),
            run.model_dump_json(exclude={"plan"}, exclude_defaults=True),
            ledger.mode if ledger else "",
            ledger.field if ledger else "",
            json.dumps(ledger.value) if ledger else "",
            self.dedup_key or "",
            f"v{run.version}",
            json.dumps(outbox) if outbox else "",
            pack_plan(run.plan) if self.with_plan else "",
            *self.audit,
            *index_args,
            *lock_args,
        ]


class CommitWriter:
    """Runs the commit script. On one server, commits issued in the same event-loop turn by
    concurrent runs go out together in one pipeline (group commit: one round trip and one socket
    write for many runs); each script is still atomic on its own."""

    def __init__(self, redis: Redis, now: Callable[[], datetime], single_slot: bool) -> None:
        self._redis = redis
        self._now = now
        self._single_slot_indexes = single_slot
        self._commit = redis.register_script(COMMIT)
        self._batch: list[tuple[list[str], list[Any], asyncio.Future[Any]]] = []
        self._flushes: set[asyncio.Future[None]] = set()
        self._on_the_wire = False

    async def write(
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
        audit = audit_values(audit_fields)
        if self._single_slot_indexes:
            now = self._now()
            when = wake_at(run, now)
            args = CommitArgs(run, expected, audit, token, ledger, dedup_key, effects, with_plan,
                              to_ms(now), None if when is None else to_ms(when), locks)
        else:
            args = CommitArgs(run, expected, audit, token, ledger, dedup_key, effects, with_plan)
        reply = await self._run_commit(args.script_keys(), args.script_argv())
        status = CommitStatus(text(reply[0]))
        if status is CommitStatus.OK:
            return CommitOutcome(status, run)
        return CommitOutcome(status, None, text(reply[1]))

    async def _run_commit(self, run_keys: list[str], args: list[Any]) -> Any:
        """Run the commit script: on Cluster on its own, on one server in the next batch."""
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
