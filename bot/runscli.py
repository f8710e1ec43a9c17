"""`parthenon-bot runs`: active and recent runs, the drill schedule, and incident log export.

    parthenon-bot runs [--redis-url URL] [--limit N] [--config FILE | --archive-dir DIR]
    parthenon-bot runs export <run-id> [--redis-url URL] [--output FILE] [--archive-dir DIR]

The Redis URL defaults to $REDIS_URL (the one `serve` uses). Runs past their retention are read
from the archive directory (``retention.archive_dir`` of the config, or ``--archive-dir``).
Reading only: listing neither claims nor changes a run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import yaml
from redis.exceptions import RedisError

from bot.retention import DEFAULT_ARCHIVE_DIR, RetentionConfig
from workflows.archive import ArchivedRun, RunArchive
from workflows.connection import connect
from workflows.drills import DrillDue
from workflows.drillscheduler import DrillBook
from workflows.errors import RedisUrlError, RunNotFound
from workflows.export import render_incident_log
from workflows.model import Run
from workflows.store import RunStore

__all__ = ["build_parser", "format_runs", "run_runs"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parthenon-bot runs",
        description="List runs and the drill schedule; `runs export <run-id>` writes an "
        "incident log in Markdown.",
    )
    parser.add_argument("action", nargs="?", choices=("list", "export"), default="list")
    parser.add_argument("run_id", nargs="?", help="the run to export")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"),
                        help="default: $REDIS_URL")
    parser.add_argument("--limit", type=int, default=20, help="recent runs to show")
    parser.add_argument("--output", type=Path, default=None, help="write the export here")
    parser.add_argument("--config", default=os.environ.get("PARTHENON_BOT_CONFIG"),
                        help="the bot's config, for retention.archive_dir "
                             "(default: $PARTHENON_BOT_CONFIG)")
    parser.add_argument("--archive-dir", type=Path, default=None,
                        help=f"where archived runs are (default: the config's, else "
                             f"{DEFAULT_ARCHIVE_DIR})")
    return parser


def archive_dir_of(args: argparse.Namespace) -> Path:
    """``--archive-dir``, else the config's ``retention.archive_dir`` (read without resolving
    any secret), else the default."""
    if args.archive_dir is not None:
        return Path(args.archive_dir)
    if args.config:
        try:
            doc = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            doc = {}
        section = doc.get("retention") if isinstance(doc, dict) else None
        if isinstance(section, dict):
            return RetentionConfig.model_validate(section).archive_dir
    return DEFAULT_ARCHIVE_DIR


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}" if moment else "-"


def format_runs(
    active: list[Run], recent: list[Run], drills: list[DrillDue], archived: list[Run] | None = None
) -> str:
    """The listing as text: active runs, recent finished ones, the last archived ones, then
    when each drill is due."""
    lines: list[str] = []
    sections = [("active runs", active), ("recent runs", recent)]
    if archived:
        sections.append(("archived runs (past retention)", archived))
    for heading, runs in sections:
        lines.append(f"{heading}:")
        if not runs:
            lines.append("  none")
        for run in runs:
            current = run.current[0].id if run.current else "-"
            lines.append(
                f"  {run.id:<18} {run.workflow:<26} {run.status.value:<9} "
                f"{_when(run.created_at)} UTC  at {current:<22} {run.title}"
            )
    lines.append("drills (next due, UTC):")
    for due in drills:
        state = f"DUE, {due.overdue_days} day(s) overdue" if due.is_due else "scheduled"
        last = f"last {_when(due.last_run_at)} ({due.last_run_id})" if due.last_run_id else (
            "never run"
        )
        lines.append(f"  {due.kind.value:<20} {_when(due.due_at)}  {state:<26} {last}")
    return "\n".join(lines)


async def _list(store: RunStore, archive: RunArchive, limit: int) -> str:
    runs = await store.load_many(await store.active_ids())
    active = [run for run in runs if not run.terminal]
    recent = await store.load_many(await store.recent_ids(limit))
    archived = await read_archived(store, archive, limit)
    now = store.now()
    drills = await DrillBook(store).schedule(now, keep=False)
    return format_runs(active, recent, drills, [a.run for a in archived])


async def read_archived(store: RunStore, archive: RunArchive, limit: int) -> list[ArchivedRun]:
    """The last ``limit`` runs archived (newest first) that this archive directory holds."""
    return await archive.read_many(await store.archived_ids(limit))


async def _export(store: RunStore, archive: RunArchive, run_id: str) -> str:
    run = await store.load(run_id)
    if run is not None:
        return render_incident_log(run, await store.read_audit(run_id))
    archived = await archive.read(run_id)
    if archived is None:
        raise RunNotFound(f"no run {run_id!r} (in Redis or in the archive {archive.directory})")
    return archived.incident_log


async def _main(args: argparse.Namespace) -> str:
    client = connect(args.redis_url)  # one server, Sentinel or Cluster URLs alike
    archive = RunArchive(archive_dir_of(args))
    try:
        store = RunStore(client)
        if args.action == "export":
            return await _export(store, archive, args.run_id)
        return await _list(store, archive, args.limit)
    finally:
        await client.aclose()


def run_runs(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if not args.redis_url:
        print("parthenon-bot runs: give --redis-url or set REDIS_URL", file=sys.stderr)
        return 2
    if args.action == "export" and not args.run_id:
        print("parthenon-bot runs: usage: runs export <run-id>", file=sys.stderr)
        return 2
    try:
        text = asyncio.run(_main(args))
    except (RunNotFound, RedisUrlError, ValueError) as exc:  # ValueError: retention, archive
        print(f"parthenon-bot runs: {exc}", file=sys.stderr)
        return 1
    except (RedisError, OSError) as exc:
        print(f"parthenon-bot runs: cannot read Redis: {exc}", file=sys.stderr)
        return 1
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(text)
    return 0
