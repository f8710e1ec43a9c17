"""A background loop's view of a dependency (Redis, Slack) being away: quiet, and measured.

While Redis or Slack cannot be reached, a loop (the engine, the notifier, the drill scheduler,
the pager, the user-group sync) fails pass after pass. Each failure goes to the loop's
``Outage`` (the archiver keeps its own two lines, "archiving paused" and "resumed"):

- the first failure logs ONE warning naming the loop, the dependency and the error;
- later ones log nothing (no traceback per retry) and back off: exponential with jitter
  (``failed`` returns how long to wait, between half and all of min(cap, base * 2^n));
- the first success after it logs ONE line with how long it lasted and how many passes failed,
  and tells the observers (``bot.observability.outages`` makes a Prometheus histogram of it).

``ongoing()`` says how long the current outage has lasted (for a gauge read at scrape time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["Outage", "OutageObserver", "describe", "run_every"]

OutageObserver = Callable[[str, str, float], None]  # (loop, dependency, seconds)


def describe(exc: BaseException, limit: int = 200) -> str:
    """The error in one short line (its class and message; never a traceback)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:limit] if text else type(exc).__name__


class Outage:
    def __init__(
        self,
        loop: str,
        logger: logging.Logger,
        *,
        base: float = 0.25,
        cap: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.loop = loop
        self.base = base
        self.cap = cap
        self.observers: list[OutageObserver] = []
        self.dependency = ""
        self.failures = 0
        self._log = logger
        self._clock = clock
        self._jitter = jitter
        self._since: float | None = None

    @property
    def down(self) -> bool:
        return self._since is not None

    def ongoing(self) -> float:
        """Seconds since the current outage began (0 when there is none)."""
        return 0.0 if self._since is None else self._clock() - self._since

    def failed(self, dependency: str, exc: BaseException) -> float:
        """A pass failed because ``dependency`` is away; returns the seconds to wait."""
        if self._since is None:
            self._since = self._clock()
            self.dependency = dependency
            self.failures = 0
            self._log.warning(
                "%s: %s unreachable, retrying with back-off until it is back (%s)",
                self.loop, dependency, describe(exc),
                extra={"loop": self.loop, "dependency": dependency, "outage": "began"},
            )
        self.failures += 1
        ceiling = min(self.cap, self.base * float(2 ** min(self.failures - 1, 20)))
        return ceiling / 2 + self._jitter() * ceiling / 2

    def recovered(self) -> None:
        """A pass succeeded: if an outage was on, it is over (one line, the observers told)."""
        if self._since is None:
            return
        seconds = self._clock() - self._since
        self._since = None
        self._log.info(
            "%s: %s reachable again after %.1f s (%d failed attempts)",
            self.loop, self.dependency, seconds, self.failures,
            extra={"loop": self.loop, "dependency": self.dependency, "outage": "ended",
                   "outage_seconds": round(seconds, 3)},
        )
        for observer in self.observers:
            observer(self.loop, self.dependency, seconds)


async def run_every(
    interval: float,
    one_pass: Callable[[], Awaitable[object]],
    outage: Outage,
    stopping: asyncio.Event,
    wake: asyncio.Event | None = None,
) -> None:
    """``one_pass`` every ``interval`` seconds until ``stopping`` is set, and at once when
    ``wake`` is set (the pass clears it); Redis being away is waited out with the outage's
    back-off (one line when it begins, one when it ends)."""
    while not stopping.is_set():
        wait = interval
        try:
            await one_pass()
            outage.recovered()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            wait = min(wait, outage.failed("redis", exc))
        if wake is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), wait)
            continue
        waiters = [asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(wake.wait())]
        await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
