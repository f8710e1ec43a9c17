"""Small records every replica shares that belong to no run: named records (release metadata,
drill results), Slack user groups, open pages, and run-API request counts.
A part of ``workflows.store.RunStore``."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, cast

from workflows import keys
from workflows.runreads import RunReads
from workflows.storeformat import text

__all__ = ["SharedRecords"]


class SharedRecords(RunReads):
    # --- named records (release metadata, drill results) --------------------------------------

    async def put_record(self, name: str, values: dict[str, Any]) -> None:
        mapping = {k: json.dumps(v, default=str) for k, v in values.items()}
        await cast("Awaitable[int]", self._redis.hset(keys.record_key(name), mapping=mapping))

    async def get_record(self, name: str) -> dict[str, Any]:
        raw = await cast("Awaitable[dict[bytes, bytes]]",
                         self._redis.hgetall(keys.record_key(name)))
        return {text(k): json.loads(v) for k, v in raw.items()}

    # --- Slack user groups, pages, rate counts -----------------------------------------------

    async def put_usergroup(self, group: str, members: list[str]) -> None:
        """The members last read of the Slack user group ``group`` follows (all replicas)."""
        await self._redis.hset(keys.USERGROUPS, group, json.dumps(members))  # type: ignore[misc]

    async def usergroups(self) -> dict[str, list[str]]:
        raw = await self._redis.hgetall(keys.USERGROUPS)  # type: ignore[misc]
        return {text(k): [str(u) for u in json.loads(v)] for k, v in raw.items()}

    async def page_opened(self, run_id: str) -> None:
        """Before a page is sent: its incident must be resolved at the pager when it ends."""
        await self._redis.sadd(keys.PAGES_OPEN, run_id)  # type: ignore[misc]

    async def page_closed(self, run_id: str) -> None:
        await self._redis.srem(keys.PAGES_OPEN, run_id)  # type: ignore[misc]

    async def open_pages(self, limit: int = 500) -> list[str]:
        found = await self._redis.srandmember(keys.PAGES_OPEN, limit)  # type: ignore[misc]
        return sorted(text(r) for r in found or [])

    async def count_request(self, token: str, window: int) -> int:
        """Requests of a run-API token in minute ``window``, this one included (all replicas)."""
        key = keys.api_rate_key(token, window)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = await pipe.execute()
        return int(count)
