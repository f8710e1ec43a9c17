"""A request the bot could not record because its store (Redis) is unreachable.

Every command and click is recorded in Redis before Slack gets its answer; when Redis cannot be
reached (down, restarting, failing over, loading its data), nothing was recorded, nothing
changed, and the person can simply try again. They are told exactly that, never ":boom:
Something went wrong" with an error id, and the log gets one warning line per request, no
traceback (an outage is not a bug).
"""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["NOT_RECORDED", "is_store_outage"]

# ConnectionError covers a refused or dropped connection, BusyLoadingError (Redis loading its
# data after a restart) and Sentinel's MasterNotFoundError; ReadOnlyError a replica that is
# not yet promoted during a failover.
_OUTAGE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)

NOT_RECORDED = (
    ":warning: *Not recorded*: the bot cannot reach its database (Redis) right now, so nothing "
    "was started or changed. Try again in a minute; if it keeps failing, tell the bot's operators."
)


def is_store_outage(error: BaseException) -> bool:
    """Whether ``error`` (or what it was raised from) is Redis being unreachable."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, _OUTAGE):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
