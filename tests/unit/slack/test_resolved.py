"""Settled request messages: when a posted request is settled and what its message then says."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.slack.views import (
    OpenRequest,
    is_request,
    posted_request,
    request_outcome,
    resolved_request,
    thread_message,
)
from tests.unit.slack.blockkit import check_blocks
from tests.unit.slack.runs import NOW, at_approval, at_confirmation, dumped, go
from workflows.machine import Notify, transition
from workflows.model import Abort, Approve, Confirm, Reject, Run, Skip, Tick

RM = ["release-managers"]
OPS = ["operators"]


def approve(run: Run, user: str) -> Run:
    return go(run, Approve(actor=user, step_id="approve", plan_hash=run.plan_hash, groups=RM))


def request_for(run: Run, kind: str, step_id: str) -> OpenRequest:
    notify = Notify(kind=kind, step_id=step_id, text="x")  # type: ignore[arg-type]
    message = thread_message(run, notify, set())
    assert is_request(message)
    found = posted_request(run, notify, message, "C1", "1.000100")
    assert found is not None
    return found


def test_an_open_request_stays_open_until_its_quorum() -> None:
    """One approval of two leaves the request open (None: nothing to update)."""
    run = at_approval()
    request = request_for(run, "approval_requested", "approve")
    assert request_outcome(run, request) is None
    assert request_outcome(approve(run, "URM0002"), request) is None


def test_approved_names_the_approvers() -> None:
    """Once the quorum is reached the request says who approved."""
    run = at_approval()
    request = request_for(run, "approval_requested", "approve")
    done = approve(approve(run, "URM0002"), "URM0003")
    assert request_outcome(done, request) == (
        ":white_check_mark: Approved by <@URM0002>, <@URM0003>.")


def test_rejected_says_who_and_why_with_the_reason_escaped() -> None:
    """A rejection's reason is shown as typed; a mention typed into it pings nobody."""
    run = at_approval()
    request = request_for(run, "approval_requested", "approve")
    rejected = go(run, Reject(actor="URM0002", step_id="approve", reason="no <!channel>",
                              groups=RM))
    outcome = request_outcome(rejected, request, {"URM0002"})
    assert outcome is not None
    assert outcome.startswith(":x: Rejected by <@URM0002>: no &lt;!channel&gt;")


def test_expired_says_so() -> None:
    """An approval that expired unanswered says so."""
    run = at_approval()
    request = request_for(run, "approval_requested", "approve")
    expired, _ = transition(run, Tick(), NOW + timedelta(days=30))
    assert request_outcome(expired, request) == ":hourglass: Expired unanswered."


def test_confirmed_skipped_and_aborted() -> None:
    """A confirmation says who confirmed; a skipped step says it was skipped and why; an aborted
    run settles what it asked for."""
    run = at_confirmation(approve(approve(at_approval(), "URM0002"), "URM0003"))
    request = request_for(run, "confirmation_requested", "sbom")
    confirmed = go(run, Confirm(actor="UOP0001", step_id="sbom", inputs={"checksum": "a" * 64},
                                groups=OPS))
    assert request_outcome(confirmed, request) == ":white_check_mark: Confirmed by <@UOP0001>."
    asked = go(run, Skip(actor="UOP0001", step_id="sbom", reason="done by hand", groups=OPS))
    assert request_outcome(asked, request, {"UOP0001"}) == (
        ":arrow_down: A newer request for this step follows below.")
    skipped = go(asked, Approve(actor="UOP0002", step_id="sbom", plan_hash=run.plan_hash,
                                groups=OPS))
    assert request_outcome(skipped, request, {"UOP0001", "UOP0002"}) == (
        ":fast_forward: Skipped: skipped at <@UOP0001>'s request (done by hand); "
        "approved by <@UOP0002>")
    aborted = go(run, Abort(actor="UOP0001", reason="window closed", groups=OPS))
    outcome = request_outcome(aborted, request, {"UOP0001"})
    assert outcome == ":octagonal_sign: The run was aborted: aborted by <@UOP0001>: window closed"


def test_the_settled_message_has_no_buttons() -> None:
    """The updated message keeps the step's title, says what happened and offers no button."""
    run = at_approval()
    request = request_for(run, "approval_requested", "approve")
    done = approve(approve(run, "URM0002"), "URM0003")
    outcome = request_outcome(done, request)
    assert outcome is not None
    message = resolved_request(done, request, outcome)
    check_blocks(message.blocks)
    assert not is_request(message)
    assert all(b["type"] != "actions" for b in message.blocks)
    assert "Two release managers approve" in dumped(message.blocks)


@pytest.mark.parametrize("raw", [b"", b"{}", b"[]", b'{"kind": "vote", "step_id": "a", '
                                 b'"token": "1", "channel": "C", "ts": "1"}', b"\xff"])
def test_unreadable_records_are_ignored(raw: bytes) -> None:
    """A record the bot did not write loads as None (it is dropped, never a crash)."""
    assert OpenRequest.load(raw) is None


def test_a_record_round_trips() -> None:
    """What the notifier stores is what it reads back."""
    request = request_for(at_approval(), "approval_requested", "approve")
    assert OpenRequest.load(request.dump()) == request
    assert request.field.startswith("approval:approve:")
