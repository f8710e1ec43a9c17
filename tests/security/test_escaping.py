"""Everything a person typed or a node answered is shown as typed: no broadcast, no mention of
someone unknown, no link, no formatting, on every surface the bot renders (cards, thread
messages, requests, modals, App Home, health tables, ephemeral answers)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from bot.slack.ids import CallbackId
from bot.slack.payloads import ButtonValue, ModalMetadata
from bot.slack.views import (
    HomeItem,
    NodeRow,
    Viewer,
    approval_request,
    confirm_modal,
    confirmation_request,
    health_table,
    home_view,
    reason_modal,
    run_card,
    run_line,
    thread_message,
)
from tests.scenarios.harness import OPERATOR, Harness, waiting_at
from tests.unit.slack.runs import (
    NOW,
    at_approval,
    at_confirmation,
    finish_current,
    go,
    promote,
)
from workflows.machine import Notify
from workflows.model import Abort, Approve, OutcomeFailed, Pause, Reject, Run

HOSTILE = ("<!channel> <!here> <!everyone> <@U123> <@W999|boss> <#C123> "
           "<https://evil.example|click me> <mailto:x@evil.example> @channel @here "
           "*bold* _it_ ~st~ `code` ```block``` > quote &amp; &lt;")

RAW = ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<@W999", "<#C123>",
       "<https://evil", "<mailto:")
FORMATTED = ("*bold*", "_it_", "~st~", "`code`", "```block```", "@channel", "@here")
PEOPLE = frozenset({"URM0001", "URM0002", "UOP0001"})
_CODE_SPAN = re.compile(r"`[^`]*`")


def text_objects(value: Any, kind: str = "mrkdwn") -> Iterator[tuple[str, str]]:
    """(kind, text) of every text a surface shows: text objects, and a message's top-level
    text (which Slack formats as mrkdwn)."""
    if isinstance(value, dict):
        if value.get("type") in {"mrkdwn", "plain_text"} and isinstance(value.get("text"), str):
            yield str(value["type"]), value["text"]
        elif isinstance(value.get("text"), str):
            yield kind, value["text"]
        for key, inner in value.items():
            if key != "text" or not isinstance(inner, str):
                yield from text_objects(inner, kind)
    elif isinstance(value, list):
        for inner in value:
            yield from text_objects(inner, kind)


def unsafe(value: Any) -> list[str]:
    """What of the hostile text shows raw anywhere in ``value`` (formatting markers count only
    outside code spans, where Slack does not format)."""
    found = []
    for kind, text in text_objects(value):
        found += [f"{kind}: {m!r} in {text[:80]!r}" for m in RAW if m in text]
        if kind == "mrkdwn":
            outside = _CODE_SPAN.sub("", text)
            found += [f"mrkdwn: {m!r} in {text[:80]!r}" for m in FORMATTED if m in outside]
    return found


RM = ["release-managers"]


def approved(run: Run) -> Run:
    """Past the two release managers' approval: at the SBOM confirmation."""
    for user in ("URM0002", "URM0003"):
        run = go(run, Approve(actor=user, step_id="approve", plan_hash=run.plan_hash, groups=RM))
    return at_confirmation(run)


def titled(run: Run) -> Run:
    """The run and each of its steps titled with the hostile text (a definition's author or a
    parameter rendered into a title)."""
    plan = [step.model_copy(update={"title": f"{step.title} {HOSTILE}"}) for step in run.plan]
    return run.model_copy(update={"title": f"Promote {HOSTILE}", "plan": plan})


def hostile_run() -> Run:
    """A promotion whose every free-text field holds the hostile text: a parameter, a pause
    reason, a node's error on a step, a rejection, and a title."""
    run = at_approval()
    run = run.model_copy(update={"title": f"Promote {HOSTILE}",
                                 "params": {**run.params, "config_checksum": HOSTILE}})
    return go(run, Pause(actor="UOP0001", reason=HOSTILE))


# --- every renderer, directly --------------------------------------------------------------------


def test_cards_show_typed_text_as_typed() -> None:
    """Title, parameters, reasons, a node's error text and the current step: all escaped."""
    run = hostile_run()
    failed = finish_current(promote(), OutcomeFailed(error=f"node said {HOSTILE}"))
    rejected = go(at_approval(), Reject(actor="URM0002", step_id="approve", reason=HOSTILE,
                                        groups=RM))
    aborted = go(at_approval(), Abort(actor="UOP0001", reason=HOSTILE))
    for shown in (run, failed, rejected, aborted):
        card = run_card(shown, people=PEOPLE)
        assert unsafe(card.blocks) == [], shown.status
        assert "&lt;!channel&gt;" in json.dumps(card.blocks), shown.status
        assert unsafe({"text": card.text}) == []
        assert unsafe({"text": run_line(shown)}) == []
    assert "&lt;!channel&gt;" in json.dumps(run_card(rejected, people=PEOPLE).blocks)


