"""How the run store encodes values in Redis: times as epoch milliseconds, a run's plan deflated,
replies decoded to text. Shared by every part of the store (``workflows.store``)."""

from __future__ import annotations

import zlib
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import TypeAdapter
from redis.asyncio import Redis

from workflows.model import PlannedStep

__all__ = ["from_ms", "hget", "pack_plan", "pairs", "text", "to_ms", "unpack_plan"]

_PLAN: TypeAdapter[list[PlannedStep]] = TypeAdapter(list[PlannedStep])


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(value: float) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def pairs(fields: list[str]) -> dict[str, str]:
    return dict(zip(fields[0::2], fields[1::2], strict=True))


def pack_plan(plan: list[PlannedStep]) -> bytes:
    """A run's plan as stored: its JSON, deflated. Written once, read once per process (the
    plan cache); a promotion's 33 steps are 21 KB of JSON and 3 KB deflated, which is most of
    what an active run keeps in Redis."""
    return zlib.compress(_PLAN.dump_json(plan, exclude_defaults=True), 6)


def unpack_plan(raw: bytes | None) -> list[PlannedStep]:
    """The stored plan: deflated, or plain JSON (written before plans were deflated)."""
    if not raw:
        return []
    return _PLAN.validate_json(raw if raw[:1] == b"[" else zlib.decompress(raw))


async def hget(redis: Redis, key: str, field: str) -> bytes | None:
    """HGET with the type redis-py's stubs leave open (sync or async)."""
    return await cast("Awaitable[bytes | None]", redis.hget(key, field))


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
