"""How busy the request path is, so that work which can wait gives way to acks.

Slack waits for every ack (3 s at most, and the person sees the click spin until then); an answer
posted to a response_url, or a card update, can come a moment later. Everything runs on one event
loop, so work that can wait takes its turn in ``background()``: while no Slack request is being
served it goes at once, while some are it goes one piece at a time (a burst of clicks is acked
first, and the answers follow as it ends).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

__all__ = ["RequestPressure"]


class RequestPressure:
    def __init__(self) -> None:
        self._in_flight = 0
        self._lane: asyncio.Lock | None = None
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

    @asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        """A piece of work that can wait: first let the requests that are ready run, then go,
        alone among background pieces while requests are being served."""
        await asyncio.sleep(0)
        if not self._in_flight:
            yield
            return
        if self._lane is None:
            self._lane = asyncio.Lock()
        self.waited += 1
        async with self._lane:
            yield
