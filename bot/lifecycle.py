"""Graceful stop on SIGTERM: unready at once, the engine takes no new work, the step in hand
finishes or is released within a deadline, then the process exits.

The order matters. `/readyz` turns 503 first so the load balancer (and Kubernetes) stop sending
Slack requests; the engine then stops claiming runs, lets the steps in hand finish for up to
`deadline` seconds and cancels the rest, releasing their leases at once so another replica
resumes them without waiting for the lease to run out. A read step cut short is simply run
again there; a write step cut short is verified by its executor there (or blocked for a human),
never repeated blindly. Kubernetes' `terminationGracePeriodSeconds` must exceed `deadline`
(deploy/k8s uses 30 s for the default 25 s).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Protocol

__all__ = ["DEFAULT_STOP_DEADLINE", "GracefulStop", "Stoppable"]

log = logging.getLogger("parthenon.lifecycle")

DEFAULT_STOP_DEADLINE = 25.0
"""Seconds a step in hand may take to finish after SIGTERM before it is released."""


class Stoppable(Protocol):
    async def stop(self, deadline: float = ...) -> None: ...


class _Unready(Protocol):
    stopping: bool


class GracefulStop:
    """Install on the serving loop; `wait()` returns once a signal came and the engine stopped."""

    def __init__(
        self,
        engine: Stoppable,
        *,
        deadline: float = DEFAULT_STOP_DEADLINE,
        readiness: _Unready | None = None,
        before_engine: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._engine = engine
        self.deadline = deadline
        self._readiness = readiness
        self._before_engine = before_engine
        self._signalled = asyncio.Event()
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.signal_name: str | None = None

    def install(
        self, signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)
    ) -> None:
        """Handle ``signals`` on the running loop (call from inside it, in the main thread)."""
        loop = asyncio.get_running_loop()
        for sig in signals:
            loop.add_signal_handler(sig, self.trigger, sig.name)

    def trigger(self, reason: str = "requested") -> None:
        """Begin stopping (what a signal does); a second trigger changes nothing."""
        if self._task is not None:
            log.info("stop already under way (%s again)", reason)
            return
        self.signal_name = reason
        if self._readiness is not None:
            self._readiness.stopping = True
        self._signalled.set()
        self._task = asyncio.get_running_loop().create_task(self._stop(reason))

    async def _stop(self, reason: str) -> None:
        log.info("stopping (%s): no new work; steps in hand have %.0f s", reason, self.deadline)
        try:
            if self._before_engine is not None:
                await self._before_engine()
            await self._engine.stop(self.deadline)
        finally:
            log.info("engine stopped; every run in hand was finished or released")
            self._done.set()

    async def wait(self) -> None:
        """Until a stop was triggered and the engine has stopped."""
        await self._signalled.wait()
        await self._done.wait()

    @property
    def stopping(self) -> bool:
        return self._signalled.is_set()
