"""Renderers: runs, requests, modals, help, health and App Home as valid, escaped Block Kit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.payloads import ButtonValue, ModalMetadata
from bot.slack.views import (
    HomeItem,
    NodeRow,
    Viewer,
    approval_request,
    card_actions,
    confirm_modal,
    confirmation_request,
    drill_reminder,
    health_table,
    help_message,
    home_view,
    notification,
    reason_modal,
    run_card,
    start_modal,
    thread_message,
)
from tests.unit.slack.blockkit import check_blocks
from tests.unit.slack.definitions import definition
from tests.unit.slack.runs import (
    INITIATOR,
    NOW,
    at_approval,
    at_confirmation,
    dumped,
    finish_current,
    go,
    promote,
    texts,
)
from workflows.drills import DrillDue, DrillKind
from workflows.machine import Notify
from workflows.model import (
    Abort,
    Approve,
    Confirm,
    OutcomeFailed,
    OutcomeReschedule,
    Pause,
    RunStatus,
)

RM = frozenset({"release-managers"})

# Shaped like the shipped rollback: an environment to choose, the fixed build, two defaults.
ROLLBACK_FORM = """
name: rollback
title: Roll back
category: recovery
parameters:
  - {name: environment, choices: [mainnet, testnet]}
  - {name: version, pattern: 'v\\d+\\.\\d+\\.\\d+', help: the fixed build to deploy}
  - {name: disabled_flags, required: false, default: none}
  - {name: wave_window, default: 10m}
steps:
  - {id: ok, title: Operators agree, kind: manual}
"""


def actions_of(blocks: list[dict]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_card_shows_title_params_environment_initiator_and_checklist() -> None:
    """A fresh run's card has its title, parameters, environment, initiator and every step."""
    card = run_card(promote())
    check_blocks(card.blocks)
    assert card.blocks[0] == {
        "type": "header",
        "block_id": "card.header",
        "text": {"type": "plain_text", "text": "Promote a release: v1.4.2 abc1234 testnet",
                 "emoji": True},
    }
    body = dumped(card.blocks)
    assert f"<@{INITIATOR}>" in body
    for value in ("`v1.4.2`", "`abc1234`", "`testnet`"):
        assert value in body
    steps = next(b for b in card.blocks if b.get("block_id") == BlockId.CARD_STEPS)
    lines = steps["text"]["text"].splitlines()
    assert len(lines) == 5
    assert lines[0].startswith(":arrow_forward: *No promotion freeze*")  # the cursor, in bold
    assert lines[1] == ":white_circle: Two release managers approve"
    assert card.text == "Promote a release: v1.4.2 abc1234 testnet: running"


def test_waiting_approval_card_offers_approve_and_reject_with_the_plan() -> None:
    """At an approval, the card shows quorum, groups, plan hash, and Approve/Reject/Pause/Abort."""
    run = at_approval()
    card = run_card(run)
    check_blocks(card.blocks)
    assert actions_of(card.blocks) == ["run.approve", "run.reject", "run.pause", "run.abort"]
    current = next(b for b in card.blocks if b.get("block_id") == BlockId.CARD_CURRENT)
    assert run.plan_hash in current["text"]["text"]
    assert "2 distinct people" in current["text"]["text"]
    approve = next(e for b in card.blocks if b["type"] == "actions" for e in b["elements"]
                   if e["action_id"] == ActionId.APPROVE)
    value = ButtonValue.parse(approve["value"])
    assert (value.r, value.s, value.h, value.n, value.v) == (
        run.id, "approve", run.plan_hash, 1, run.version)
    assert "confirm" in approve


def test_one_approval_shows_who_and_how_many_more() -> None:
    """After one of two approvals, the checklist names the approver and one more needed."""
    run = at_approval()
    run = go(run, Approve(actor="URM0002", step_id="approve", plan_hash=run.plan_hash,
                          groups=["release-managers"]))
    line = run_card(run).blocks[2]["text"]["text"].splitlines()[1]
    assert "approved by <@URM0002>" in line
    assert "waiting for 1 more approval" in line