@pytest.mark.parametrize("kind", ["approval_requested", "approval_reminder", "approval_expired",
                                  "confirmation_requested", "skip_requested", "step_failed",
                                  "step_skipped", "run_blocked", "run_finished", "run_paused",
                                  "run_resumed"])
def test_thread_messages_show_typed_text_as_typed(kind: str) -> None:
    """Every kind of thread message, carrying the hostile text and a hostile step."""
    run = hostile_run()
    note = Notify(kind=kind, step_id="approve", text=f"something {HOSTILE}")  # type: ignore[arg-type]
    message = thread_message(run, note, {"URM0002"}, PEOPLE)
    assert unsafe(message.blocks) == []
    assert "&lt;!channel&gt;" in json.dumps(message.blocks)
    assert unsafe({"text": message.text}) == []


def test_requests_modals_and_home_show_typed_text_as_typed() -> None:
    """Approval and confirmation requests, the reason and confirm modals, App Home."""
    run = hostile_run()
    waiting = titled(at_approval())
    confirming = titled(approved(at_approval()))
    meta = ModalMetadata(b=ButtonValue(r=run.id, s="approve"), c="C0OPS")
    surfaces: list[Any] = [
        approval_request(waiting, "approve", {"URM0002"}),
        confirmation_request(confirming, "sbom", {"UOP0001"}),
        reason_modal(CallbackId.REJECT, waiting, meta, waiting.plan[1]),
        confirm_modal(confirming, confirming.plan[2], meta),
        home_view(Viewer("URM0002", frozenset({"release-managers"})),
                  [HomeItem(waiting, waiting.plan[1], "approve")], [run, waiting], [run], [],
                  NOW),
    ]
    for surface in surfaces:
        assert surface is not None
        blocks = surface.blocks if hasattr(surface, "blocks") else surface
        assert unsafe(blocks) == [], blocks
        assert "&lt;!channel&gt;" in json.dumps(blocks)  # the hostile text is on it


def test_health_tables_show_what_nodes_answered_as_text() -> None:
    """A node's status, version and error are its own words, not markup."""
    row = NodeRow(node="test-1", status=HOSTILE[:40], version=HOSTILE, error=HOSTILE,
                  tip_hash="<!channel>")
    table = health_table("testnet", [row])
    assert unsafe(table.blocks) == []
    assert "&lt;!channel&gt;" in json.dumps(table.blocks)
    assert unsafe({"text": table.text}) == []


# --- the served bot, end to end --------------------------------------------------------------


async def test_typed_text_stays_text_through_the_served_bot(harness: Harness) -> None:
    """A maintenance reason, an abort reason in a form, a freeze reason, a rejection: every
    message, update, ephemeral answer, form and App Home the bot sends shows them as typed."""
    h = harness
    replies = [await h.command(OPERATOR, f"maintenance testnet {HOSTILE}")]
    run_id = await h.started_run(replies[0])
    card = await h.card(run_id, lambda m: "run.abort" in str(m.blocks))
    assert (await h.click(OPERATOR, card, "run.abort")).status == 200
    [view] = await h.standin.wait_for(lambda: h.standin.opened(str(CallbackId.ABORT)))
    await h.submit(OPERATOR, view, {"modal.reason": HOSTILE})
    await h.card(run_id, lambda m: m.text.endswith(": aborted"))
    replies.append(await h.command(OPERATOR, f"freeze {HOSTILE}"))
    replies.append(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    replies.append(await h.command(OPERATOR, "unfreeze"))
    promoted = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(promoted, waiting_at("approve"))
    card = await h.card(promoted, lambda m: "run.reject" in str(m.blocks))
    assert (await h.click("URM0002", card, "run.reject")).status == 200
    [view] = await h.standin.wait_for(lambda: h.standin.opened(str(CallbackId.REJECT)))
    await h.submit("URM0002", view, {"modal.reason": HOSTILE})
    await h.card(promoted, lambda m: m.text.endswith(": failed"))
    await h.event({"type": "app_home_opened", "user": OPERATOR, "tab": "home"})
    await h.standin.wait_for(lambda: h.standin.home.get(OPERATOR))
    await h.bot.deferred.drain()
    assert "frozen" in replies[2].text
    shown = [r.json for r in replies if r.text] + [
        {"method": c.method, "text": c.args.get("text"), "blocks": c.args.get("blocks"),
         "view": c.args.get("view")} for c in h.standin.calls
    ] + [body for _, body in h.standin.responses]
    assert any("&lt;!channel&gt;" in json.dumps(s) for s in shown)  # the text did get there
    problems = [p for s in shown for p in unsafe(s)]
    assert problems == [], "\n".join(problems[:20])
