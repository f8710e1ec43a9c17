"""The node's JSON-RPC rate limiter: a fixed window per client IP, checked before auth.

The daemon's window opens at a client's first POST and resets `window` seconds later; request
`limit + 1` inside the window is refused. Its state is lost on restart.
"""

from __future__ import annotations

__all__ = ["FixedWindowLimiter"]


class FixedWindowLimiter:
    """`allow(client, now)` is pure bookkeeping; the caller supplies the clock."""

    def __init__(self, limit: int = 100, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._windows: dict[str, tuple[float, int]] = {}

    def allow(self, client: str, now: float) -> bool:
        started, count = self._windows.get(client, (now, 0))
        if now - started >= self.window:
            started, count = now, 0
        count += 1
        self._windows[client] = (started, count)
        return count <= self.limit

    def reset(self) -> None:
        self._windows.clear()
