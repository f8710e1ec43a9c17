"""Runs past their retention, read back from the archive directory for `/parthenon runs` and
`/parthenon status <run-id>` (``workflows.archive``; the path is the config's
``retention.archive_dir``). A directory this replica cannot read shows nothing, never an error."""

from __future__ import annotations

import logging

from handlers.context import HandlerContext
from workflows.archive import ArchivedRun, RunArchive
from workflows.model import Run

__all__ = ["archived_run", "archived_runs"]

log = logging.getLogger("parthenon.slack")


def _archive(ctx: HandlerContext) -> RunArchive:
    return RunArchive(ctx.config.retention.archive_dir)


async def archived_runs(ctx: HandlerContext, limit: int) -> list[Run]:
    """The last ``limit`` runs archived, newest first, as far as the archive holds them."""
    ids = await ctx.service.archived_ids(limit)
    try:
        return [found.run for found in await _archive(ctx).read_many(ids)]
    except (OSError, ValueError) as exc:
        log.warning("archive unreadable: %s", type(exc).__name__)
        return []


async def archived_run(ctx: HandlerContext, run_id: str) -> ArchivedRun | None:
    try:
        return await _archive(ctx).read(run_id)
    except (OSError, ValueError) as exc:
        log.warning("archive unreadable: %s", type(exc).__name__, extra={"run_id": run_id})
        return None
