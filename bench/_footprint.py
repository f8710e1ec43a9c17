"""What one active promotion keeps in Redis (for bench/memory.py).

One run writes to an environment at a time and a promotion locks regtest, testnet and mainnet,
so a thousand promotions cannot be active at once: one promotion to mainnet (the shipped
definition) is started on the bench's bot and brought to its first wait (the security sign-off)
with its card and approval request posted, and its keys are weighed with ``MEMORY USAGE``; the
growth of ``used_memory`` meanwhile is given too (it adds the run's entries in the shared
indexes, and whatever else moved: connection buffers). The promotion is then aborted, so the
environments are free again for what the bench does next.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis

from workflows import keys
from workflows.keys import requests_key
from workflows.model import Abort, RunStatus

__all__ = ["promotion_footprint"]

SHA = "0123456789abcdef0123456789abcdef01234567"


async def promotion_footprint(runtime: Any, redis: aioredis.Redis, actor: str, operator: str,
                              channel: str, within: float = 120.0
                              ) -> tuple[dict[str, int], int, int]:
    """(bytes per key of the promotion, growth of used_memory, planned steps); ``redis`` is the
    client the runtime was built on."""
    before = int((await redis.info("memory"))["used_memory"])
    run = await runtime.service.start(
        "promote", {"version": "v2.0.0", "git_sha": SHA, "environment": "mainnet"},
        actor=actor, channel=channel, dedup_key="memory-promotion")
    deadline = time.monotonic() + within
    while True:
        current = await runtime.store.get(run.id)
        posted = await redis.exists(requests_key(run.id))
        if current.status is RunStatus.WAITING and posted \
                and not await runtime.store.dirty_cards(10):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"the promotion is {current.status} ({current.reason}), "
                               f"its request {'posted' if posted else 'not posted'}")
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    after = int((await redis.info("memory"))["used_memory"])
    sizes: dict[str, int] = {}
    for key in keys.RunKeys(run.id).owned():
        size = await redis.memory_usage(key)
        if size:
            sizes[key.rsplit("}:", 1)[1]] = int(size)
    await runtime.service.command(run.id, Abort(actor=operator, reason="memory bench: weighed"))
    return sizes, after - before, len(current.plan)
