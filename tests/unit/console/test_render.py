"""The console's Block Kit renderer, fed with what the bot's own renderers return."""

from __future__ import annotations

from typing import Any

import pytest

from bot.console.feed import PendingModal
from bot.console.render import (
    Line,
    Names,
    Style,
    comparable,
    inputs_of,
    mrkdwn,
    render_blocks,
    render_message,
    render_view,
)
from bot.console.session import Session
from bot.slack.escape import code, inline, text
from bot.slack.ids import ActionId, CallbackId
from bot.slack.payloads import ButtonValue, ModalMetadata
from bot.slack.views import (
    HomeItem,
    NodeRow,
    Viewer,
    approval_request,
    confirm_modal,
    confirmation_request,
    drill_reminder,
    health_table,
    help_message,
    home_view,
    notice,
    notification,
    reason_modal,
    run_card,
    start_modal,
)
from tests.unit.slack.definitions import definition
from tests.unit.slack.runs import INITIATOR, NOW, at_approval, at_confirmation, go, promote
from workflows.drills import DrillDue, DrillKind
from workflows.machine import Notify
from workflows.model import Abort, Approve, Run

NAMES = Names(users={INITIATOR: "ana", "URM0002": "ben", "URM0003": "cleo"},
              channels={"C0OPS": "ops"})
RM = frozenset({"release-managers"})


def plain(lines: list[Line]) -> str:
    rows = []
    for line in lines:
        rows.append(" ".join(f"[{b.label}]" for b in line.buttons) if line.buttons
                    else Style.plain(line.text))
    return "\n".join(rows)


def buttons(lines: list[Line]) -> list[tuple[str, str]]:
    return [(b.action_id, b.label) for line in lines for b in line.buttons]


def confirming() -> Run:
    """The test promotion approved by two release managers, waiting at its SBOM input."""
    run = at_approval()
    for user in ("URM0002", "URM0003"):
        run = go(run, Approve(actor=user, step_id="approve", plan_hash=run.plan_hash,
                              groups=["release-managers"]))
    return at_confirmation(run)


def every_surface() -> list[tuple[str, list[dict[str, Any]]]]:
    """Every kind of blocks the bot posts or opens, from its own renderers."""
    waiting = at_approval()
    manual = confirming()
    ended = go(promote(), Abort(actor=INITIATOR, reason="no"))
    meta = ModalMetadata(b=ButtonValue(r=manual.id, s="sbom"))
    request = approval_request(waiting, "approve", {"URM0002"})
    confirmation = confirmation_request(manual, "sbom", {"URM0002"})
    assert request is not None
    assert confirmation is not None
    drills = [DrillDue(DrillKind.RESTORE, "restore-drill", "Quarterly restore drill", NOW, None,
                       None, True, 0)]
    viewer = Viewer(user="URM0002", groups=RM, startable=frozenset({"restore-drill"}))
    rows = [NodeRow("test-1", "ok", 120, "ab" * 32, 4, False, "1.4.2"),
            NodeRow("test-2", error="connection refused")]
    return [
        ("card", run_card(waiting, people={"URM0002"}).blocks),
        ("ended card", run_card(ended).blocks),
        ("approval request", request.blocks),
        ("confirmation request", confirmation.blocks),
        ("notification", notification(waiting, Notify(kind="run_paused", text="paused"),
                                      {"URM0002"}).blocks),
        ("health", health_table("testnet", rows).blocks),
        ("help", help_message("Commands", [("promote <version>", "Promote it")], "f").blocks),
        ("home", home_view(viewer, [HomeItem(waiting, waiting.plan[1], "approve")], [waiting],
                           [ended], drills, NOW)["blocks"]),
        ("drill reminder", drill_reminder("restore-drill", "Restore drill", "due", True)),
        ("confirm modal", confirm_modal(manual, manual.plan[2], meta)["blocks"]),
        ("reason modal", reason_modal(CallbackId.ABORT, waiting, meta)["blocks"]),
        ("notice", notice(":rocket: Started").blocks),
    ]