def test_viewer_only_gets_buttons_they_may_use() -> None:
    """Per viewer: the initiator sees no Approve; another release manager does; an outsider
    sees nothing but what the initiator rule allows."""
    run = at_approval()
    other = Viewer(user="URM0002", groups=RM)
    initiator = Viewer(user=INITIATOR, groups=RM)
    outsider = Viewer(user="UX", groups=frozenset())
    assert actions_of(run_card(run, viewer=other).blocks) == ["run.approve", "run.reject"]
    assert actions_of(run_card(run, viewer=initiator).blocks) == [
        "run.reject", "run.pause", "run.abort"]
    assert actions_of(run_card(run, viewer=outsider).blocks) == []


def test_confirmation_card_offers_confirm_and_skip() -> None:
    """A manual step waiting offers Confirm (and Skip) and names who must confirm."""
    run = at_approval()
    for user in ("URM0002", "URM0003"):
        run = go(run, Approve(actor=user, step_id="approve", plan_hash=run.plan_hash,
                              groups=["release-managers"]))
    run = at_confirmation(run)
    card = run_card(run)
    check_blocks(card.blocks)
    assert actions_of(card.blocks) == ["run.confirm", "run.skip", "run.pause", "run.abort"]
    assert "SBOM checksum" in dumped(card.blocks)


def test_timer_step_shows_a_progress_bar() -> None:
    """A waiting timer or monitor window renders a progress bar with its text."""
    run = at_approval()
    for user in ("URM0002", "URM0003"):
        run = go(run, Approve(actor=user, step_id="approve", plan_hash=run.plan_hash,
                              groups=["release-managers"]))
    run = at_confirmation(run)
    run = go(run, Confirm(actor="UOP0001", step_id="sbom", inputs={"checksum": "a" * 64},
                          groups=["operators"]))
    run = finish_current(run, OutcomeReschedule(at=NOW + timedelta(seconds=30), progress=0.4,
                                                progress_text="until 12:00:30 UTC"))
    line = run_card(run).blocks[2]["text"]["text"].splitlines()[3]
    assert line.startswith(":hourglass: *Short soak*")
    assert "▰▰▰▰▱▱▱▱▱▱ 40%" in line
    assert "until 12:00:30 UTC" in line
    assert "confirmed by <@UOP0001>" in run_card(run).blocks[2]["text"]["text"]


def test_blocked_card_offers_retry_skip_and_abort_with_the_reason() -> None:
    """A blocked step shows its error and offers Retry, Skip, Pause and Abort."""
    run = finish_current(promote(), OutcomeFailed(error="frozen <!channel>"))
    assert run.status is RunStatus.BLOCKED
    card = run_card(run)
    check_blocks(card.blocks)
    assert actions_of(card.blocks) == ["run.retry", "run.skip", "run.pause", "run.abort"]
    body = dumped(card.blocks)
    assert "<!channel>" not in body
    assert "&lt;!channel&gt;" in body


def test_paused_card_offers_resume_and_abort() -> None:
    """A paused run says so and offers Resume and Abort only."""
    run = go(at_approval(), Pause(actor=INITIATOR, reason="lunch"))
    card = run_card(run)
    assert actions_of(card.blocks) == ["run.resume", "run.abort"]
    assert "*Paused.*" in dumped(card.blocks)


def test_finished_run_with_an_offer_has_the_start_button_only() -> None:
    """An ended run with an offered follow-up (rollback) shows only that button."""
    run = go(at_approval(), Abort(actor="UOP0001", reason="bad <@U999> *build*"))
    run = run.model_copy(update={"offer": "rollback"})
    card = run_card(run, known_workflows={"rollback"}, people={"UOP0001"})
    check_blocks(card.blocks)
    assert card_actions(run, {"rollback"}) == [ActionId.START_WORKFLOW]
    button = next(e for b in card.blocks if b["type"] == "actions" for e in b["elements"])
    assert ButtonValue.parse(button["value"]).w == "rollback"
    assert button["text"]["text"] == "Start rollback…"  # it opens a form, the form confirms
    assert "confirm" not in button
    body = dumped(card.blocks)
    assert "aborted by <@UOP0001>" in body
    assert "<@U999>" not in body
    assert card_actions(run, set()) == []


