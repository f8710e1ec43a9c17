"""Where the network guard keeps its refusals and their audit trail.

A node refused for reporting the wrong genesis stays refused for every replica: the refusal is
a Redis hash (`pcb:node:{name}:refused`) and every refusal, release and refused release is an
entry of the node's guard-audit stream (`pcb:node:{name}:guard-audit`), written in the same
script as the change (both keys share the node's hash tag, so this holds on Redis Cluster too).
This module is the only code that builds those keys (through `bot.nodes.keys`).

`MemoryRefusals` keeps the same records in the process, for one-shot tools (`check-config`)
that have no Redis and share nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.nodes.keys import guard_audit_key, refusal_key
from workflows.nodeerrors import NetworkMismatch, NodeError

__all__ = [
    "AUDIT_MAXLEN",
    "GuardAudit",
    "GuardEvent",
    "MemoryRefusals",
    "RedisRefusals",
    "Refusal",
    "RefusalStore",
    "RefusalsUnavailable",
]

AUDIT_MAXLEN = 1000
"""Guard-audit entries kept per node (approximately: Redis trims whole macro nodes)."""


class RefusalsUnavailable(NodeError):
    """Redis could not say whether the node is refused, so nothing was sent (fail closed)."""

    code = "guard_unavailable"

    def __init__(self, node: str, message: str) -> None:
        super().__init__(node, message, sent=False)


@dataclass(frozen=True)
class Refusal:
    """Why the guard refuses a node: what it reported and what its environment expects."""

    node: str
    environment: str
    reported: str
    expected: str
    message: str
    at: float  # seconds since the epoch

    def error(self) -> NetworkMismatch:
        return NetworkMismatch(
            self.node, self.message, reported=self.reported, expected=self.expected
        )

    def fields(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_fields(cls, node: str, raw: dict[str, str]) -> Refusal:
        return cls(
            node=node,
            environment=raw.get("environment", ""),
            reported=raw.get("reported", ""),
            expected=raw.get("expected", ""),
            message=raw.get("message", ""),
            at=float(raw.get("at", "0") or 0),
        )


class GuardEvent(StrEnum):
    REFUSED = "refused"  # the guard found a wrong genesis
    RELEASED = "released"  # an operator released the node after its genesis checked out
    RELEASE_REFUSED = "release_refused"  # a release was asked but the genesis is still wrong


@dataclass(frozen=True)
class GuardAudit:
    """One entry of a node's guard-audit stream."""

    event: GuardEvent
    node: str
    environment: str
    actor: str  # a Slack user id, "cli:<user>" or "guard"
    detail: str
    at: float

    def fields(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_fields(cls, raw: dict[str, str]) -> GuardAudit:
        return cls(
            event=GuardEvent(raw.get("event", GuardEvent.REFUSED.value)),
            node=raw.get("node", ""),
            environment=raw.get("environment", ""),
            actor=raw.get("actor", ""),
            detail=raw.get("detail", ""),
            at=float(raw.get("at", "0") or 0),
        )


class RefusalStore(Protocol):
    async def get(self, node: str) -> Refusal | None: ...

    async def many(self, nodes: Iterable[str]) -> dict[str, Refusal]: ...

    async def refuse(self, refusal: Refusal) -> bool:
        """Record the refusal and audit it; False (nothing written) if already refused."""
        ...

    async def release(self, node: str, entry: GuardAudit) -> bool:
        """Drop the refusal and audit `entry`; False (nothing written) if it was not refused."""
        ...

    async def note(self, entry: GuardAudit) -> None:
        """Audit an event that changes nothing (a refused release)."""
        ...

    async def audit(self, node: str, count: int = 100) -> list[GuardAudit]:
        """The node's latest guard-audit entries, oldest first."""
        ...


class MemoryRefusals:
    """The refusals of one process (a one-shot tool): nothing shared, nothing kept."""

    def __init__(self) -> None:
        self._refused: dict[str, Refusal] = {}
        self._audit: dict[str, list[GuardAudit]] = {}

    async def get(self, node: str) -> Refusal | None:
        return self._refused.get(node)

    async def many(self, nodes: Iterable[str]) -> dict[str, Refusal]:
        return {n: self._refused[n] for n in nodes if n in self._refused}

    async def refuse(self, refusal: Refusal) -> bool:
        if refusal.node in self._refused:
            return False
        self._refused[refusal.node] = refusal
        await self.note(_refused_entry(refusal))
        return True

    async def release(self, node: str, entry: GuardAudit) -> bool:
        if self._refused.pop(node, None) is None:
            return False
        await self.note(entry)
        return True

    async def note(self, entry: GuardAudit) -> None:
        self._audit.setdefault(entry.node, []).append(entry)

    async def audit(self, node: str, count: int = 100) -> list[GuardAudit]:
        return self._audit.get(node, [])[-count:]


# KEYS: refusal hash, audit stream. ARGV: mode ("refuse" | "release"), maxlen, n (hash field
# items), then n hash items, then the audit entry's items. Returns 1 if it changed something.
_SCRIPT = """
local exists = redis.call('EXISTS', KEYS[1]) == 1
local n = tonumber(ARGV[3])
if ARGV[1] == 'refuse' then
  if exists then return 0 end
  redis.call('HSET', KEYS[1], unpack(ARGV, 4, 3 + n))
else
  if not exists then return 0 end
  redis.call('DEL', KEYS[1])
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 4 + n))
return 1
"""


class RedisRefusals:
    """The refusals of every replica, in Redis; a Redis failure is `RefusalsUnavailable`."""

    def __init__(self, redis: aioredis.Redis, *, maxlen: int = AUDIT_MAXLEN) -> None:
        self._redis = redis
        self._maxlen = maxlen
        self._script = redis.register_script(_SCRIPT)

    async def get(self, node: str) -> Refusal | None:
        return (await self.many([node])).get(node)

    async def many(self, nodes: Iterable[str]) -> dict[str, Refusal]:
        names = list(nodes)
        if not names:
            return {}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.hgetall(refusal_key(name))
                replies = await pipe.execute()
        except RedisError as exc:
            raise RefusalsUnavailable(
                names[0], f"the guard's refusals are unavailable ({type(exc).__name__}); "
                "nothing was sent"
            ) from None
        return {
            name: Refusal.from_fields(name, _text(raw))
            for name, raw in zip(names, replies, strict=True)
            if raw
        }

    async def refuse(self, refusal: Refusal) -> bool:
        return await self._run("refuse", refusal.node, refusal.fields(), _refused_entry(refusal))

    async def release(self, node: str, entry: GuardAudit) -> bool:
        return await self._run("release", node, {}, entry)

    async def note(self, entry: GuardAudit) -> None:
        fields: dict[Any, Any] = dict(entry.fields())
        try:
            await self._redis.xadd(
                guard_audit_key(entry.node), fields, maxlen=self._maxlen, approximate=True
            )
        except RedisError as exc:
            raise RefusalsUnavailable(
                entry.node, f"the guard's audit is unavailable ({type(exc).__name__})"
            ) from None

    async def audit(self, node: str, count: int = 100) -> list[GuardAudit]:
        try:
            entries = await self._redis.xrevrange(guard_audit_key(node), count=count)
        except RedisError as exc:
            raise RefusalsUnavailable(
                node, f"the guard's audit is unavailable ({type(exc).__name__})"
            ) from None
        return [GuardAudit.from_fields(_text(fields)) for _, fields in reversed(entries)]

    async def _run(
        self, mode: str, node: str, record: dict[str, str], entry: GuardAudit
    ) -> bool:
        items = [x for pair in record.items() for x in pair]
        audit = [x for pair in entry.fields().items() for x in pair]
        try:
            changed = await self._script(
                keys=[refusal_key(node), guard_audit_key(node)],
                args=[mode, self._maxlen, len(items), *items, *audit],
            )
        except RedisError as exc:
            raise RefusalsUnavailable(
                node, f"the guard's refusals are unavailable ({type(exc).__name__}); "
                "nothing was changed"
            ) from None
        return bool(changed)


def _refused_entry(refusal: Refusal) -> GuardAudit:
    return GuardAudit(
        event=GuardEvent.REFUSED, node=refusal.node, environment=refusal.environment,
        actor="guard", detail=refusal.message, at=refusal.at,
    )


def _text(raw: dict[bytes | str, bytes | str]) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in raw.items()
    }