@pytest.mark.parametrize(("name", "blocks"), every_surface(), ids=lambda v: str(v)[:20])
def test_every_block_the_bot_uses_is_rendered(name: str, blocks: list[dict[str, Any]]) -> None:
    """No block of any surface falls back to the "[unknown block]" line, and no Slack markup
    (entities, mentions, emoji codes, date tokens) is left in what is shown."""
    shown = plain(render_blocks(blocks, NAMES))
    assert shown.strip(), name
    assert " block]" not in shown
    for raw in ("&lt;", "&gt;", "&amp;", "<@", "<!date", ":white_check_mark:", ":raised_hand:",
                "\u200b"):
        assert raw not in shown, (name, raw)


def test_card_shows_header_fields_checklist_buttons_and_footer() -> None:
    """A card: the title as a header, the facts as "Label: value" pairs, each step with its
    status, the buttons, and the footer with the run id."""
    run = at_approval()
    lines = render_message("x", run_card(run, people={"URM0002"}).blocks, NAMES)
    shown = plain(lines)
    assert shown.splitlines()[0] == f"━━ {run.title} ━━"
    assert "Status: ✋ waiting" in shown
    assert "Started by: @ana" in shown
    assert "version: `v1.4.2`" in shown
    assert "✅ No promotion freeze" in shown
    assert "✋ Two release managers approve — waiting for 2 more approvals" in shown
    assert f"Run `{run.id}`" in shown
    assert buttons(lines) == [
        (ActionId.APPROVE, "Approve"), (ActionId.REJECT, "Reject…"),
        (ActionId.PAUSE, "Pause"), (ActionId.ABORT, "Abort…"),
    ]


def test_buttons_keep_their_value_block_and_confirm_dialog() -> None:
    """A button carries what a click must send back, and its "are you sure" text."""
    run = at_approval()
    request = approval_request(run, "approve", {"URM0002"})
    assert request is not None
    approve = next(b for line in render_blocks(request.blocks) for b in line.buttons
                   if b.action_id == ActionId.APPROVE)
    assert ButtonValue.parse(approve.value).s == "approve"
    assert approve.block_id
    assert approve.style == "primary"
    assert approve.confirm is not None
    assert approve.confirm[0] == "Approve this plan?"
    assert run.plan_hash in approve.confirm[1]
    assert approve.payload()["value"] == approve.value


def test_modal_shows_its_inputs_with_names_optional_marks_and_hints() -> None:
    """A form lists each input with the field name a script submits it by."""
    run = confirming()
    view = confirm_modal(run, run.plan[2], ModalMetadata(b=ButtonValue(r=run.id, s="sbom")))
    shown = plain(render_view(view, NAMES))
    assert shown.splitlines()[0] == "┌─ Confirm step ─"
    assert "✎ SBOM checksum  [field checksum]" in shown
    assert "Expected form: [0-9a-f]{64}" in shown
    assert shown.splitlines()[-1] == "└─ Confirm / Cancel"
    assert [b["element"]["action_id"] for b in inputs_of(view)] == ["checksum"]
    reason = reason_modal(CallbackId.REJECT, run, ModalMetadata(b=ButtonValue(r=run.id)))
    assert "✎ Why do you reject it?  [field reason]" in plain(render_view(reason, NAMES))


def test_start_form_shows_prefilled_values_and_choices_and_keeps_them() -> None:
    """The start form shows what the bot prefilled and a select's options; a field a script
    does not name keeps its prefilled value, and a choice must be one of the options."""
    defn = definition("""
name: rollback
title: Roll back
parameters:
  - {name: environment, choices: [mainnet, testnet]}
  - {name: version, help: the fixed build}
steps: [{id: ok, title: Agree, kind: manual}]
""")
    view = start_modal(defn, {"environment": "testnet"}, ModalMetadata(b=ButtonValue(w="x")))
    shown = plain(render_view(view, NAMES))
    assert "✎ environment = testnet  [field environment]" in shown
    assert "one of: mainnet, testnet" in shown
    assert "✎ version  [field version]" in shown
    modal = PendingModal("trig", "V1", view, "U1")
    environment, version = Session.fields(modal)
    assert (environment.initial, environment.choices) == ("testnet", ("mainnet", "testnet"))
    assert (version.initial, version.choices, version.optional) == ("", (), False)
    assert Session.check_field(environment, "regtest") == "environment is one of mainnet, testnet"
    assert Session.check_field(environment, "mainnet") is None
    assert Session.check_field(version, "") == "version is required"


