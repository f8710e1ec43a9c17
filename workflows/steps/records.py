"""Bot actions the runbook workflows add to ``BOT_ACTIONS``: gates and records kept in Redis.

- ``require_recent_drill``: the promotion gate on the last passed restore drill (§6).
- ``record_drill``: a drill passed; for a restore drill, RTO/RPO/drift computed and kept (§4, §7).
- ``load_snapshot``: the latest snapshot metadata a backup recorded, for a restore drill (§4).
- ``require_equal``: values given by people agree (checksums of two copies), locations differ.
- ``release_metadata``: git SHA, config checksum, rollout start and end, approvers, waves (§1),
  kept as ``release:<version>``, ``release:latest`` and ``release:latest:<environment>`` (what an
  automatic rollback of that environment deploys: workflows/autorollback.py).

Registered through ``RUNBOOK_ACTIONS`` (``BotExecutor(actions=RUNBOOK_ACTIONS)``). Each is safe
to run again (records are overwritten with the same values), so ``verify`` may repeat them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workflows.drills import DrillKind, DrillRecord, drill_within_slo, recovery_times
from workflows.drillscheduler import DrillBook
from workflows.errors import WorkflowError
from workflows.model import Outcome, OutcomeFailed, OutcomeSucceeded, Run, StepStatus
from workflows.steps.base import StepContext
from workflows.steps.bot import Action

__all__ = ["RUNBOOK_ACTIONS", "latest_release_record", "release_metadata", "snapshot_record_name"]

DEFAULT_SLO_DAYS = 90


def snapshot_record_name(environment: str) -> str:
    return f"snapshot:{environment}"


def latest_release_record(environment: str) -> str:
    """The record of the last release promoted to ``environment`` (promote's release-record;
    what workflows.autorollback rolls that environment back to)."""
    return f"release:latest:{environment}"


def _kind(ctx: StepContext) -> DrillKind:
    raw = str(ctx.args.get("kind", DrillKind.RESTORE.value))
    try:
        return DrillKind(raw)
    except ValueError:
        known = ", ".join(k.value for k in DrillKind)
        raise WorkflowError(f"unknown drill kind {raw!r} (known: {known})") from None


async def _require_recent_drill(ctx: StepContext) -> Outcome:
    config = ctx.deps.config
    default = config.drills.restore_drill_slo_days if config is not None else DEFAULT_SLO_DAYS
    max_days = int(ctx.args.get("max_age_days") or default)
    record = await DrillBook(ctx.deps.need_store()).record_of(_kind(ctx))
    ok, text = drill_within_slo(record, ctx.now, max_days)
    result = {"slo_days": max_days, "record": record.model_dump(mode="json") if record else None}
    if ok:
        return OutcomeSucceeded(result=result, note=text)
    return OutcomeFailed(
        error=f"{text}. Run restore-drill, or ask the security group to approve skipping "
        "this gate.",
        result=result,
    )


def _moment(value: object, what: str) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise WorkflowError(f"{what} {value!r} is not an ISO date and time") from None


def _started_at(run: Run, step_id: str) -> datetime:
    index = run.index_of(step_id)
    if index is None:
        raise WorkflowError(f"record_drill: this run has no step {step_id!r}")
    started = run.steps[index].started_at or run.steps[index].finished_at
    if started is None:
        raise WorkflowError(f"record_drill: step {step_id!r} has not run")
    return started


async def _record_drill(ctx: StepContext) -> Outcome:
    kind = _kind(ctx)
    details: dict[str, Any] = {}
    captures: dict[str, Any] = {}
    if kind is DrillKind.RESTORE:
        restored = ctx.args.get("restored_height")
        try:
            snapshot_height = int(str(ctx.args.get("snapshot_height")))
            restored_height = int(str(restored)) if restored not in (None, "") else None
        except ValueError:
            raise WorkflowError("record_drill: heights must be whole numbers") from None
        details = recovery_times(
            restore_started=_started_at(ctx.run, str(ctx.args.get("restore_step", ""))),
            verified_at=ctx.now,
            snapshot_time=_moment(ctx.args.get("snapshot_time"), "snapshot_time"),
            snapshot_height=snapshot_height,
            restored_height=restored_height,
        )
        captures = {"rto_seconds": details["rto_seconds"], "rpo_seconds": details["rpo_seconds"]}
    record = DrillRecord(kind=kind, run_id=ctx.run.id, completed_at=ctx.now, details=details)
    await DrillBook(ctx.deps.need_store()).record(record)
    note = f"{kind.value} drill recorded"
    if captures:
        note += (
            f": RTO {details['rto_seconds']:.1f} s, RPO {details['rpo_seconds']:.1f} s"
            + (f", drift {details['drift_blocks']} block(s)" if "drift_blocks" in details else "")
        )
    return OutcomeSucceeded(result=record.model_dump(mode="json"), captures=captures, note=note)


async def _load_snapshot(ctx: StepContext) -> Outcome:
    environment = str(ctx.args.get("environment") or ctx.run.environment or "")
    record = await ctx.deps.need_store().get_record(snapshot_record_name(environment))
    needed = ("snapshot_height", "snapshot_hash", "snapshot_time")
    if not record or any(name not in record for name in needed):
        return OutcomeFailed(
            error=f"no snapshot metadata recorded for {environment}: run a backup of "
            f"{environment} first"
        )
    captures = {k: v for k, v in record.items() if k.startswith("snapshot_")}
    note = (
        f"snapshot of {environment} at height {record['snapshot_height']}, "
        f"taken {record['snapshot_time']}"
    )
    return OutcomeSucceeded(result=record, captures=captures, note=note)


async def _require_equal(ctx: StepContext) -> Outcome:
    values = ctx.args.get("values")
    distinct = ctx.args.get("distinct") or []
    if not isinstance(values, list) or len(values) < 2 or not isinstance(distinct, list):
        return OutcomeFailed(error="require_equal needs 'values' (two or more) and 'distinct'")
    normal = [str(v).strip().lower() for v in values]
    if len(set(normal)) != 1:
        return OutcomeFailed(error="the values differ: " + " vs ".join(str(v) for v in values))
    places = [str(v).strip() for v in distinct]
    if len(set(places)) != len(places):
        return OutcomeFailed(error="these must differ but repeat: " + ", ".join(places))
    return OutcomeSucceeded(result={"value": values[0], "distinct": places},
                            note=f"all {len(values)} agree")


def release_metadata(run: Run, now: datetime) -> dict[str, Any]:
    """What a promotion leaves behind: who approved what, which wave went when, start and end."""
    approvers: dict[str, list[str]] = {}
    waves: dict[str, dict[str, Any]] = {}
    for step, state in zip(run.plan, run.steps, strict=True):
        if state.result and isinstance(state.result.get("approvers"), list):
            approvers[step.id] = [str(u) for u in state.result["approvers"]]
        if step.wave is None or step.group is None:
            continue
        wave = waves.setdefault(
            step.group,
            {"index": step.wave.get("index"), "percent": step.wave.get("percent"),
             "nodes": list(step.wave.get("nodes", [])), "status": "succeeded"},
        )
        if step.kind.value == "webhook" and state.finished_at is not None:
            wave["deployed_at"] = state.finished_at.isoformat()
        if state.status not in {StepStatus.SUCCEEDED, StepStatus.SKIPPED}:
            wave["status"] = state.status.value
    return {
        "workflow": run.workflow,
        "run_id": run.id,
        "version": run.params.get("version"),
        "git_sha": run.params.get("git_sha"),
        "config_checksum": run.params.get("config_checksum"),
        "environment": run.environment,
        "started_at": run.created_at.isoformat(),
        "finished_at": now.isoformat(),
        "initiator": run.initiator,
        "approvers": approvers,
        "waves": [waves[k] for k in sorted(waves, key=lambda g: waves[g]["index"] or 0)],
    }


def _release_summary(meta: dict[str, Any]) -> str:
    people = sorted({u for users in meta["approvers"].values() for u in users})
    waves = ", ".join(f"{w['percent']}% ({len(w['nodes'])} node(s))" for w in meta["waves"])
    sha = str(meta.get("git_sha") or "?")[:12]
    return (
        f"Release {meta['version']} ({sha}) to {meta['environment']}: "
        f"waves {waves or 'none'}; approved by {', '.join(f'<@{u}>' for u in people) or 'nobody'}; "
        f"config checksum {meta.get('config_checksum') or 'none'}; "
        f"rollout {meta['started_at']} to {meta['finished_at']}"
    )


async def _release_metadata(ctx: StepContext) -> Outcome:
    meta = release_metadata(ctx.run, ctx.now)
    store = ctx.deps.need_store()
    await store.put_record(f"release:{meta['version']}", meta)
    await store.put_record("release:latest", meta)
    if meta["environment"]:  # what an automatic rollback of that environment goes back to
        await store.put_record(latest_release_record(meta["environment"]), meta)
    summary = _release_summary(meta)
    return OutcomeSucceeded(
        result={**meta, "summary": summary},
        captures={"release_summary": summary},
        note=summary,
    )


RUNBOOK_ACTIONS: dict[str, Action] = {
    "require_recent_drill": _require_recent_drill,
    "record_drill": _record_drill,
    "load_snapshot": _load_snapshot,
    "require_equal": _require_equal,
    "release_metadata": _release_metadata,
}
