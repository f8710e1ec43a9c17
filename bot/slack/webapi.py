"""The notifier's Web API calls, each failure turned into the Slack edge's own error class
(``bot.slack.errors``).

A 429 stops calls of that method until its Retry-After has passed (``SlackRateLimited`` at once,
no call made); a 5xx, or Slack unreachable, is ``SlackUnavailable``; a call sent and never
answered is ``SlackAnswerLost`` (Slack may have done it); ``ok: false`` is ``SlackCallFailed``.
A call Slack answers with ``ok`` ends the notifier's Slack outage; an observer
(``bot.observability.BotMetrics``) counts the failures and the retries per method.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.errors import (
    SlackAnswerLost,
    SlackCallFailed,
    SlackRateLimited,
    SlackUnavailable,
)
from workflows.outage import Outage

__all__ = ["CHANNEL_GONE", "SlackCallObserver", "WebApi"]

log = logging.getLogger("parthenon.notifier")

# Slack's errors for a channel the bot can no longer post in
CHANNEL_GONE = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived"})


class SlackCallObserver(Protocol):
    """Told about every Web API call that failed (``bot.observability.BotMetrics`` is one)."""

    def slack_api_error(self, method: str, error: str) -> None: ...

    def slack_api_retry(self, method: str, reason: str) -> None: ...


class WebApi:
    """``client`` may be replaced at any time (the next call uses the new one); ``outage`` is
    the notifier's Slack outage, which every call answered with ``ok`` ends."""

    def __init__(
        self, client: AsyncWebClient, *, clock: Callable[[], float], outage: Outage
    ) -> None:
        self.client = client
        self.observer: SlackCallObserver | None = None  # per-method counts for /metrics
        self._clock = clock
        self._outage = outage
        self._not_before: dict[str, float] = {}

    async def call(self, method: str, **args: Any) -> dict[str, Any]:
        """One Web API call, its failure turned into our own error class."""
        wait = self._not_before.get(method, 0.0) - self._clock()
        if wait > 0:
            raise SlackRateLimited(f"{method} is rate limited", wait)
        try:
            response = await self.client.api_call(method, json=args)
        except SlackApiError as exc:
            status = exc.response.status_code
            if status == 429:
                retry_after = _retry_after(exc.response.headers)
                self._not_before[method] = self._clock() + retry_after
                log.info("%s rate limited; waiting %.1fs", method, retry_after)
                self._observe_retry(method, "rate_limited")
                raise SlackRateLimited(f"{method} answered 429", retry_after) from None
            if status >= 500:
                self._observe_retry(method, "server_error")
                raise SlackUnavailable(f"{method} answered {status}") from None
            data = exc.response.data
            error = str(data.get("error", "unknown")) if isinstance(data, dict) else "unknown"
            if self.observer is not None:
                self.observer.slack_api_error(method, error)
            raise SlackCallFailed(method, error) from None
        except aiohttp.ClientConnectorError as exc:  # never sent
            self._observe_retry(method, "unreachable")
            raise SlackUnavailable(f"{method}: {type(exc).__name__}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:  # sent; Slack may have done it
            self._observe_retry(method, "unreachable")
            raise SlackAnswerLost(f"{method}: {type(exc).__name__}") from None
        self._outage.recovered()
        data = response.data
        return data if isinstance(data, dict) else {}

    def answer_timeout(self) -> float:
        """How long a Web API answer can take: the client's timeout (its session's, if longer)."""
        session = getattr(self.client, "session", None)
        total = getattr(getattr(session, "timeout", None), "total", None)
        return max(float(getattr(self.client, "timeout", 30) or 30), float(total or 0))

    def _observe_retry(self, method: str, reason: str) -> None:
        """The call will be made again later (the card catches up): count it per method."""
        if self.observer is not None:
            self.observer.slack_api_retry(method, reason)


def _retry_after(headers: Any) -> float:
    raw = None
    with contextlib.suppress(AttributeError, TypeError):
        raw = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, min(float(raw), 300.0)) if raw is not None else 1.0
    except ValueError:
        return 1.0
