"""Reading runs, and what every part of the run store shares: the Redis client and the clock.

``RunReads`` is the base of each part of ``workflows.store.RunStore`` (``leases``, ``envlocks``,
``runretention``, ``outbox``, ``auditlog``, ``sharedrecords``); RunStore puts them together.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

from redis.asyncio import Redis, RedisCluster

from workflows import keys
from workflows.errors import RunNotFound
from workflows.model import PlannedStep, Run
from workflows.storeformat import hget, text, unpack_plan

__all__ = ["RunReads"]

_PLAN_CACHE = 10_000  # parsed plans kept in memory; a plan never changes once a run exists


class RunReads:
    """The runs as stored, their ledger and de-duplication keys, and the active and recent
    indexes."""

    def __init__(self, redis: Redis, clock: Callable[[], datetime] | None) -> None:
        self._redis = redis
        self._clock = clock or (lambda: datetime.now(UTC))
        self._plans: dict[tuple[str, str], list[PlannedStep]] = {}
        # One server: indexes change in the same script as the run. Cluster: around it.
        self._single_slot_indexes = not isinstance(redis, RedisCluster)

    def now(self) -> datetime:
        return self._clock()

    async def ping(self) -> bool:
        """Redis answers (the readiness probe)."""
        return bool(await self._redis.ping())

    async def aclose(self) -> None:
        """Close the client the store was built on (at the bot's shutdown)."""
        await self._redis.aclose()

    async def load(self, run_id: str) -> Run | None:
        doc = await hget(self._redis, keys.RunKeys(run_id).run, "doc")
        if doc is None:
            return None
        return await self._inflate(run_id, doc)

    async def _inflate(self, run_id: str, doc: bytes) -> Run:
        """A stored run is its state (``doc``) plus its plan, written once and cached here."""
        data = json.loads(doc)
        cache_key = (run_id, str(data.get("plan_hash", "")))
        plan = self._plans.get(cache_key)
        if plan is None:
            raw = await hget(self._redis, keys.RunKeys(run_id).run, "plan")
            plan = unpack_plan(raw)
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

    async def _version(self, run_id: str) -> int | None:
        raw = await hget(self._redis, keys.RunKeys(run_id).run, "v")
        return int(raw) if raw is not None else None

    async def ledger_entry(self, run_id: str, step_id: str, attempt: int) -> dict[str, Any] | None:
        raw = await hget(self._redis, keys.RunKeys(run_id).ledger, f"{step_id}#{attempt}")
        return json.loads(raw) if raw else None

    async def read_ledger(self, run_id: str) -> dict[str, Any]:
        raw = await cast("Awaitable[dict[bytes, bytes]]",
                         self._redis.hgetall(keys.RunKeys(run_id).ledger))
        return {text(k): json.loads(v) for k, v in sorted(raw.items())}

    async def delivered(self, run_id: str, dedup_key: str) -> bool:
        """Whether a command with this de-duplication key was already applied to the run."""
        return await hget(self._redis, keys.RunKeys(run_id).seen, dedup_key) is not None

    # --- indexes ---------------------------------------------------------------------------

    async def active_ids(self, limit: int = 1000) -> list[str]:
        return [text(x) for x in await self._redis.zrange(keys.ACTIVE, 0, limit - 1)]

    async def recent_ids(self, limit: int = 20) -> list[str]:
        return [text(x) for x in await self._redis.zrevrange(keys.RECENT, 0, limit - 1)]

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
