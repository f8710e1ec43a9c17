"""Request messages once they are settled: an approval, skip or confirmation request posted in a
run's thread loses its buttons and says what happened (approved by, rejected, expired, skipped,
confirmed, the run aborted). The card stays the source of truth; this only keeps the thread from
offering buttons that no longer do anything.

``OpenRequest`` is what the notifier remembers of each request it posted; ``request_outcome``
decides from the run whether it is settled. Pure: no client, no clock.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Literal

from bot.slack.escape import code, inline, mention, trusted_mentions
from bot.slack.ids import BlockId
from bot.slack.views._blocks import Message, context, section
from bot.slack.views.card import RUN_EMOJI, participants
from workflows.machine import Notify
from workflows.model import Run, RunStatus, StepState, StepStatus

__all__ = ["OpenRequest", "is_request", "posted_request", "request_outcome", "resolved_request"]

RequestKind = Literal["approval", "skip", "confirmation"]

_KINDS: dict[str, RequestKind] = {
    "approval_requested": "approval",
    "skip_requested": "skip",
    "confirmation_requested": "confirmation",
}
_WHAT: dict[RequestKind, str] = {
    "approval": "Approval",
    "skip": "Skip request",
    "confirmation": "Confirmation",
}


@dataclass(frozen=True)
class OpenRequest:
    """A request message with buttons in a run's thread. ``token`` tells one request of a step
    from the next: the approval's request time, or the attempt a confirmation was asked in."""

    kind: RequestKind
    step_id: str
    token: str
    channel: str
    ts: str

    @property
    def field(self) -> str:
        return f"{self.kind}:{self.step_id}:{self.token}"

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, raw: str | bytes) -> OpenRequest | None:
        """None for anything this bot did not write."""
        try:
            data = json.loads(raw)
            kind = data["kind"]
            if kind not in _WHAT:
                return None
            return cls(kind, str(data["step_id"]), str(data["token"]), str(data["channel"]),
                       str(data["ts"]))
        except (ValueError, KeyError, TypeError):
            return None


def is_request(message: Message) -> bool:
    """Whether a thread message carries request buttons."""
    return any(b.get("block_id") == BlockId.REQUEST_ACTIONS for b in message.blocks)


def _token(run: Run, state: StepState, kind: RequestKind) -> str | None:
    if kind == "confirmation":
        return str(state.attempt)
    request = state.approval
    return request.requested_at.isoformat() if request is not None else None


def posted_request(
    run: Run, notify: Notify, message: Message, channel: str, ts: str
) -> OpenRequest | None:
    """What to remember of a thread message just posted, when it is a request with buttons."""
    kind = _KINDS.get(notify.kind)
    index = run.index_of(notify.step_id) if notify.step_id else None
    if kind is None or index is None or not is_request(message):
        return None
    token = _token(run, run.steps[index], kind)
    if token is None:
        return None
    return OpenRequest(kind, run.plan[index].id, token, channel, ts)


def _still_open(run: Run, state: StepState, request: OpenRequest) -> bool:
    if run.terminal or state.status is not StepStatus.WAITING:
        return False
    if _token(run, state, request.kind) != request.token:
        return False
    if request.kind == "confirmation":
        return state.waiting_for == "confirmation"
    purpose = "skip" if request.kind == "skip" else "step"
    return state.approval is not None and state.approval.purpose == purpose


def request_outcome(
    run: Run, request: OpenRequest, people: Collection[str] = ()
) -> str | None:
    """None while the request still waits; else what happened to it, as safe mrkdwn."""
    index = run.index_of(request.step_id)
    if index is None:
        return "This request no longer applies."
    state = run.steps[index]
    if _still_open(run, state, request):
        return None
    trusted = set(people) | participants(run)
    result = state.result or {}
    approvers = [str(u) for u in result.get("approvers", [])] if isinstance(
        result.get("approvers"), list) else []
    if request.kind == "confirmation" and state.status is StepStatus.SUCCEEDED:
        who = mention(state.confirmed_by) if state.confirmed_by else "someone"
        return f":white_check_mark: Confirmed by {who}."
    if request.kind == "approval" and state.status is StepStatus.SUCCEEDED and approvers:
        return ":white_check_mark: Approved by " + ", ".join(mention(u) for u in approvers) + "."
    if request.kind == "approval" and state.error and state.error.startswith("rejected by"):
        return f":x: {trusted_mentions(state.error[0].upper() + state.error[1:], trusted, 1500)}"
    if request.kind == "approval" and state.error == "approval expired":
        return ":hourglass: Expired unanswered."
    if state.status is StepStatus.SKIPPED:
        note = f": {trusted_mentions(state.note, trusted, 1500)}" if state.note else "."
        return f":fast_forward: Skipped{note}"
    if request.kind == "skip" and state.status is StepStatus.BLOCKED and run.reason:
        return f":no_entry: Not skipped: {trusted_mentions(run.reason, trusted, 1500)}"
    if run.terminal:
        verb = "was aborted" if run.status is RunStatus.ABORTED else f"is {run.status.value}"
        why = f": {trusted_mentions(run.reason, trusted, 1500)}" if run.reason else "."
        return f"{RUN_EMOJI[run.status]} The run {verb}{why}"
    if state.status is StepStatus.WAITING:
        return ":arrow_down: A newer request for this step follows below."
    return "This request no longer applies; the run's card shows where it stands."


def resolved_request(run: Run, request: OpenRequest, outcome: str) -> Message:
    """The request message as it reads once settled: no buttons, what happened."""
    index = run.index_of(request.step_id)
    title = run.plan[index].title if index is not None else request.step_id
    what = _WHAT[request.kind]
    blocks = [
        section(f"*{what}: {inline(title, 200)}*\n{outcome}"),
        context(f"Run {code(run.id, 40)} · settled; the run's card shows where it stands"),
    ]
    return Message(text=f"{what}: {inline(title, 150)}: settled", blocks=blocks)
