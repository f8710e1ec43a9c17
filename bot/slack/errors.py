"""Errors of the Slack edge (payloads, the command grammar, the Web API).

SlackEdgeError            every error here; ``code`` is stable, ``str()`` is for the user
 +-- BadPayload           a payload from Slack is not what the bot rendered (tampered, stale)
 +-- GrammarError         a /parthenon command is not in the right form; carries the usage
 +-- NotPermitted         a read command that needs membership of a configured group
 +-- SlackUnavailable     the Web API could not be reached or answered 5xx (transient)
 |    +-- SlackAnswerLost  the call was sent and no answer came: Slack may have done it
 +-- SlackRateLimited     the Web API answered 429; ``retry_after`` seconds to wait
 +-- SlackCallFailed      the Web API answered ok=false (``error`` is Slack's code)
"""

from __future__ import annotations

__all__ = [
    "BadPayload",
    "GrammarError",
    "NotPermitted",
    "SlackAnswerLost",
    "SlackCallFailed",
    "SlackEdgeError",
    "SlackRateLimited",
    "SlackUnavailable",
]


class SlackEdgeError(Exception):
    code = "slack_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadPayload(SlackEdgeError):
    code = "bad_payload"


class GrammarError(SlackEdgeError):
    """A command in the wrong form; ``usage`` is the right form (shown with the message)."""

    code = "bad_command"

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.usage = usage

    def __str__(self) -> str:
        if self.usage:
            return f"{self.message}\nUsage: {self.usage}"
        return self.message


class NotPermitted(SlackEdgeError):
    code = "not_permitted"


class SlackUnavailable(SlackEdgeError):
    code = "slack_unavailable"


class SlackAnswerLost(SlackUnavailable):
    """Sent, and no answer within the timeout (or the connection dropped): done or not."""

    code = "slack_answer_lost"


class SlackRateLimited(SlackEdgeError):
    code = "slack_rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SlackCallFailed(SlackEdgeError):
    code = "slack_call_failed"

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method} failed: {error}")
        self.method = method
        self.error = error
