"""Slack accepts every message and view the bot can render, at its worst case.

Every shipped workflow (workflows/definitions/) is planned against 1,000 nodes per environment
with each parameter at its longest valid value, driven through its states (each step blocked
with a long error, waiting for people, paused, aborted with the longest reason a form accepts,
finished), and every surface is rendered: the card, the thread's requests and notices, their
settled forms, the modals, App Home with 200 runs, the incident log export, the health table of
1,000 nodes, help. Each is validated with slack_sdk's own block and view models plus the
per-surface block counts (``tests.unit.slack.slacklimits``). A renderer that would exceed a
limit degrades on purpose (summarised waves, "more in the thread"); it is never refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest

from bot.runtime import DEFINITIONS_DIR
from bot.slack.ids import CallbackId
from bot.slack.payloads import ButtonValue, ModalMetadata
from bot.slack.views import (
    HomeItem,
    NodeRow,
    OpenRequest,
    Viewer,
    approval_request,
    confirm_modal,
    confirmation_request,
    health_table,
    help_message,
    home_view,
    incident_log_messages,
    notification,
    reason_modal,
    request_outcome,
    resolved_request,
    run_card,
    start_modal,
    thread_message,
)
from tests.unit.slack.slacklimits import SlackRefuses, check_blocks, check_message, check_view
from workflows.auditlog import AuditEntry
from workflows.definition import Definition, ParameterSpec, load_definitions
from workflows.drills import DrillKind, DrillRecord, schedule
from workflows.errors import InvalidCommand, InvalidParameters, NotAuthorized
from workflows.export import render_incident_log
from workflows.machine import Notify, transition
from workflows.model import (
    Abort,
    Approve,
    Event,
    OutcomeFailed,
    OutcomeSucceeded,
    OutcomeWait,
    Pause,
    Run,
    RunStarted,
    StepBegan,
    StepFinished,
)
from workflows.planner import plan_run
from workflows.testing import StaticInventory

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NODES = 1000
ENVIRONMENTS = ("regtest", "testnet", "mainnet", "staging", "signet", "devnet")
GROUPS = frozenset({"operators", "release-managers", "security", "responders", "incident"})
ACTOR = "U0WORSTCASE"
# What escaping grows the most (& < > become entities) and mentions a person could type.
HOSTILE = "&<>*_~`<!channel><@U0EVIL>|"
REASON = (HOSTILE * 100)[:1000]  # the longest reason a form accepts
NOTE = (HOSTILE * 400)[:5000]  # what a node or the deploy system may answer: anything
EVERYONE = Viewer(user=ACTOR, groups=GROUPS, operable=frozenset({"*"}), startable=frozenset())


@cache
def inventory() -> StaticInventory:
    nodes = {
        env: [(f"{env}-validator-node-{i:04d}", "miner" if i % 10 == 0 else "validator",
               i < 10) for i in range(NODES)]
        for env in ENVIRONMENTS
    }
    return StaticInventory(nodes)


@cache
def definitions() -> dict[str, Definition]:
    return load_definitions(DEFINITIONS_DIR)


def viewer_for(defn: Definition) -> Viewer:
    names = frozenset(definitions())
    return Viewer(user=ACTOR, groups=GROUPS, operable=names, startable=names)


_CANDIDATES = [
    "1" * 2000, "v1.1.1-" + "a" * 2000, "1.1.1", "a" * 64, "0" * 40, "none",
    "https://" + "a" * 1990, "59m", "1h", "30s", "5m", "a",
]


def worst_value(spec: ParameterSpec) -> str | None:
    """The longest value the parameter accepts (hostile text where anything goes)."""
    if spec.choices:
        return max(spec.choices, key=len)
    if spec.window is not None:
        return "1h"
    if spec.pattern is None:
        return (HOSTILE * 200)[: spec.max_length]
    for candidate in sorted(_CANDIDATES, key=len, reverse=True):
        value = candidate[: spec.max_length]
        if re.fullmatch(spec.pattern, value):
            return value
    return spec.default


def worst_run(defn: Definition) -> Run:
    """Planned with every parameter at its worst; one that must name something real (an
    environment of the inventory) takes the biggest environment instead."""
    params: dict[str, str] = {}
    for spec in defn.parameters:
        value = worst_value(spec)
        if value is not None:
            params[spec.name] = value
    if defn.environment_param:
        params[defn.environment_param] = "mainnet"
    for _ in range(len(defn.parameters) + 1):
        try:
            run = plan_run(defn, params, inventory=inventory(), run_id="r20260301-ffffff",
                           initiator=ACTOR, now=NOW, channel="C0OPS")
            return go(run, RunStarted())
        except InvalidParameters as exc:
            if exc.parameter is None or params.get(exc.parameter) == "mainnet":
                raise AssertionError(f"{defn.name}: no worst-case parameters: {exc}") from exc
            params[exc.parameter] = "mainnet"
    raise AssertionError(f"{defn.name}: no worst-case parameters")


def go(run: Run, *events: Event) -> Run:
    for event in events:
        run, _ = transition(run, event, NOW)
    return run


def maybe(run: Run, event: Event) -> Run:
    """The run after ``event``, or as it was when the machine refuses it."""
    try:
        return go(run, event)
    except (InvalidCommand, NotAuthorized):
        return run


def step_outcome(run: Run, outcome: Any) -> Run | None:
    if run.cursor is None or run.terminal:
        return None
    step = run.plan[run.cursor]
    attempt = run.steps[run.cursor].attempt + 1
    try:
        return go(run, StepBegan(step_id=step.id, attempt=attempt),
                  StepFinished(step_id=step.id, attempt=attempt, outcome=outcome))
    except (InvalidCommand, NotAuthorized):
        return None


def states(defn: Definition) -> Iterator[tuple[str, Run]]:
    """The run at each step: blocked there with a long error, waiting there for people (with a
    vote), paused; then finished, and aborted with the longest reason."""
    run = worst_run(defn)
    yield "started", run
    for _ in range(len(run.plan)):
        if run.cursor is None or run.terminal:
            break
        step = run.plan[run.cursor]
        blocked = step_outcome(run, OutcomeFailed(error=NOTE))
        if blocked is not None:
            yield f"blocked at {step.id}", blocked
        if step.kind in ("approval", "manual"):
            waiting = step_outcome(run, OutcomeWait(
                waiting_for="approval" if step.kind == "approval" else "confirmation",
                note=NOTE))
            if waiting is not None:
                if step.kind == "approval":
                    waiting = maybe(waiting, Approve(actor="U0VOTER1", groups=sorted(GROUPS),
                                                     step_id=step.id, plan_hash=run.plan_hash))
                yield f"waiting at {step.id}", waiting
                paused = maybe(waiting, Pause(actor=ACTOR, groups=sorted(GROUPS), reason=REASON))
                if paused is not waiting:
                    yield f"paused at {step.id}", paused
        advanced = step_outcome(run, OutcomeSucceeded(note=NOTE, result={"detail": NOTE}))
        if advanced is None:
            break
        run = advanced
    yield "last", run
    if not run.terminal:
        yield "aborted", go(run, Abort(actor=ACTOR, groups=sorted(GROUPS), reason=REASON))


def meta(run: Run) -> ModalMetadata:
    return ModalMetadata(b=ButtonValue(r=run.id, v=run.version), c="C0OPS")


MEMBERS = [f"U0MEMBER{i:03d}" for i in range(200)]
KINDS = ["approval_requested", "approval_reminder", "approval_expired", "confirmation_requested",
         "skip_requested", "step_failed", "step_skipped", "run_blocked", "run_finished",
         "run_paused", "run_resumed"]


def check(label: str, what: Any) -> None:
    try:
        if isinstance(what, dict):
            check_view(what)
        else:
            check_message(what.text, what.blocks)
    except SlackRefuses as exc:
        raise AssertionError(f"{label}: Slack would refuse it: {exc}") from exc


@pytest.mark.parametrize("name", sorted(definitions()))
def test_every_message_and_modal_of_every_workflow_is_accepted(name: str) -> None:
    defn = definitions()[name]
    viewer = viewer_for(defn)
    opened_by = ModalMetadata(b=ButtonValue(w=defn.name), c="C0OPS")
    check(f"{name} start modal", start_modal(defn, {}, opened_by, about=REASON))
    for label, run in states(defn):
        where = f"{name} {label}"
        check(f"{where}: card", run_card(run, people=MEMBERS, viewer=viewer,
                                         known_workflows=definitions()))
        check(f"{where}: card (read only)", run_card(run))
        check(f"{where}: abort modal", reason_modal(CallbackId.ABORT, run, meta(run)))
        if run.cursor is None:
            continue
        step = run.plan[run.cursor]
        for render in (approval_request, confirmation_request):
            message = render(run, step.id, MEMBERS)
            if message is not None:
                check(f"{where}: {render.__name__}", message)
        if step.kind == "manual":
            check(f"{where}: confirm modal", confirm_modal(run, step, meta(run)))
        for kind in KINDS:
            notify = Notify(kind=kind, step_id=step.id, text=NOTE, groups=sorted(GROUPS),
                            users=MEMBERS[:20])
            check(f"{where}: {kind}", notification(run, notify, MEMBERS, MEMBERS))
            check(f"{where}: {kind} (thread)", thread_message(run, notify, MEMBERS, MEMBERS))
        for request_kind in ("approval", "skip", "confirmation"):
            request = OpenRequest(request_kind, step.id, "t" * 40, "C0OPS", "1700000000.000100")
            outcome = request_outcome(run, request, MEMBERS)
            if outcome is not None:
                check(f"{where}: {request_kind} settled",
                      resolved_request(run, request, outcome))


def test_app_home_with_200_runs_and_200_things_to_do_is_accepted() -> None:
    runs = [run for name in sorted(definitions()) for _, run in states(definitions()[name])]
    waiting = [r for r in runs if r.cursor is not None and not r.terminal]
    def many(found: list[Run]) -> list[Run]:  # 200 distinct runs (ids are unique in Redis)
        return [r.model_copy(update={"id": f"r20260301-{i:06x}"})
                for i, r in enumerate((found * 200)[:200])]

    active = many(waiting)
    finished = many([r for r in runs if r.terminal])
    pending = [HomeItem(r, r.plan[r.cursor or 0], "approve" if i % 2 else "confirm")
               for i, r in enumerate(active)]
    records = {kind: DrillRecord(kind=kind, run_id="r20260101-aaaaaa",
                                 completed_at=NOW - timedelta(days=400)) for kind in DrillKind}
    drills = schedule(records, NOW, since=NOW - timedelta(days=800))
    view = home_view(EVERYONE, pending, active, finished, drills, NOW)
    check("home", view)
    assert "200" in str(view)  # it says how many there are, even when it shows fewer


def test_the_incident_log_of_the_longest_run_is_posted_in_accepted_parts() -> None:
    run = next(r for label, r in states(definitions()["incident-release"]) if label == "last")
    audit = [AuditEntry(id=f"{i}-0", type="reject", at=NOW, actor=ACTOR,
                        step_id=run.plan[i % len(run.plan)].id, detail={"reason": REASON})
             for i in range(2000)]
    markdown = render_incident_log(run, audit)
    messages = incident_log_messages(run.id, markdown)
    assert messages
    for index, message in enumerate(messages):
        check(f"export part {index}", message)


def test_the_health_table_of_1000_failing_nodes_is_accepted() -> None:
    rows = [NodeRow(node=f"mainnet-validator-node-{i:04d}", status="error", height=10**9 + i,
                    tip_hash="f" * 64, peers=0, syncing=True, version=NOTE[:200], error=NOTE,
                    reasons=(NOTE[:500], NOTE[:500]))
            for i in range(NODES)]
    message = health_table("mainnet", rows)
    check("health", message)
    said = str(message.blocks)
    assert "0 of 1000 nodes ok" in said
    assert "more parts of this report are not shown" in said
    assert "From each node" in said  # the footer stays


def test_help_with_every_workflow_is_accepted() -> None:
    entries = [(f"{name} " + " ".join(f"<{p.name}>" for p in d.parameters), d.title + NOTE[:600])
               for name, d in definitions().items()] * 20
    check("help", help_message("Every command" + NOTE, entries, footer=NOTE))


def test_the_checker_refuses_what_slack_refuses() -> None:
    """The checker itself: each published limit it enforces fails a block that breaks it."""
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    with pytest.raises(SlackRefuses):
        check_blocks([too_long])
    with pytest.raises(SlackRefuses):
        check_blocks([{"type": "divider"}] * 51)
    check_blocks([{"type": "divider"}] * 100, "modal")
    with pytest.raises(SlackRefuses):
        check_blocks([{"type": "actions", "elements": [
            {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "x" * 76}}
        ]}])
    with pytest.raises(SlackRefuses):
        check_view({"type": "modal", "title": {"type": "plain_text", "text": "x" * 25},
                    "blocks": [{"type": "divider"}]})
    with pytest.raises(SlackRefuses):
        check_blocks([{"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 3001}]}])
