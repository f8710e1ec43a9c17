"""Promotion freezes, kept in Redis so that every replica sees the same ones.

Two kinds:
- the freeze of every environment (``/parthenon freeze <reason>``, the supply-chain and release
  incidents' ``freeze`` step): kept under ``keys.FREEZE``, lifted only by ``/parthenon unfreeze``;
- the freeze of one environment (``/parthenon freeze environment=E <reason>``, or a sev1/sev2
  incident on E, per the config's severity table): kept in a hash; an incident's own freeze ends
  with the incident (``Freezer.reconcile`` in workflows.freezer lifts those whose run has ended).

Every freeze set or lifted is written to a stream (the freezes' audit log), with who and why.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Iterable
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis

from workflows import keys
from workflows.model import Run
from workflows.step_models import Effect

__all__ = [
    "FREEZES",
    "FREEZE_LOG",
    "Freeze",
    "FreezeBook",
    "freeze_id",
    "is_promotion",
    "run_environments",
]

FREEZES = keys.FREEZES
FREEZE_LOG = keys.FREEZE_LOG
LIFTING = keys.FREEZE_LIFTING
_LOG_KEEP = 10_000
ALL = "*"


class Freeze(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    environment: str | None = None  # None: every environment
    by: str
    reason: str
    run_id: str | None = None  # the run that set it (an incident's freeze ends with it)
    at: datetime | None = None
    ends_with_run: bool = False

    def covers(self, environments: Collection[str]) -> bool:
        return self.environment is None or self.environment in environments

    @property
    def scope(self) -> str:
        return "every environment" if self.environment is None else self.environment


def freeze_id(environment: str | None, run_id: str | None = None) -> str:
    """The id of a freeze: one per environment by hand, one per incident and environment."""
    where = environment or ALL
    return f"run:{run_id}:{where}" if run_id else f"manual:{where}"


def is_promotion(run: Run) -> bool:
    return run.category == "release"


def run_environments(run: Run) -> set[str]:
    """Where the run writes: its environment and every environment a write step acts on (a
    mainnet promotion writes to regtest, the testnet canaries and mainnet)."""
    found = {run.environment} if run.environment else set()
    found |= {s.environment for s in run.plan if s.effect is Effect.WRITE and s.environment}
    return found


class FreezeBook:
    """The freezes in Redis, and their audit stream."""

    def __init__(self, redis: Redis, clock: Callable[[], datetime]) -> None:
        self._redis = redis
        self._clock = clock

    async def all(self) -> list[Freeze]:
        found: list[Freeze] = []
        raw = await self._redis.get(keys.FREEZE)
        if raw:
            body = json.loads(raw)
            found.append(Freeze(id=freeze_id(None), **{k: v for k, v in body.items()
                                                        if k != "id"}))
        hashed = await cast("Awaitable[dict[bytes, bytes]]", self._redis.hgetall(FREEZES))
        found += sorted((Freeze.model_validate_json(v) for v in hashed.values()),
                        key=lambda f: (f.at or self._clock(), f.id))
        return found

    async def covering(self, environments: Collection[str]) -> list[Freeze]:
        return [f for f in await self.all() if f.covers(environments)]

    async def add(self, freeze: Freeze) -> bool:
        """Set it; False if a freeze with its id is on already (the first one's reason stays)."""
        stamped = freeze.model_copy(update={"at": freeze.at or self._clock()})
        if stamped.id == freeze_id(None):
            body = stamped.model_dump(mode="json", exclude={"id", "environment", "ends_with_run"})
            created = bool(await self._redis.set(keys.FREEZE, json.dumps(body), nx=True))
        else:
            created = bool(await cast("Awaitable[int]", self._redis.hsetnx(
                FREEZES, stamped.id, stamped.model_dump_json())))
        if created:
            await self._log("freeze_set", stamped.by, stamped)
        return created

    async def remove(self, freezes: Iterable[Freeze], by: str) -> list[Freeze]:
        """Lift them; returns those this call lifted (another replica may have been first)."""
        lifted = []
        for freeze in freezes:
            await cast("Awaitable[int]", self._redis.hset(LIFTING, freeze.id,
                                                         freeze.model_dump_json()))
            if freeze.id == freeze_id(None):
                gone = bool(await self._redis.delete(keys.FREEZE))
            else:
                gone = bool(await cast("Awaitable[int]", self._redis.hdel(FREEZES, freeze.id)))
            if gone:
                lifted.append(freeze)
                await self._log("freeze_lifted", by, freeze)
            else:
                await self.released([freeze])
        return lifted

    async def lifting(self) -> list[Freeze]:
        raw = await cast("Awaitable[dict[bytes, bytes]]", self._redis.hgetall(LIFTING))
        return [Freeze.model_validate_json(v) for v in raw.values()]

    async def released(self, freezes: Iterable[Freeze]) -> None:
        """Every run the freezes held has been released."""
        ids = [f.id for f in freezes]
        if ids:
            await cast("Awaitable[int]", self._redis.hdel(LIFTING, *ids))

    async def log(self, count: int = 1000) -> list[dict[str, Any]]:
        """The audit of freezes, oldest first: type, at, actor and the freeze."""
        raw = await self._redis.xrange(FREEZE_LOG, count=count)
        entries = []
        for _, fields in raw:
            data = {_text(k): _text(v) for k, v in fields.items()}
            entries.append({**data, "freeze": json.loads(data.get("freeze", "{}"))})
        return entries

    async def _log(self, kind: str, actor: str, freeze: Freeze) -> None:
        await self._redis.xadd(
            FREEZE_LOG,
            {"type": kind, "at": self._clock().isoformat(), "actor": actor,
             "freeze": freeze.model_dump_json()},
            maxlen=_LOG_KEEP,
            approximate=True,
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
