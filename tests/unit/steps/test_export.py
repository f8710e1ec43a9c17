"""The incident log renderer: timeline from the audit, facts from the run, Markdown safe."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.unit.steps.build import NOW, run_of
from workflows.auditlog import AuditEntry
from workflows.export import render_incident_log, timeline
from workflows.model import RunStatus, StepStatus

DEFN = """
name: incident-x
title: Incident X
category: incident
parameters: [{name: environment}, {name: severity}, {name: summary}]
steps:
  - {id: freeze, title: Freeze promotions, kind: bot, runbook: "§5 step 1"}
  - {id: approve, title: Security approves, kind: approval, approval: {groups: [security]}}
  - id: review
    title: Post-incident review
    kind: manual
    inputs: [{name: root_cause, label: Root cause}]
"""

PARAMS = {"environment": "testnet", "severity": "sev2", "summary": "keys | leaked"}


def entry(n: int, kind: str, actor: str | None = None, step: str | None = None,
          **detail: Any) -> AuditEntry:
    return AuditEntry(id=f"{n}-0", type=kind, at=NOW + timedelta(seconds=n), actor=actor,
                      step_id=step, detail=detail)


AUDIT = [
    entry(0, "run_created", "U1", title="Incident X", params=PARAMS),
    entry(1, "step_began", None, "freeze", attempt=1),
    entry(2, "step_finished", None, "freeze",
          outcome={"kind": "succeeded", "note": "freeze on"}),
    entry(3, "step_finished", None, "approve",
          outcome={"kind": "wait", "waiting_for": "approval"}),
    entry(4, "refused_approve", "U1", "approve", reason="you started this run"),
    entry(5, "tick", None),
    entry(6, "approve", "U2", "approve", plan_hash="abc"),
    entry(7, "step_finished", None, "review",
          outcome={"kind": "reschedule", "at": "x"}),
    entry(8, "confirm", "U3", "review", inputs={"root_cause": "a leaked token"}),
]


def finished_run() -> Any:
    run = run_of(DEFN, PARAMS)
    run.status = RunStatus.SUCCEEDED
    run.finished_at = NOW + timedelta(minutes=75)
    for state in run.steps:
        state.status = StepStatus.SUCCEEDED
    run.values.update(root_cause="a leaked token", remediation="rotated",
                      follow_ups="- audit tokens\n\n* shorter TTLs")
    return run


def test_timeline_keeps_what_people_and_the_bot_did_in_order() -> None:
    """Bookkeeping (step starts, ticks, monitor reschedules) is left out; refusals stay."""
    rows = timeline(finished_run(), AUDIT, {"U2": "Dana"})
    assert [(who, what) for _, who, what in rows] == [
        ("U1", "started the run (environment=testnet, severity=sev2, summary=keys | leaked)"),
        ("parthenon-bot", "Freeze promotions: done (freeze on)"),
        ("parthenon-bot", "Security approves: waiting for approval"),
        ("U1", "was refused (approve Security approves): you started this run"),
        ("Dana (U2)", "approved Security approves"),
        ("U3", "confirmed Post-incident review (root_cause: a leaked token)"),
    ]
    assert [when for when, _, _ in rows] == sorted(when for when, _, _ in rows)


def test_incident_log_sections() -> None:
    """Severity, times in UTC, duration, root cause, remediation, follow-ups and checklist."""
    log = render_incident_log(finished_run(), AUDIT)
    assert log.startswith("# Incident log: Incident X: testnet sev2 keys | leaked\n")
    assert "| Severity | sev2 |" in log
    assert "| Summary | keys \\| leaked |" in log  # a pipe cannot break the table
    assert "| Opened | 2025-03-01 12:00:00 UTC by U1 |" in log
    assert "| Duration | 1h 15m |" in log
    assert "- 2025-03-01 12:00:06 UTC: **U2** approved Security approves" in log
    assert "## Root cause\n\na leaked token\n" in log
    assert "- [ ] audit tokens\n- [ ] shorter TTLs" in log
    assert "- [x] Freeze promotions (§5 step 1)" in log


def test_an_open_incident_says_what_is_missing() -> None:
    """Before the review, the log says root cause and follow-ups are not recorded yet."""
    run = run_of(DEFN, PARAMS)
    log = render_incident_log(run, AUDIT[:3])
    assert "Not recorded yet" in log
    assert "None recorded." in log
    assert "| Closed" not in log
    assert "- [ ] Post-incident review" in log
