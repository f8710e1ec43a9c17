"""One way to open Redis for the whole bot: a client that rides out a restart or failover.

Commands that fail on a dropped connection are retried with backoff; the store's writes are
safe to retry because every one of them is checked against the run's version.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["connect"]


def connect(url: str, *, attempts: int = 6) -> aioredis.Redis:
    """A client for ``url`` whose commands retry over a dropped connection (about 3 s)."""
    client: aioredis.Redis = aioredis.Redis.from_url(
        url,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), attempts),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=30,
        socket_connect_timeout=5,
        socket_keepalive=True,
    )
    return client
