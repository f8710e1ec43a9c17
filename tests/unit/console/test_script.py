"""Reading demo scripts: every directive of docs/demo.md, and each mistake named by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.console.errors import ScriptError
from bot.console.script import parse_script

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.demo"))


def test_every_directive_is_read() -> None:
    """Commands, people, presses, forms, faults and the three kinds of check."""
    steps = parse_script("""
# a comment, then a blank line

/parthenon promote v1.4.2 abc1234 mainnet
as sam
/as ben
press Approve
press 3
press "Start rollback"
submit host=test-3 reason="two words" empty=
cancel
/devnet test-1 validation_errors on
wait 20s for "Approval needed"
wait up to 1.5m for card "Wave 1"
wait 500ms for status "succeeded"
expect "Started"
expect no "refused"
expect card not "Abort"
expect status "blocked"
sleep 2s
echo narration for the transcript
show
buttons
home
""")
    assert [s.kind for s in steps] == [
        "slash", "as", "as", "press", "press", "press", "submit", "cancel", "devnet",
        "wait", "wait", "wait", "expect", "expect", "expect", "expect", "sleep", "echo",
        "show", "buttons", "home",
    ]
    assert steps[0].line == 4
    assert steps[0].arg == "promote v1.4.2 abc1234 mainnet"
    assert steps[5].arg == "Start rollback"
    assert steps[6].values == {"host": "test-3", "reason": "two words", "empty": ""}
    assert (steps[9].arg, steps[9].target, steps[9].seconds) == ("Approval needed", "", 20.0)
    assert (steps[10].target, steps[10].seconds) == ("card", 90.0)
    assert (steps[11].target, steps[11].seconds) == ("status", 0.5)
    assert (steps[13].negate, steps[14].negate, steps[14].target) == (True, True, "card")
    assert steps[16].seconds == 2.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("frobnicate", "line 1: cannot read 'frobnicate'"),
        ("\n\nas nobody", "line 3: no demo user 'nobody'"),
        ("press", "line 1: press what?"),
        ("submit host", "line 1: submit takes field=value pairs, not 'host'"),
        ('submit reason="unclosed', "line 1: No closing quotation"),
        ('wait for "x"', "line 1: cannot read"),
        ('wait 5s for ""', "line 1: a check needs some text"),
        ('wait 5s for status "done"', "line 1: 'done' is not a run status"),
        ('wait 20m for "x"', "line 1: 1200s is longer than the 600s limit"),
        ('expect maybe "x"', "line 1: cannot read"),
    ],
)
def test_mistakes_are_refused_with_their_line(text: str, message: str) -> None:
    """A wrong line stops the script before anything starts, saying which line and why."""
    with pytest.raises(ScriptError) as caught:
        parse_script(text)
    assert message in str(caught.value)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_shipped_examples_read(path: Path) -> None:
    """Every example parses, acts, and checks something."""
    steps = parse_script(path.read_text(encoding="utf-8"))
    kinds = {s.kind for s in steps}
    assert "slash" in kinds
    assert {"wait", "expect"} <= kinds
