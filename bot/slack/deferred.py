"""Work that runs after the ack: Slack Web API calls (modals, ephemeral answers, App Home) and
node calls (`health`). Tracked, so a graceful stop can let it finish, and never allowed to fail
silently: an unexpected error is logged with an error id."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Coroutine
from typing import Any

__all__ = ["Deferred"]


class Deferred:
    def __init__(self, log: logging.Logger | None = None) -> None:
        self._log = log or logging.getLogger("parthenon.slack")
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def spawn(self, work: Coroutine[Any, Any, object], name: str) -> None:
        if self._closed:
            work.close()
            self._log.warning("after-ack work dropped during shutdown: %s", name)
            return
        task = asyncio.get_running_loop().create_task(self._guard(work, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, work: Coroutine[Any, Any, object], name: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            error_id = secrets.token_hex(4)
            self._log.exception("after-ack work failed: %s", name, extra={"error_id": error_id})

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until no after-ack work is left (tests, benchmarks)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self, deadline: float = 5.0) -> None:
        """Take no more work; give what is running ``deadline`` seconds, then cancel it."""
        self._closed = True
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=deadline)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
