"""The periodic drills of the runbook (§7) and when each is next due: pure, time passed in.

Each drill kind has a cadence in calendar months and a workflow that performs it. A drill's last
passed run is kept as a record (``drill:<kind>``, written by the drill's final ``record_drill``
step); the next due date is that run's completion plus the cadence. A drill that never ran is due
from ``since`` (when the bot started keeping the schedule), so reminders for it have a stable date.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DRILLS",
    "DrillDue",
    "DrillKind",
    "DrillRecord",
    "DrillSpec",
    "add_months",
    "drill_within_slo",
    "due_drills",
    "record_name",
    "recovery_times",
    "schedule",
]


class DrillKind(StrEnum):
    RESTORE = "restore"
    KEY_ROTATION = "key-rotation"
    INCIDENT_SIMULATION = "incident-simulation"
    DR_FAILOVER = "dr-failover"


@dataclass(frozen=True)
class DrillSpec:
    kind: DrillKind
    workflow: str  # the definition a reminder's button starts
    title: str
    months: int  # cadence


DRILLS: dict[DrillKind, DrillSpec] = {
    spec.kind: spec
    for spec in (
        DrillSpec(DrillKind.RESTORE, "restore-drill", "Quarterly restore drill", 3),
        DrillSpec(DrillKind.KEY_ROTATION, "drill-key-rotation", "Quarterly key rotation drill", 3),
        DrillSpec(
            DrillKind.INCIDENT_SIMULATION,
            "drill-incident-simulation",
            "Semi-annual incident simulation (compromise + rollback)",
            6,
        ),
        DrillSpec(
            DrillKind.DR_FAILOVER,
            "drill-dr-failover",
            "Annual disaster-recovery failover (multi-region switch)",
            12,
        ),
    )
}


class DrillRecord(BaseModel):
    """The last passed run of one drill kind."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: DrillKind
    run_id: str
    completed_at: datetime
    passed: bool = True
    details: dict[str, Any] = Field(default_factory=dict)


def record_name(kind: DrillKind) -> str:
    """The named record (``RunStore.put_record``) that holds a kind's last passed run."""
    return f"drill:{kind.value}"


@dataclass(frozen=True)
class DrillDue:
    """One drill's place in the schedule, for reminders, App Home and ``/parthenon runs``."""

    kind: DrillKind
    workflow: str
    title: str
    due_at: datetime
    last_run_at: datetime | None
    last_run_id: str | None
    is_due: bool
    overdue_days: int  # whole days past due (0 when not due or due today)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` calendar months later (clamped to the month's last day)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def schedule(
    records: Mapping[DrillKind, DrillRecord | None], now: datetime, *, since: datetime
) -> list[DrillDue]:
    """Every drill kind with its next due date, soonest first."""
    found: list[DrillDue] = []
    for kind, spec in DRILLS.items():
        record = records.get(kind)
        if record is not None and record.passed:
            due = add_months(record.completed_at, spec.months)
            last_at, last_id = record.completed_at, record.run_id
        else:
            due, last_at, last_id = since, None, None
        is_due = due <= now
        overdue = (now - due).days if is_due else 0
        found.append(
            DrillDue(kind, spec.workflow, spec.title, due, last_at, last_id, is_due, overdue)
        )
    return sorted(found, key=lambda d: (d.due_at, d.kind.value))


def due_drills(
    records: Mapping[DrillKind, DrillRecord | None], now: datetime, *, since: datetime
) -> list[DrillDue]:
    """The drills due now (overdue included)."""
    return [d for d in schedule(records, now, since=since) if d.is_due]


def drill_within_slo(
    record: DrillRecord | None, now: datetime, max_age_days: int
) -> tuple[bool, str]:
    """The promotion gate: a passed drill completed within ``max_age_days``."""
    if record is None:
        return False, "no restore drill has been recorded"
    if not record.passed:
        return False, f"the last restore drill ({record.run_id}) did not pass"
    age = now - record.completed_at
    when = f"{record.completed_at:%Y-%m-%d %H:%M} UTC ({record.run_id})"
    if age > timedelta(days=max_age_days):
        return False, (
            f"the last restore drill passed {age.days} days ago on {when}, "
            f"more than the {max_age_days}-day SLO"
        )
    rto = record.details.get("rto_seconds")
    extra = f", RTO {float(rto):.0f} s" if isinstance(rto, int | float) else ""
    return True, f"restore drill passed {age.days} day(s) ago on {when}{extra}"


def recovery_times(
    *,
    restore_started: datetime,
    verified_at: datetime,
    snapshot_time: datetime,
    snapshot_height: int,
    restored_height: int | None = None,
) -> dict[str, Any]:
    """RTO (restore start -> verified service) and RPO (snapshot age when the restore began).

    Drift is how many blocks the restored node stands above the snapshot once verified.
    """
    rto = max(0.0, (verified_at - restore_started).total_seconds())
    rpo = max(0.0, (restore_started - snapshot_time).total_seconds())
    result: dict[str, Any] = {
        "rto_seconds": round(rto, 3),
        "rpo_seconds": round(rpo, 3),
        "restore_started": restore_started.isoformat(),
        "verified_at": verified_at.isoformat(),
        "snapshot_time": snapshot_time.isoformat(),
        "snapshot_height": snapshot_height,
    }
    if restored_height is not None:
        result["restored_height"] = restored_height
        result["drift_blocks"] = restored_height - snapshot_height
    return result
