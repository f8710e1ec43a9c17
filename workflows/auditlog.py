"""The audit log: each run's audit stream (written by the commit script with every change, and
here for what changed nothing: refusals) and the refused-starts stream. A part of
``workflows.store.RunStore``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from workflows import keys
from workflows.runreads import RunReads
from workflows.storeformat import pairs, text

__all__ = ["AuditEntry", "AuditLog", "audit_entry", "audit_fields", "audit_values"]


class AuditEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    at: datetime
    actor: str | None = None
    step_id: str | None = None
    version: int | None = None
    detail: dict[str, Any] = {}


class AuditLog(RunReads):
    async def audit_refusal(
        self, run_id: str, kind: str, actor: str | None, step_id: str | None, reason: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record something that changed nothing: a refused click or command."""
        body = {"reason": reason, **(detail or {})}
        fields = audit_fields(self.now(), kind, actor, step_id, None, body)
        await self._redis.xadd(keys.RunKeys(run_id).audit, pairs(fields))  # type: ignore[arg-type]

    async def audit_start_refusal(
        self, actor: str, workflow: str, reason: str, parent_run_id: str | None = None
    ) -> None:
        """A refused start has no run of its own: it goes to the refused-starts stream (and,
        when it was started from a run's offer, to that run's audit log too)."""
        body = {"workflow": workflow, "reason": reason}
        fields = audit_fields(self.now(), "refused_start", actor, None, None, body)
        await self._redis.xadd(keys.REFUSED_STARTS, pairs(fields),  # type: ignore[arg-type]
                              maxlen=10_000, approximate=True)
        if parent_run_id is not None and await self.load(parent_run_id) is not None:
            await self.audit_refusal(parent_run_id, "refused_start", actor, None, reason,
                                     {"workflow": workflow})

    async def refused_starts(self, count: int = 100) -> list[dict[str, str]]:
        """The latest refused starts, newest first (type, at, actor, detail JSON...)."""
        raw = await self._redis.xrevrange(keys.REFUSED_STARTS, count=count)
        return [{text(k): text(v) for k, v in fields.items()} for _, fields in raw]

    async def read_audit(
        self, run_id: str, count: int = 10_000, after: str | None = None
    ) -> list[AuditEntry]:
        """Up to ``count`` entries, oldest first; ``after``: only those after that entry id."""
        start = f"({after}" if after else "-"
        raw = await self._redis.xrange(keys.RunKeys(run_id).audit, min=start, count=count)
        return [audit_entry(entry_id, fields) for entry_id, fields in raw]


def audit_entry(entry_id: Any, fields: dict[Any, Any]) -> AuditEntry:
    data = {text(k): text(v) for k, v in fields.items()}
    return AuditEntry(
        id=text(entry_id),
        type=data["type"],
        at=datetime.fromisoformat(data["at"]),
        actor=data.get("actor") or None,
        step_id=data.get("step") or None,
        version=int(data["v"]) if data.get("v") else None,
        detail=json.loads(data.get("detail", "{}")),
    )


def audit_fields(
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


def audit_values(fields: list[str]) -> list[str]:
    """type, at, actor, step, detail: the positional audit arguments of the commit script."""
    by_name = pairs(fields)
    return [by_name["type"], by_name["at"], by_name["actor"], by_name["step"], by_name["detail"]]
