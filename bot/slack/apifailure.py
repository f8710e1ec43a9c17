"""A failed Web API call, described safely.

Slack answers a 5xx (or a proxy in front of it answers) with a body that need not be JSON:
slack_sdk then raises ``SlackApiError`` whose ``response.data`` is a string, and
``exc.response.get("error")`` itself raises. Everything that reports a failed after-ack call
uses ``slack_failure`` instead, and catches ``AFTER_ACK_FAILURES``.
"""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

__all__ = ["AFTER_ACK_FAILURES", "slack_failure"]

# What a Web API call after the ack can raise when Slack (or the way to it) fails.
AFTER_ACK_FAILURES: tuple[type[Exception], ...] = (
    SlackClientError, aiohttp.ClientError, TimeoutError)


def slack_failure(exc: BaseException) -> str:
    """Slack's error code when its answer carried one, else the HTTP status, else the kind of
    failure; short, and never the body (which could echo anything)."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        data = getattr(response, "data", None)
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return str(data["error"])[:80]
        status = getattr(response, "status_code", None)
        return f"HTTP {status}" if status is not None else "no answer"
    return type(exc).__name__
