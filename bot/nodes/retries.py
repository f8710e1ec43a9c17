"""Retries of a node call's transient failures: which failures may be repeated, and how long to
wait before the next attempt (exponential backoff with full jitter; a 429 waits out the node's
rate-limit window).

A read may be repeated after any transient failure; a call with side effects only when the node
provably never got it (connect refused, 429), because a repeated `sendtoaddress` is a second
payment.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from bot.nodes.budget import NODE_RATE_WINDOW
from workflows.nodeerrors import NodeRateLimited, NodeTransientError

__all__ = ["Retries", "RetryPolicy"]

# The retry lines are the node client's own: logged as `bot.nodes.rpc`, where they were written
# before the retries had a module of their own (the JSON log's "logger" field).
log = logging.getLogger("bot.nodes.rpc")

_T = TypeVar("_T")


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of transient failures: exponential backoff with full jitter, bounded twice.

    `total` bounds the wall time of a call over all attempts and waits; it is long enough to
    wait out one rate-limit window (a 429 is waited out, not retried quickly).
    """

    attempts: int = 4
    total: float = 75.0
    backoff_initial: float = 0.2
    backoff_max: float = 5.0
    rate_window: float = NODE_RATE_WINDOW


class Retries:
    """Runs a call's attempts under one `RetryPolicy`."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self._backoff = wait_random_exponential(
            multiplier=policy.backoff_initial, max=policy.backoff_max
        )

    async def run(
        self, idempotent: bool, retry: bool, fn: Callable[..., Awaitable[_T]], *args: Any
    ) -> _T:
        """Run `fn(*args)`, retrying transient failures that are safe to repeat."""
        policy = self.policy
        if not retry or policy.attempts <= 1:
            return await fn(*args)  # one attempt: skip the retry machinery (the sampler's path)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.attempts) | stop_before_delay(policy.total),
            wait=self._wait,
            retry=retry_if_exception(lambda exc: _retryable(exc, idempotent)),
            before_sleep=_log_retry,
            reraise=True,
        )
        result: _T = await retrying(fn, *args)
        return result

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, NodeRateLimited):
            return exc.retry_after
        return float(self._backoff(state))


def _retryable(exc: BaseException, idempotent: bool) -> bool:
    if not isinstance(exc, NodeTransientError):
        return False
    if isinstance(exc, NodeRateLimited):
        # The node turns a 429 away before reading it, so even a write may go again; a local
        # refusal has already waited as long as it may.
        return not exc.local
    return idempotent or not exc.sent


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.info(
        "%s; attempt %d failed, retrying in %.2f s",
        exc,
        state.attempt_number,
        state.upcoming_sleep,
    )