HOSTILE = {
    "version": "<!channel>",
    "git_sha": "<@U123> <https://evil.example|login>",
    "environment": "*bold* _it_ <!here>",
}


def test_every_user_supplied_value_is_escaped_everywhere() -> None:
    """No raw <!channel>, <!here>, <@U123> or link from parameters survives in any surface."""
    run = at_approval().model_copy(update={"params": HOSTILE, "title": "T <!channel>"})
    surfaces = [
        run_card(run).blocks,
        (approval_request(run, "approve", {"URM0002"}) or run_card(run)).blocks,
        reason_modal(CallbackId.REJECT, run, ModalMetadata(b=ButtonValue(r=run.id)))["blocks"],
        home_view(Viewer(user="URM0002", groups=RM), [HomeItem(run, run.plan[1], "approve")],
                  [run], [run], [], NOW)["blocks"],
    ]
    for blocks in surfaces:
        for value in texts(blocks):
            for bad in ("<!channel>", "<!here>", "<@U123>", "<https://evil.example"):
                assert bad not in value, (bad, value)


def test_approval_request_mentions_approvers_and_carries_the_plan() -> None:
    """The thread request mentions the approvers, states the rule and has both buttons."""
    run = at_approval()
    message = approval_request(run, "approve", {"URM0002", "URM0003"})
    assert message is not None
    check_blocks(message.blocks)
    body = message.blocks[0]["text"]["text"]
    assert "<@URM0002> <@URM0003>" in body
    assert run.plan_hash in body
    assert "may not approve" in body
    assert actions_of(message.blocks) == ["run.approve", "run.reject"]


def test_request_is_not_rendered_once_the_step_moved_on() -> None:
    """A request for a step no longer waiting renders nothing (falls back to a notification)."""
    run = promote()
    assert approval_request(run, "approve", set()) is None
    notify = Notify(kind="approval_requested", step_id="approve", text="Approval needed: x")
    message = thread_message(run, notify, {"URM0002"})
    assert actions_of(message.blocks) == []
    assert "<@URM0002>" in dumped(message.blocks)


def test_confirmation_request_has_confirm_and_skip() -> None:
    """The confirmation request names the inputs and offers Confirm and Skip."""
    run = at_approval()
    for user in ("URM0002", "URM0003"):
        run = go(run, Approve(actor=user, step_id="approve", plan_hash=run.plan_hash,
                              groups=["release-managers"]))
    run = at_confirmation(run)
    message = confirmation_request(run, "sbom", {"UOP0001"})
    assert message is not None
    check_blocks(message.blocks)
    assert actions_of(message.blocks) == ["run.confirm", "run.skip"]
    assert "SBOM checksum" in message.blocks[0]["text"]["text"]


def test_notification_neutralises_typed_mentions_but_keeps_the_actors() -> None:
    """In a notification, the actor's mention stays; what they typed pings nobody."""
    run = promote()
    notify = Notify(kind="run_paused", text="paused by <@UOP0001>: <!here> see <@U999>")
    message = notification(run, notify, {"URM0002"}, people={"UOP0001"})
    body = message.blocks[0]["text"]["text"]
    assert body.startswith(":double_vertical_bar: paused by <@UOP0001>: ")
    assert "<!here>" not in body
    assert "<@U999>" not in body
    assert body.endswith("\n<@URM0002>")


