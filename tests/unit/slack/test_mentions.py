"""Who a thread message mentions: the people who can act on it, never one who may not."""

from __future__ import annotations

from bot.slack.mentions import mentioned
from tests.unit.workflows.runs import (
    INITIATOR,
    apply,
    begin,
    finish,
    make_run,
    started,
    step,
    wait_for,
)
from workflows.machine import Notify
from workflows.model import Approve, Run, Skip

GROUPS = {
    "release": {INITIATOR, "U1", "U2"},
    "security": {"U7"},
    "operators": {"U5", "U6"},
}
OPERATE = ("operators",)


def waiting_approval(**policy: object) -> Run:
    run = started(make_run(step("gate", "approval", approval={
        "groups": ["release"], "quorum": 2, **policy})))
    run, _ = finish(begin(run), wait_for("approval"))
    return run


def note(kind: str, groups: list[str], step_id: str | None = "gate") -> Notify:
    return Notify(kind=kind, step_id=step_id, text="x", groups=groups)


def test_an_approval_request_never_mentions_the_initiator() -> None:
    run = waiting_approval()
    assert mentioned(run, note("approval_requested", ["release"]), GROUPS, OPERATE) == {"U1", "U2"}


def test_unless_the_policy_allows_the_initiator() -> None:
    run = waiting_approval(allow_initiator=True)
    assert mentioned(run, note("approval_requested", ["release"]), GROUPS, OPERATE) == {
        INITIATOR, "U1", "U2"}


def test_a_reminder_skips_those_who_approved_already() -> None:
    run = waiting_approval()
    run, _ = apply(run, Approve(actor="U1", groups=["release"], step_id="gate",
                                plan_hash=run.plan_hash))
    assert mentioned(run, note("approval_reminder", ["release"]), GROUPS, OPERATE) == {"U2"}


def test_a_skip_request_never_mentions_the_one_who_asked() -> None:
    run = started(make_run(step("check", "manual", skip={"approval": {
        "groups": ["operators"], "quorum": 1}})))
    run, _ = finish(begin(run), wait_for("confirmation"))
    run, _ = apply(run, Skip(actor="U5", groups=["operators"], step_id="check", reason="done"))
    assert mentioned(run, note("skip_requested", ["operators"], "check"), GROUPS, OPERATE) == {
        "U6"}


def test_a_confirmation_mentions_its_responders_else_the_operators() -> None:
    run = started(make_run(step("a", "manual")))
    assert mentioned(run, note("confirmation_requested", ["security"], "a"), GROUPS,
                     OPERATE) == {"U7"}
    assert mentioned(run, note("confirmation_requested", [], "a"), GROUPS, OPERATE) == {
        "U5", "U6"}


def test_a_blocked_run_mentions_its_operators_and_an_incidents_commander() -> None:
    run = started(make_run(step("a")))
    assert mentioned(run, note("run_blocked", [], "a"), GROUPS, OPERATE) == {"U5", "U6"}
    incident = run.model_copy(update={"category": "incident", "commander": "U9"})
    assert mentioned(incident, note("run_blocked", [], "a"), GROUPS, OPERATE) == {
        "U5", "U6", "U9"}
    assert mentioned(run, note("run_finished", [], None), GROUPS, OPERATE) == set()
