"""A run and its audit log as an incident log in Markdown: pure, for the CLI and for Slack.

Timeline entries come from the audit stream (every accepted event and every refusal, in order)
with UTC times and who did what; severity and summary come from the run's parameters; root
cause, remediation and follow-ups from the values the review step captured.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from workflows.auditlog import AuditEntry
from workflows.model import Run, StepStatus

__all__ = ["BOT_NAME", "render_incident_log", "timeline"]

BOT_NAME = "parthenon-bot"
_KEY_FACTS = {
    "last_good_height": "Last known good height",
    "last_good_hash": "Last known good hash",
    "affected_release": "Affected release / flag",
    "affected_host": "Affected host",
    "trusted_commit": "Trusted commit",
    "paused_runs": "Promotions halted",
}
_MARKS = {
    StepStatus.SUCCEEDED: "[x]",
    StepStatus.SKIPPED: "[x] (skipped)",
    StepStatus.FAILED: "[ ] (failed)",
    StepStatus.BLOCKED: "[ ] (blocked)",
}


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip()


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _who(actor: str | None, names: Mapping[str, str]) -> str:
    if not actor:
        return BOT_NAME
    name = names.get(actor)
    return f"{name} ({actor})" if name else actor


def _short(value: object, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _event_text(entry: AuditEntry, titles: Mapping[str, str]) -> str | None:
    """What happened, in words; None for entries that are bookkeeping (ticks, step starts)."""
    detail: dict[str, Any] = entry.detail
    title = titles.get(entry.step_id or "", entry.step_id or "")
    reason = detail.get("reason")
    match entry.type:
        case "run_created":
            params = detail.get("params") or {}
            shown = ", ".join(f"{k}={v}" for k, v in params.items() if v)
            return "started the run" + (f" ({shown})" if shown else "")
        case "step_finished":
            return _outcome_text(title, detail.get("outcome") or {})
        case "step_in_doubt":
            return f"{title}: in doubt ({detail.get('reason')})"
        case "approve":
            return f"approved {title}"
        case "reject":
            return f"rejected {title}: {reason}"
        case "confirm":
            inputs = detail.get("inputs") or {}
            given = "; ".join(f"{k}: {_short(v, 120)}" for k, v in inputs.items() if v)
            return f"confirmed {title}" + (f" ({given})" if given else "")
        case "pause":
            return "paused the run" + (f": {reason}" if reason else "")
        case "resume":
            return "resumed the run"
        case "abort":
            return f"aborted the run: {reason}"
        case "retry":
            return f"retried {title}"
        case "skip":
            return f"asked to skip {title}: {reason}"
        case "hand_over":
            return f"handed incident command to {detail.get('to')}"
        case "hold":
            return f"held the run (promotion freeze): {reason}"
        case "release_hold":
            return "released the run (the freeze was lifted)"
        case kind if kind.startswith("refused_"):
            verb = kind.removeprefix("refused_")
            target = f" {title}" if title else ""
            return f"was refused ({verb}{target}): {reason}"
    return None


def _outcome_text(title: str, outcome: Mapping[str, Any]) -> str | None:
    kind = outcome.get("kind")
    note = outcome.get("note")
    if kind == "succeeded":
        return f"{title}: done" + (f" ({_short(note)})" if note else "")
    if kind == "failed":
        return f"{title}: failed: {_short(outcome.get('error'), 400)}"
    if kind == "wait":
        what = outcome.get("waiting_for", "people")
        return f"{title}: waiting for {what}" + (f" ({_short(note)})" if note else "")
    return None  # reschedules (monitor samples, timers) are progress, not events


def timeline(
    run: Run, audit: Sequence[AuditEntry], names: Mapping[str, str] | None = None
) -> list[tuple[datetime, str, str]]:
    """(when, who, what) for each entry worth a line, in the audit's order."""
    titles = {step.id: step.title for step in run.plan}
    names = names or {}
    rows: list[tuple[datetime, str, str]] = []
    for entry in audit:
        text = _event_text(entry, titles)
        if text is not None:
            rows.append((entry.at, _who(entry.actor, names), text))
    return rows


def render_incident_log(
    run: Run, audit: Sequence[AuditEntry], *, names: Mapping[str, str] | None = None
) -> str:
    """The incident log of ``run`` as Markdown."""
    names = names or {}
    lines = [f"# Incident log: {' '.join(run.title.split())}", ""]
    facts: list[tuple[str, object]] = [
        ("Run", f"`{run.id}` ({run.workflow})"),
        ("Severity", run.params.get("severity", "not set")),
        ("Summary", run.params.get("summary", "")),
        ("Environment", run.environment or "none"),
        ("Status", run.status.value + (f": {run.reason}" if run.reason else "")),
        ("Opened", f"{_utc(run.created_at)} by {_who(run.initiator, names)}"),
    ]
    if run.finished_at is not None:
        facts.append(("Closed", _utc(run.finished_at)))
        facts.append(("Duration", _duration(run.finished_at - run.created_at)))
    for key, label in _KEY_FACTS.items():
        value = run.values.get(key)
        if value not in (None, "", []):
            facts.append((label, ", ".join(map(str, value)) if isinstance(value, list) else value))
    lines += ["| | |", "|---|---|"]
    lines += [f"| {label} | {_cell(value)} |" for label, value in facts if value != ""]
    lines += ["", "## Timeline (UTC)", ""]
    for when, who, what in timeline(run, audit, names):
        lines.append(f"- {_utc(when)}: **{_cell(who)}** {what}")
    lines += ["", "## Root cause", "", _section(run.values.get("root_cause"))]
    lines += ["", "## Remediation", "", _section(run.values.get("remediation"))]
    lines += ["", "## Follow-ups", ""]
    follow_ups = [
        line.strip(" -*\t")
        for line in str(run.values.get("follow_ups") or "").splitlines()
        if line.strip(" -*\t")
    ]
    lines += [f"- [ ] {item}" for item in follow_ups] or ["None recorded."]
    lines += ["", "## Checklist", ""]
    for step, state in zip(run.plan, run.steps, strict=True):
        mark = _MARKS.get(state.status, "[ ]")
        where = f" ({step.runbook})" if step.runbook else ""
        lines.append(f"- {mark} {step.title}{where}")
    return "\n".join(lines) + "\n"


def _section(value: object) -> str:
    if value in (None, ""):
        return "Not recorded yet (the review step has not been confirmed)."
    return str(value).strip()
