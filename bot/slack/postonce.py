"""Post a run's message once, through any crash: the card, and the thread messages that must
appear once.

Slack's ``chat.postMessage`` has no idempotency key, so a replica that dies after Slack took a
post and before the bot stored its ``ts`` (or whose answer from Slack was lost: slower than the
client's timeout) would post it again. Instead:

1. the intent to post is recorded in Redis first (``workflows.cardstore``, next to the card's
   keys: which channel, which thread, when, and a digest of what);
2. the message carries Slack message ``metadata``: ``event_type`` ``parthenon_run_message`` and an
   ``event_payload`` with the run id, the message's role (``card``, ``note:<n>`` for the n-th
   thread notification, ...) and the digest;
3. whoever finds an intent without a stored ``ts`` looks for that message first:
   ``conversations.history`` for a top-level message, ``conversations.replies`` for a thread
   message, from a minute before the intent on (``include_all_metadata``, paged), and adopts the
   first one it finds. Only when none is there does it post, and only once the earlier attempt's
   answer can no longer arrive (the intent is older than the client's timeout): until then it
   raises ``PostPending`` and the caller looks again later.

A lookup Slack refuses (a missing ``channels:history`` scope, say) is logged and the message
posted again: at least once, as before, never lost.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from bot.slack.errors import (
    SlackAnswerLost,
    SlackCallFailed,
    SlackRateLimited,
    SlackUnavailable,
)
from workflows.cardstore import CardStore

__all__ = [
    "EVENT_TYPE",
    "Intent",
    "PostOnce",
    "PostPending",
    "Posted",
    "digest_of",
    "message_metadata",
]

log = logging.getLogger("parthenon.notifier")

EVENT_TYPE = "parthenon_run_message"

Call = Callable[..., Awaitable[dict[str, Any]]]

def digest_of(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def message_metadata(run_id: str, role: str, digest: str) -> dict[str, Any]:
    return {"event_type": EVENT_TYPE,
            "event_payload": {"run_id": run_id, "role": role, "digest": digest}}


class PostPending(Exception):  # not an error: an earlier post may still land
    """An earlier attempt's answer could still arrive; look again in ``retry_in`` seconds."""

    def __init__(self, retry_in: float) -> None:
        super().__init__(f"an earlier post may still land; again in {retry_in:.1f}s")
        self.retry_in = retry_in


@dataclass(frozen=True)
class Intent:
    channel: str
    thread_ts: str  # "" for a top-level message
    at: float  # wall-clock seconds (Slack's ts are too)
    digest: str
    in_flight: bool = True  # False: the attempt was answered (or never sent)

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, raw: bytes | str | None) -> Intent | None:
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return cls(str(data["channel"]), str(data["thread_ts"]), float(data["at"]),
                       str(data["digest"]), bool(data.get("in_flight", True)))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class Posted:
    channel: str
    ts: str
    adopted: bool  # found in Slack, posted earlier by this or another replica


class PostOnce:
    """``call`` is the notifier's Web API call (errors as ``bot.slack.errors``); ``timeout``
    says how long a post's answer can take (the client's timeout, read at each use)."""

    def __init__(
        self,
        cards: CardStore,
        call: Call,
        *,
        timeout: Callable[[], float],
        clock: Callable[[], float] = time.time,
        margin: float = 60.0,
        page: int = 200,
        max_pages: int = 10,
    ) -> None:
        self._cards = cards
        self._call = call
        self._timeout = timeout
        self._clock = clock
        self._margin = margin  # clock skew between us and Slack, and the intent's own write
        self._page = page
        self._max_pages = max_pages
        self.adopted = 0  # messages found in Slack instead of posted again

    async def post(
        self, run_id: str, role: str, channel: str, *, thread_ts: str = "", digest: str = "",
        **message: Any,
    ) -> Posted:
        """Post ``message`` (text, blocks) as the run's ``role``, or adopt the one posted for an
        intent found unfinished. ``digest`` tells this message from an earlier one in the role."""
        intent = Intent.load(await self._cards.intent(run_id, role))
        if intent is not None and intent.digest == digest:
            ts = await self._find(run_id, role, intent)
            if ts is not None:
                self.adopted += 1
                log.info("adopted the %s posted earlier instead of posting it again", role,
                         extra={"run_id": run_id})
                return Posted(intent.channel, ts, adopted=True)
            wait = intent.at + self._timeout() + 1.0 - self._clock()
            if intent.in_flight and wait > 0:
                raise PostPending(wait)
        fresh = Intent(channel, thread_ts, self._clock(), digest)
        await self._cards.put_intent(run_id, role, fresh.dump())
        args: dict[str, Any] = {"channel": channel, **message,
                                "metadata": message_metadata(run_id, role, digest)}
        if thread_ts:
            args["thread_ts"] = thread_ts
        try:
            posted = await self._call("chat.postMessage", **args)
        except (SlackCallFailed, SlackRateLimited):
            await self.forget(run_id, role)  # refused: nothing was posted, nothing to look for
            raise
        except SlackAnswerLost:
            raise  # still in flight, perhaps: the next attempt looks, and waits if need be
        except SlackUnavailable:  # answered 5xx, or never sent: look next time, do not wait
            answered = Intent(channel, thread_ts, fresh.at, digest, in_flight=False)
            await self._cards.put_intent(run_id, role, answered.dump())
            raise
        return Posted(str(posted.get("channel") or channel), str(posted.get("ts") or ""), False)

    async def forget(self, run_id: str, role: str) -> None:
        """The message's place is stored: its intent is no longer needed."""
        await self._cards.forget_intent(run_id, role)

    async def note_number(self, run_id: str) -> int:
        return await self._cards.note_number(run_id)

    async def note_posted(self, run_id: str, raw: str, role: str) -> bool:
        """Take the posted notification off the outbox (if still at its head), count it, and
        forget its intent, atomically (``workflows.cardstore``)."""
        return await self._cards.note_posted(run_id, raw, role)

    # --- the lookup ----------------------------------------------------------------------------

    async def _find(self, run_id: str, role: str, intent: Intent) -> str | None:
        """The ts of the first message posted for this intent, or None."""
        args: dict[str, Any] = {"channel": intent.channel, "include_all_metadata": True,
                                "limit": self._page,
                                "oldest": f"{max(0.0, intent.at - self._margin):.6f}"}
        method = "conversations.history"
        if intent.thread_ts:
            method = "conversations.replies"
            args["ts"] = intent.thread_ts
        found: list[str] = []
        try:
            for _ in range(self._max_pages):
                page = await self._call(method, **args)
                found += [str(m["ts"]) for m in page.get("messages") or []
                          if _is(m, run_id, role, intent.digest)]
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor or not page.get("has_more"):
                    break
                args["cursor"] = cursor
        except SlackCallFailed as exc:
            if exc.error in {"thread_not_found", "message_not_found"}:
                return None
            log.warning("cannot look for the %s posted earlier (%s %s); posting it again",
                        role, method, exc.error, extra={"run_id": run_id})
            return None
        return min(found, key=float) if found else None


def _is(message: Any, run_id: str, role: str, digest: str) -> bool:
    if not isinstance(message, dict):
        return False
    meta = message.get("metadata")
    if not isinstance(meta, dict) or meta.get("event_type") != EVENT_TYPE:
        return False
    payload = meta.get("event_payload")
    return (isinstance(payload, dict) and payload.get("run_id") == run_id
            and payload.get("role") == role and payload.get("digest", "") == digest
            and bool(message.get("ts")))
