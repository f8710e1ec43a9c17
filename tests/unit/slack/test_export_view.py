"""The incident log as Slack messages (code blocks within Slack's limits), and the export button
on incident cards."""

from __future__ import annotations

import pytest

from bot.slack.ids import ActionId
from bot.slack.views import Viewer, card_actions, incident_log_messages, run_card, viewer_may
from tests.unit.slack.blockkit import check_blocks
from tests.unit.slack.definitions import INCIDENT_KEY, definition
from tests.unit.slack.runs import INITIATOR, INVENTORY, NOW, dumped, go, promote
from workflows.model import Abort, Run, RunStarted
from workflows.planner import plan_run


def incident() -> Run:
    run = plan_run(definition(INCIDENT_KEY), {"summary": "key leak"}, inventory=INVENTORY,
                   run_id="r20250301-inc001", initiator=INITIATOR, now=NOW, channel="C0OPS")
    return go(run, RunStarted())


def code_of(message_blocks: list[dict]) -> str:
    body = message_blocks[1]["text"]["text"]
    assert body.startswith("```\n")
    assert body.endswith("\n```")
    return body[4:-4]


def test_a_short_log_is_one_code_block() -> None:
    """A log that fits is one message: its part label and the whole text in a code block."""
    [message] = incident_log_messages("r1", "# Incident log: x\n\n- one\n- two\n")
    check_blocks(message.blocks)
    assert message.text == "Incident log of r1 (1/1)"
    assert code_of(message.blocks) == "# Incident log: x\n\n- one\n- two"


def test_a_long_log_is_split_between_lines_within_the_limit() -> None:
    """Each part stays within the limit, parts break between lines, and together they are the
    log line for line."""
    lines = [f"- 2025-03-01 12:00:{i % 60:02d} UTC: **U{i}** did thing number {i}"
             for i in range(400)]
    messages = incident_log_messages("r1", "\n".join(lines))
    assert len(messages) > 1
    for index, message in enumerate(messages, start=1):
        check_blocks(message.blocks)
        assert message.text == f"Incident log of r1 ({index}/{len(messages)})"
        assert len(message.blocks[1]["text"]["text"]) <= 3000
    assert "\n".join(code_of(m.blocks) for m in messages).splitlines() == lines


def test_text_is_escaped_and_cannot_close_the_block() -> None:
    """Mentions and links typed into the log stay text; a run of backticks is broken up."""
    [message] = incident_log_messages("r1", "cause: <!channel> & <@U123> ```rm -rf```")
    body = code_of(message.blocks)
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in body
    assert "```" not in body


@pytest.mark.parametrize("char", ["x", "&", "<"])
def test_a_line_longer_than_a_part_is_cut_never_inside_an_entity(char: str) -> None:
    """One very long line is cut into parts; an escaped character is never split."""
    messages = incident_log_messages("r1", char * 3000, limit=1000)
    bodies = [code_of(m.blocks) for m in messages]
    assert all(len(b) <= 1000 for b in bodies)
    joined = "".join(bodies).replace("&lt;", "<").replace("&amp;", "&")
    assert joined == char * 3000


def test_beyond_the_most_parts_the_log_is_cut_and_says_so() -> None:
    """A log too long for the allowed number of parts ends with a note pointing to the CLI."""
    messages = incident_log_messages("r1", "\n".join(["y" * 90] * 200), limit=500, max_parts=3)
    assert len(messages) == 3
    assert "parthenon-bot runs export r1 writes the whole log" in code_of(messages[-1].blocks)


def test_incident_cards_offer_the_export_to_group_members() -> None:
    """An incident card, active or ended, has the export button; a promotion's has not; on a
    per-viewer surface only members of a configured group see it."""
    run = incident()
    assert card_actions(run)[-1] is ActionId.EXPORT_LOG
    ended = go(run, Abort(actor=INITIATOR, reason="false alarm", groups=["operators"]))
    assert card_actions(ended) == [ActionId.EXPORT_LOG]
    assert ActionId.EXPORT_LOG not in card_actions(promote())
    assert "Export incident log" in dumped(run_card(ended).blocks)
    assert viewer_may(run, ActionId.EXPORT_LOG, Viewer("U1", groups=frozenset({"responders"})))
    assert not viewer_may(run, ActionId.EXPORT_LOG, Viewer("U2"))
    assert "Export incident log" not in dumped(run_card(ended, viewer=Viewer("U2")).blocks)
