"""Read-only answers that are the same for every asker (`status`, `runs`), read once per turn.

Under a burst, each such answer is deferred until the background lane (``RequestPressure``) lets
it run. Asks of the same kind that arrive while one is waiting for its turn join it: they all
get the one reading, which begins after each of them arrived (so none of them is shown a state
older than its ask), and an ask that arrives once the reading has begun waits for the next one.
A burst of 500 `status` asks costs a few readings instead of 500, and each answer is posted
when its reading is done instead of after all the readings before it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from bot.slack.pressure import RequestPressure

__all__ = ["SharedReads"]

_T = TypeVar("_T")


class SharedReads(Generic[_T]):
    def __init__(self) -> None:
        self._open: dict[str, asyncio.Future[_T]] = {}
        self.readings = 0  # how many readings were made (tests, benchmarks)
        self.joined = 0  # asks answered by a reading another ask began

    async def answer(self, key: str, pressure: RequestPressure,
                     read: Callable[[], Awaitable[_T]]) -> _T:
        """``read()``'s result, in the background lane, shared with the asks of the same ``key``
        that arrive before the reading begins."""
        waiting = self._open.get(key)
        if waiting is not None:
            self.joined += 1
            return await asyncio.shield(waiting)
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._open[key] = future
        try:
            async with pressure.background():
                self._close(key, future)  # from here on, a new ask waits for the next reading
                self.readings += 1
                result = await read()
        except asyncio.CancelledError:
            self._close(key, future)
            future.cancel()
            raise
        except Exception as exc:
            self._close(key, future)
            future.set_exception(exc)
            raise
        future.set_result(result)
        return result

    def _close(self, key: str, future: asyncio.Future[_T]) -> None:
        if self._open.get(key) is future:
            del self._open[key]


def _retrieve(future: asyncio.Future[Any]) -> None:
    """An error shared with nobody is still retrieved (no 'never retrieved' warning)."""
    if not future.cancelled():
        future.exception()
