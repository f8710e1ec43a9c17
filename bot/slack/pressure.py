"""How busy the request path is, so that work which can wait gives way to acks.

Slack waits for every ack (3 s at most, and the person sees the click spin until then); an answer
posted to a response_url, or a card update, can come a moment later. Everything runs on one event
loop, so work that can wait takes its turn in ``background()``: while no Slack request is being
served it goes at once, while some are it goes one piece at a time, and when the last request
has been answered every piece still waiting goes (a burst of clicks is acked first, and the
work it left behind follows as it ends).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

__all__ = ["RequestPressure"]


class RequestPressure:
    def __init__(self) -> None:
        self._in_flight = 0
        self._lane_taken = False
        self._waiting: deque[asyncio.Future[None]] = deque()
        self.waited = 0  # background pieces that had to wait for their turn (tests, metrics)

    @property
    def in_flight(self) -> int:
        """Slack requests being served now (from receipt to the response)."""
        return self._in_flight

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Around the handling of one Slack request."""
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._wake(everyone=True)

    @asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        """A piece of work that can wait: first let the requests that are ready run, then go,
        alone among background pieces while requests are being served."""
        await asyncio.sleep(0)
        if self._in_flight:
            self.waited += 1
        while self._in_flight and self._lane_taken:
            turn = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn in self._waiting:
                    self._waiting.remove(turn)
                elif not turn.cancelled():
                    self._wake(everyone=False)  # our turn came; hand it on
                raise
        took = bool(self._in_flight)
        if took:
            self._lane_taken = True
        try:
            yield
        finally:
            if took:
                self._lane_taken = False
                self._wake(everyone=False)

    def _wake(self, *, everyone: bool) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                if not everyone:
                    return
