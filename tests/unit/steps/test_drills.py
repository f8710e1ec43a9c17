"""The drill schedule, the restore-drill SLO gate and RTO/RPO: pure, time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from workflows.drills import (
    DrillKind,
    DrillRecord,
    add_months,
    drill_within_slo,
    due_drills,
    recovery_times,
    schedule,
)

NOW = datetime(2025, 6, 15, 9, 0, tzinfo=UTC)
SINCE = datetime(2025, 1, 1, tzinfo=UTC)


def record(kind: DrillKind, days_ago: float, passed: bool = True) -> DrillRecord:
    return DrillRecord(kind=kind, run_id=f"r-{kind.value}", completed_at=NOW - timedelta(
        days=days_ago), passed=passed)


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (datetime(2025, 1, 31, tzinfo=UTC), 1, datetime(2025, 2, 28, tzinfo=UTC)),
        (datetime(2024, 1, 31, tzinfo=UTC), 1, datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2025, 11, 15, tzinfo=UTC), 3, datetime(2026, 2, 15, tzinfo=UTC)),
        (datetime(2025, 3, 1, tzinfo=UTC), 12, datetime(2026, 3, 1, tzinfo=UTC)),
    ],
)
def test_add_months_clamps_to_the_month(start: datetime, months: int, end: datetime) -> None:
    """Calendar months, clamped to the last day of a shorter month."""
    assert add_months(start, months) == end


def test_cadences() -> None:
    """Restore and key rotation quarterly, incident simulation half-yearly, DR yearly."""
    records = {kind: record(kind, 0) for kind in DrillKind}
    due = {d.kind: d.due_at for d in schedule(records, NOW, since=SINCE)}
    assert due[DrillKind.RESTORE] == add_months(NOW, 3)
    assert due[DrillKind.KEY_ROTATION] == add_months(NOW, 3)
    assert due[DrillKind.INCIDENT_SIMULATION] == add_months(NOW, 6)
    assert due[DrillKind.DR_FAILOVER] == add_months(NOW, 12)
    assert due_drills(records, NOW, since=SINCE) == []


def test_a_drill_never_run_is_due_from_since_with_a_stable_date() -> None:
    """Never run: due since the schedule started, with overdue days counted from then."""
    found = {d.kind: d for d in due_drills({}, NOW, since=SINCE)}
    assert set(found) == set(DrillKind)
    restore = found[DrillKind.RESTORE]
    assert restore.due_at == SINCE
    assert restore.last_run_at is None
    assert restore.overdue_days == (NOW - SINCE).days
    assert restore.workflow == "restore-drill"


def test_an_overdue_drill_and_a_failed_one() -> None:
    """A quarterly drill 100 days old is due; a failed record does not move the schedule."""
    records = {
        DrillKind.RESTORE: record(DrillKind.RESTORE, 100),
        DrillKind.KEY_ROTATION: record(DrillKind.KEY_ROTATION, 10, passed=False),
        DrillKind.INCIDENT_SIMULATION: record(DrillKind.INCIDENT_SIMULATION, 10),
        DrillKind.DR_FAILOVER: record(DrillKind.DR_FAILOVER, 10),
    }
    due = {d.kind: d for d in due_drills(records, NOW, since=SINCE)}
    assert set(due) == {DrillKind.RESTORE, DrillKind.KEY_ROTATION}
    expected_due = add_months(NOW - timedelta(days=100), 3)
    assert due[DrillKind.RESTORE].due_at == expected_due
    assert due[DrillKind.RESTORE].overdue_days == (NOW - expected_due).days > 0


@pytest.mark.parametrize(
    ("rec", "ok", "words"),
    [
        (None, False, "no restore drill has been recorded"),
        (record(DrillKind.RESTORE, 30), True, "passed 30 day(s) ago"),
        (record(DrillKind.RESTORE, 91), False, "more than the 90-day SLO"),
        (record(DrillKind.RESTORE, 5, passed=False), False, "did not pass"),
    ],
)
def test_restore_drill_slo_gate(rec: DrillRecord | None, ok: bool, words: str) -> None:
    """The promotion gate passes only on a passed drill within the SLO and says why."""
    passed, text = drill_within_slo(rec, NOW, 90)
    assert passed is ok
    assert words in text


def test_recovery_times() -> None:
    """RTO runs from the restore's start to verification; RPO is the snapshot's age then."""
    started = NOW - timedelta(minutes=30)
    times = recovery_times(
        restore_started=started, verified_at=NOW, snapshot_time=started - timedelta(hours=6),
        snapshot_height=1000, restored_height=1003,
    )
    assert times["rto_seconds"] == 1800
    assert times["rpo_seconds"] == 6 * 3600
    assert times["drift_blocks"] == 3
    assert "drift_blocks" not in recovery_times(
        restore_started=started, verified_at=NOW, snapshot_time=started, snapshot_height=1
    )
