"""The shared per-node POST budget, kept in Redis so that all bot replicas together stay under it.

A node allows 100 POSTs per 60 s per client address (fixed window, restarted by the first request
after it expires) and then answers 429 for the rest of the window. Every replica behind the same
address shares that allowance, so each send takes a slot here first.

The budget is a sliding log (a sorted set of send times, Redis clock) rather than a fixed-window
counter: our windows and the node's never line up exactly, and two fixed windows meeting at a
boundary can let up to twice the limit through inside one of the node's windows. With a log, any
interval of `window + margin` seconds holds at most `limit` of our sends, so any one node window
does too, whatever its phase. The default limit (90) leaves headroom for an operator's own calls.

When a node answers 429 anyway (someone else spent the allowance), a cooldown key makes every
replica wait out the window instead of hammering the node.
"""

from __future__ import annotations

import asyncio
import math
import uuid

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.nodes.keys import budget_key, cooldown_key
from workflows.nodeerrors import BudgetUnavailable, NodeRateLimited

__all__ = ["DEFAULT_BUDGET_LIMIT", "NODE_RATE_LIMIT", "NODE_RATE_WINDOW", "PostBudget"]

NODE_RATE_LIMIT = 100
"""POSTs per window the node allows each client address (not configurable on the node)."""

NODE_RATE_WINDOW = 60.0
"""The node's rate-limit window, seconds."""

DEFAULT_BUDGET_LIMIT = 90
"""Our share of NODE_RATE_LIMIT: 10 left for operators' tools and clock slack."""

# KEYS: log, cooldown. ARGV: limit, window (µs), member, cooldown ms (0: take a slot).
# Returns {granted (0/1), wait (µs) until a slot may free up}.
_SCRIPT = """
if tonumber(ARGV[4]) > 0 then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[4], 'NX')
  return {0, redis.call('PTTL', KEYS[2]) * 1000}
end
local cool = redis.call('PTTL', KEYS[2])
if cool > 0 then
  return {0, cool * 1000}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""


class PostBudget:
    """Take a slot before each POST to a node; wait (bounded) or refuse without sending."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        limit: int = DEFAULT_BUDGET_LIMIT,
        window: float = NODE_RATE_WINDOW,
        margin: float = 1.0,
        max_wait: float | None = None,
    ) -> None:
        if not 1 <= limit <= NODE_RATE_LIMIT:
            raise ValueError(f"limit must be 1..{NODE_RATE_LIMIT}, got {limit}")
        self.limit = limit
        self.window = window
        self.margin = margin
        self.max_wait = window + margin if max_wait is None else max_wait
        self._redis = redis
        self._script = redis.register_script(_SCRIPT)

    @property
    def span(self) -> float:
        """The interval, seconds, over which at most `limit` sends are allowed."""
        return self.window + self.margin

    async def acquire(self, node: str, *, max_wait: float | None = None) -> None:
        """Return once a send to `node` is within budget; else raise NodeRateLimited(local).

        Waits for a slot only when one frees up within `max_wait` seconds; never sleeps past it.
        """
        limit = self.max_wait if max_wait is None else max_wait
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while True:
            granted, wait = await self._run(node, cooldown=0.0)
            if granted:
                return
            wait += 0.001  # the slot frees just after the oldest send leaves the window
            if loop.time() + wait > deadline:
                raise NodeRateLimited(
                    node,
                    f"POST budget spent ({self.limit} per {self.span:g} s); not sent, "
                    f"a slot frees in {wait:.1f} s",
                    retry_after=wait,
                    local=True,
                )
            await asyncio.sleep(wait)

    async def penalize(self, node: str) -> float:
        """Record that `node` answered 429; returns seconds until sends are allowed again."""
        _, wait = await self._run(node, cooldown=self.window)
        return wait

    async def used(self, node: str) -> int:
        """Slots taken in the current span (for tests and /metrics)."""
        try:
            now_s, now_us = await self._redis.time()
            now = now_s * 1_000_000 + now_us
            return int(await self._redis.zcount(budget_key(node), now - self.span * 1e6, "+inf"))
        except RedisError as exc:
            reason = type(exc).__name__
            raise BudgetUnavailable(node, f"POST budget unavailable ({reason})") from None

    async def _run(self, node: str, *, cooldown: float) -> tuple[bool, float]:
        args: list[int | str] = [
            self.limit,
            int(self.span * 1_000_000),
            uuid.uuid4().hex,
            math.ceil(cooldown * 1000),
        ]
        try:
            granted, wait_us = await self._script(
                keys=[budget_key(node), cooldown_key(node)], args=args
            )
        except RedisError as exc:
            raise BudgetUnavailable(
                node, f"POST budget unavailable ({type(exc).__name__}); not sent"
            ) from None
        return bool(granted), max(0.0, int(wait_us) / 1_000_000)