def test_reason_modal_requires_a_reason_and_keeps_the_metadata() -> None:
    """Each reason modal has one required multiline input and round-trips its metadata."""
    run = at_approval()
    meta = ModalMetadata(b=ButtonValue(r=run.id, s="approve", v=3), c="C0OPS")
    for callback in (CallbackId.REJECT, CallbackId.SKIP, CallbackId.ABORT):
        view = reason_modal(callback, run, meta, run.plan[1])
        check_blocks(view["blocks"])
        assert view["callback_id"] == callback
        assert ModalMetadata.parse(view["private_metadata"]) == meta
        inputs = [b for b in view["blocks"] if b["type"] == "input"]
        assert len(inputs) == 1
        assert inputs[0]["block_id"] == BlockId.REASON
        assert inputs[0]["element"]["min_length"] == 1
        assert inputs[0]["element"]["max_length"] == 1000
        assert len(view["title"]["text"]) <= 24


def test_confirm_modal_has_one_input_per_required_value() -> None:
    """The confirm modal asks for each declared input, with its pattern as a hint."""
    run = promote()
    step = run.plan[2]
    view = confirm_modal(run, step, ModalMetadata(b=ButtonValue(r=run.id, s=step.id)))
    check_blocks(view["blocks"])
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == ["modal.input:checksum"]
    assert inputs[0]["optional"] is False
    assert "[0-9a-f]{64}" in inputs[0]["hint"]["text"]


def test_start_modal_asks_for_each_parameter_prefilled_and_with_choices_as_a_select() -> None:
    """The start form has one input per parameter: choices as a select with the prefilled
    option, text prefilled (or the default), no value where nothing is known; only parameters
    without a default are required; each parameter's help is its hint."""
    defn = definition(ROLLBACK_FORM)
    meta = ModalMetadata(b=ButtonValue(r="r20250301-abc123", w="rollback"), c="C0OPS")
    view = start_modal(defn, {"environment": "testnet", "wave_window": "3m"}, meta,
                       "Offered by *Promote* `r20250301-abc123`.")
    check_blocks(view["blocks"])
    assert view["callback_id"] == CallbackId.START
    assert view["title"]["text"] == "Start rollback"
    assert ModalMetadata.parse(view["private_metadata"]) == meta
    assert "Offered by *Promote*" in view["blocks"][0]["text"]["text"]
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert list(inputs) == ["modal.param:environment", "modal.param:version",
                            "modal.param:disabled_flags", "modal.param:wave_window"]
    environment = inputs["modal.param:environment"]["element"]
    assert environment["type"] == "static_select"
    assert [o["value"] for o in environment["options"]] == ["mainnet", "testnet"]
    assert environment["initial_option"]["value"] == "testnet"
    version = inputs["modal.param:version"]
    assert "initial_value" not in version["element"]
    assert version["hint"]["text"] == "the fixed build to deploy"
    assert inputs["modal.param:disabled_flags"]["element"]["initial_value"] == "none"
    assert inputs["modal.param:wave_window"]["element"]["initial_value"] == "3m"
    assert {k: b["optional"] for k, b in inputs.items()} == {
        "modal.param:environment": False, "modal.param:version": False,
        "modal.param:disabled_flags": True, "modal.param:wave_window": True,
    }


def test_start_modal_leaves_a_select_empty_when_the_prefill_is_no_option() -> None:
    """Slack refuses a select whose initial option is not one of its options."""
    view = start_modal(definition(ROLLBACK_FORM), {"environment": "regtest"},
                       ModalMetadata(b=ButtonValue(w="rollback")))
    [environment] = [b for b in view["blocks"] if b.get("block_id") == "modal.param:environment"]
    assert "initial_option" not in environment["element"]


def test_help_message_lists_forms_in_code() -> None:
    """Help shows each form as code with its description."""
    message = help_message("Commands", [("promote <version>", "Promote *it*")], "footer")
    check_blocks(message.blocks)
    assert "`/parthenon promote &lt;version&gt;`" in message.blocks[0]["text"]["text"]
    assert "*it*" not in message.blocks[0]["text"]["text"]


