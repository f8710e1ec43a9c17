"""The archiver as the running bot builds it from ``retention:`` in the config."""

from __future__ import annotations

import asyncio

from bot.runtime import Runtime
from workflows.archive import RunArchive
from workflows.archiver import Archiver

__all__ = ["archiver_for", "run_archiver"]


def archiver_for(runtime: Runtime) -> Archiver:
    retention = runtime.config.retention
    return Archiver(
        runtime.store,
        RunArchive(retention.archive_dir),
        retention=retention.finished_runs,
        interval=retention.sweep_every.total_seconds(),
    )


async def run_archiver(runtime: Runtime, until: asyncio.Event) -> None:
    """Sweep in the background until ``until`` is set (serve's stop); nothing when disabled."""
    if runtime.config.retention.enabled:
        await archiver_for(runtime).run_forever(until=until)
