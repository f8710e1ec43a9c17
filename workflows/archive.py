"""The run archive: a directory holding every run that left Redis, one JSON document each plus
its incident log in Markdown.

    <archive_dir>/runs/<run-id>.json   the whole record: run, plan, approvals, audit, ledger, card
    <archive_dir>/runs/<run-id>.md     the incident log (``workflows.export``), for people

Each file is written to a temporary name, fsynced, renamed over its final name, and the directory
is fsynced: a reader sees a whole old file or a whole new one, and a crash leaves at most a stray
``.*.tmp`` (never read, removed by the next sweep). The document is a function of what Redis
held, so writing it again (after a crash, or by a second replica at the same time) writes the
same bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflows.auditlog import AuditEntry
from workflows.model import Run

__all__ = ["FORMAT", "ArchiveConflict", "ArchivedRun", "RunArchive", "archive_document",
           "valid_run_id"]

FORMAT = "parthenon-bot/archived-run/1"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_STALE_TMP = 3600.0  # a temporary file older than this was left by a crash


def valid_run_id(run_id: str) -> bool:
    """Run ids name files here: letters, digits, '.', '-' and '_', starting with a letter or a
    digit (never a path, never a hidden file)."""
    return bool(_RUN_ID.fullmatch(run_id))


def archive_document(
    run: Run,
    audit: list[AuditEntry],
    *,
    ledger: dict[str, Any],
    card: tuple[str, str] | None,
    incident_log: str,
    unposted: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The archived record of ``run`` (pure): everything Redis held about it that matters."""
    approvals = [
        {"step_id": state.id, **state.approval.model_dump(mode="json")}
        for state in run.steps
        if state.approval is not None
    ]
    return {
        "format": FORMAT,
        "run_id": run.id,
        "workflow": run.workflow,
        "title": run.title,
        "status": run.status.value,
        "environment": run.environment,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "version": run.version,
        "last_audit_id": audit[-1].id if audit else "",
        "run": run.model_dump(mode="json", exclude={"plan"}),
        "plan": [step.model_dump(mode="json") for step in run.plan],
        "approvals": approvals,
        "audit": [entry.model_dump(mode="json") for entry in audit],
        "ledger": ledger,
        "card": {"channel": card[0], "ts": card[1]} if card else None,
        "unposted": unposted or [],
        "incident_log": incident_log,
    }


class ArchiveConflict(ValueError):
    """The archive holds another run under this id (created at another time): never replaced."""


@dataclass(frozen=True)
class ArchivedRun:
    run: Run
    audit: list[AuditEntry]
    incident_log: str
    card: tuple[str, str] | None
    document: dict[str, Any]


class RunArchive:
    """Reads and writes the archive directory; blocking file work runs in a thread."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.runs = self.directory / "runs"

    def path_of(self, run_id: str, suffix: str = ".json") -> Path:
        if not valid_run_id(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        return self.runs / f"{run_id}{suffix}"

    # --- writing ---------------------------------------------------------------------------

    async def write(self, document: dict[str, Any]) -> Path:
        """Write the run's document and its Markdown log durably; returns the JSON's path."""
        return await asyncio.to_thread(self._write, document)

    def _write(self, document: dict[str, Any]) -> Path:
        run_id = str(document["run_id"])
        self.runs.mkdir(parents=True, exist_ok=True)
        markdown = str(document.get("incident_log", ""))
        body = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        target = self.path_of(run_id)
        if target.is_file():
            held = json.loads(target.read_bytes())
            if held.get("created_at") != document.get("created_at"):
                raise ArchiveConflict(
                    f"the archive holds another run {run_id} (created {held.get('created_at')})")
        _write_atomic(self.path_of(run_id, ".md"), markdown.encode())
        _write_atomic(target, body.encode())
        _fsync_dir(self.runs)
        return target

    def sweep_temporary(self, now: float | None = None) -> int:
        """Remove temporary files a crash left behind (older than an hour); returns how many."""
        if not self.runs.is_dir():
            return 0
        cutoff = (now if now is not None else time.time()) - _STALE_TMP
        removed = 0
        for entry in self.runs.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
        return removed

    # --- reading ---------------------------------------------------------------------------

    def exists(self, run_id: str) -> bool:
        return valid_run_id(run_id) and self.path_of(run_id).is_file()

    async def read(self, run_id: str) -> ArchivedRun | None:
        """The archived run, or None when it is not in the archive (or not a run id)."""
        if not valid_run_id(run_id):
            return None
        return await asyncio.to_thread(self._read, run_id)

    def _read(self, run_id: str) -> ArchivedRun | None:
        try:
            raw = self.path_of(run_id).read_bytes()
        except FileNotFoundError:
            return None
        return parse_document(json.loads(raw))

    async def read_many(self, run_ids: list[str]) -> list[ArchivedRun]:
        found = [await self.read(run_id) for run_id in run_ids]
        return [item for item in found if item is not None]


def parse_document(document: dict[str, Any]) -> ArchivedRun:
    if document.get("format") != FORMAT:
        raise ValueError(f"not an archived run (format {document.get('format')!r})")
    run = Run.model_validate({**document["run"], "plan": document["plan"]})
    audit = [AuditEntry.model_validate(entry) for entry in document["audit"]]
    card = document.get("card")
    where = (str(card["channel"]), str(card["ts"])) if isinstance(card, dict) else None
    return ArchivedRun(run, audit, str(document.get("incident_log", "")), where, document)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.close(fd)
    os.replace(tmp, path)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