def test_health_table_has_a_row_per_node_and_escapes_node_answers() -> None:
    """The health table lists each node's figures and escapes what nodes answered."""
    rows = [
        NodeRow("test-1", "ok", 120, "ab" * 32, 4, False, "1.4.2"),
        NodeRow("test-2", error="unreachable: <!here>"),
        NodeRow("test-3", "ok", 119, "cd" * 32, 0, True, "<!channel>"),
    ]
    message = health_table("testnet", rows)
    check_blocks(message.blocks)
    body = dumped(message.blocks)
    assert "2 of 3 nodes ok" in body
    assert "test-1            ok       120      abababababab…" in body
    assert "<!here>" not in body
    assert "<!channel>" not in body


def test_home_shows_pending_active_recent_and_due_drills() -> None:
    """App Home lists what waits for the viewer with buttons, runs, and a due drill's Start."""
    run = at_approval()
    ended = go(promote(), Abort(actor=INITIATOR, reason="no"))
    drills = [
        DrillDue(DrillKind.RESTORE, "restore-drill", "Quarterly restore drill", NOW, None, None,
                 True, 0),
        DrillDue(DrillKind.KEY_ROTATION, "drill-key-rotation", "Key rotation", NOW, NOW, "r1",
                 False, 0),
    ]
    viewer = Viewer(user="URM0002", groups=RM, startable=frozenset({"restore-drill"}))
    view = home_view(viewer, [HomeItem(run, run.plan[1], "approve")], [run], [ended], drills, NOW)
    assert view["type"] == "home"
    check_blocks(view["blocks"], limit=100)
    assert "run.approve" in actions_of(view["blocks"])
    accessory = [b["accessory"] for b in view["blocks"] if "accessory" in b]
    assert [ButtonValue.parse(a["value"]).w for a in accessory] == ["restore-drill"]


def test_drill_reminder_has_a_start_button_only_when_allowed() -> None:
    """A drill reminder offers Start to the channel when the drill may be started."""
    [block] = drill_reminder("restore-drill", "Restore drill", "due <!here>", startable=True)
    assert ButtonValue.parse(block["accessory"]["value"]).w == "restore-drill"
    assert "<!here>" not in block["text"]["text"]
    [bare] = drill_reminder("restore-drill", "Restore drill", "due", startable=False)
    assert "accessory" not in bare


@pytest.mark.parametrize("steps", [60, 200])
def test_very_long_checklists_stay_within_block_limits(steps: int) -> None:
    """A run with many steps still renders within Slack's 50 blocks and 3000 characters."""
    run = promote()
    plan = [run.plan[0].model_copy(update={"id": f"s{i}", "title": f"Step {i} " + "x" * 80})
            for i in range(steps)]
    states = [run.steps[0].model_copy(update={"id": f"s{i}"}) for i in range(steps)]
    big = run.model_copy(update={"plan": plan, "steps": states})
    check_blocks(run_card(big).blocks)


def test_a_finished_promotion_posts_its_release_metadata() -> None:
    """The end of a promotion that recorded its release metadata carries the summary; a run
    without one, or one that did not succeed, does not."""
    run = promote()
    done = run.model_copy(update={
        "status": RunStatus.SUCCEEDED,
        "values": {"release_summary": "Release v1.4.2 (abc1234) to testnet: approved by "
                                      "<@URM0002>; config checksum none"},
    })
    end = Notify(kind="run_finished", text="all steps done")
    message = notification(done, end, set(), {"URM0002"})
    check_blocks(message.blocks)
    body = dumped(message.blocks)
    assert ":package: *Release metadata* (kept as `release:v1.4.2`)" in body
    assert "approved by <@URM0002>" in body
    assert "Release metadata" not in dumped(notification(run, end, set()).blocks)
    failed = done.model_copy(update={"status": RunStatus.FAILED})
    assert "Release metadata" not in dumped(notification(failed, end, set()).blocks)