def test_home_shows_dividers_sections_and_accessory_buttons() -> None:
    """App Home: dividers between parts, a due drill's Start button from its accessory."""
    run = at_approval()
    drills = [DrillDue(DrillKind.RESTORE, "restore-drill", "Quarterly restore drill", NOW, None,
                       None, True, 0)]
    viewer = Viewer(user="URM0002", groups=RM, startable=frozenset({"restore-drill"}))
    view = home_view(viewer, [], [run], [], drills, NOW)
    lines = render_view(view, NAMES)
    assert "─" * 48 in plain(lines)
    assert (ActionId.START_WORKFLOW, "Start drill") in buttons(lines)
    assert "For @ben" in plain(lines)


def test_health_table_keeps_its_columns() -> None:
    """The health table's code block is shown as a monospace block, lines intact."""
    rows = [NodeRow("test-1", "ok", 120, "ab" * 32, 4, False, "1.4.2")]
    shown = plain(render_message("", health_table("testnet", rows).blocks, NAMES))
    assert "  node              status   height" in shown
    assert "  test-1            ok       120" in shown
    assert "```" not in shown


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("<@URM0002> approved", "@ben approved"),
        ("<@U0UNKNOWN> too", "@U0UNKNOWN too"),
        ("see <#C0OPS> and <#C9|named>", "see #ops and #named"),
        ("<!date^1740830400^{date_short_pretty}|2025-03-01 12:00 UTC>", "2025-03-01 12:00 UTC"),
        ("<https://ci.example/1|the CI run>", "the CI run (https://ci.example/1)"),
        ("<!here> now", "@here now"),
        (":white_check_mark: done :no_such_emoji:", "✅ done :no_such_emoji:"),
        ("*bold* _italic_ ~gone~", "bold italic gone"),
        ("*Waiting for `operators` to confirm.*", "Waiting for `operators` to confirm."),
        ("`a_b*c` stays", "`a_b*c` stays"),
        ("at _canary_window step_ now", "at canary_window step now"),
        ("a &lt; b &amp;&amp; c &gt; d", "a < b && c > d"),
    ],
)
def test_mrkdwn_becomes_terminal_text(source: str, shown: str) -> None:
    """Slack markup becomes what Slack would show: names, fallbacks, emoji, no markers."""
    assert mrkdwn(source, NAMES) == shown


@pytest.mark.parametrize("typed", ["<@U123> <!channel>", "*not bold* _nor_ ~this~",
                                   "a `tick` & <b>", "line\nnext"])
def test_text_a_person_typed_shows_as_typed(typed: str) -> None:
    """Free text the bot escaped (mentions, formatting, entities) shows exactly as typed."""
    assert mrkdwn(text(typed), NAMES) == typed
    assert mrkdwn(inline(typed.replace("\n", " ")), NAMES) == typed.replace("\n", " ")


def test_code_values_are_shown_literally() -> None:
    """A value in a code span keeps its characters (a version, a hash, a path)."""
    assert mrkdwn(code("v1.4.2-rc.1+<x>"), NAMES) == "`v1.4.2-rc.1+<x>`"


def test_colour_is_ansi_and_removable() -> None:
    """With colour on, bold is an ANSI attribute; stripping it gives the plain text."""
    coloured = mrkdwn("*bold* `code`", NAMES, Style(color=True))
    assert "\x1b[1m" in coloured
    assert Style.plain(coloured) == "bold `code`"


def test_comparable_ignores_times() -> None:
    """A card updated only in its timestamp does not count as changed."""
    assert comparable("updated 2025-03-01 12:00 UTC") == comparable("updated 2025-03-01 12:01 UTC")
    assert comparable("a") != comparable("b")


def test_a_message_without_blocks_shows_its_text() -> None:
    """A plain-text message (no blocks) is shown from its text."""
    assert plain(render_message(":x: failed <@URM0003>", None, NAMES)) == "❌ failed @cleo"


def test_unknown_blocks_are_named_not_dropped() -> None:
    """A block type the console does not know is shown as such, never silently left out."""
    assert plain(render_blocks([{"type": "video", "title": "x"}])) == "[video block]"
