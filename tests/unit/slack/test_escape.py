"""Escaping: what people typed shows as typed and pings, links and formats nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.escape import code, escape, inline, mention, plain, text, trusted_mentions

HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123ABC>",
    "<#C123|general>",
    "<https://evil.example|click me>",
    "<!subteam^S123>",
    "<!date^1^{date}|x>",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("render", [text, inline, plain, code])
def test_control_sequences_are_never_passed_through(value: str, render: object) -> None:
    """No renderer lets a typed <...> sequence through as a mention, link or broadcast."""
    assert callable(render)
    out = render(value)
    assert "<" not in out
    assert ">" not in out
    assert "&lt;" in out


def test_escape_replaces_exactly_the_three_control_characters() -> None:
    """&, < and > become entities; nothing else is entity-encoded (Slack decodes only those)."""
    assert escape("a & b <c> \"d\" 'e'") == "a &amp; b &lt;c&gt; \"d\" 'e'"


@pytest.mark.parametrize("value", ["*bold*", "_it_", "~strike~", "`code`", "```block```",
                                   "a *b* c", "x (_y_)"])
def test_mrkdwn_formatting_in_free_text_is_broken(value: str) -> None:
    """Formatting markers typed by a person do not format: each opening marker is wrapped in
    zero-width spaces; nothing else changes."""
    out = text(value)
    assert out != value
    assert out.replace("\u200b", "") == value
    for marker in "*_~`":
        for index, char in enumerate(out):
            if char == marker and (index == 0 or not out[index - 1].isalnum()):
                assert out[index - 1] == "\u200b"


def test_underscores_inside_words_are_left_alone() -> None:
    """Identifiers like git_sha or wave_window are not touched (they never format)."""
    assert text("git_sha and wave_window") == "git_sha and wave_window"


def test_bare_broadcast_words_and_quotes_are_broken() -> None:
    """@here/@channel words and a leading > quote are neutralised too."""
    assert "@here" not in text("hi @here")
    assert not text("> quoted").startswith("&gt;")


def test_code_spans_cannot_be_closed_from_inside() -> None:
    """A backtick in a value cannot end the code span early."""
    assert code("a`b").count("`") == 2


def test_mention_only_for_real_user_ids() -> None:
    """A real user id becomes a mention; anything else stays text."""
    assert mention("U123ABC") == "<@U123ABC>"
    assert "<" not in mention("<!channel>")
    assert "<" not in mention("U1>x")


def test_trusted_mentions_restore_only_known_people() -> None:
    """In bot-composed text, known people are mentioned; a mention typed in a reason is not."""
    out = trusted_mentions("aborted by <@UOP1>: ask <@U999> <!channel>", {"UOP1"})
    assert "<@UOP1>" in out
    assert "<@U999>" not in out
    assert "&lt;@U999&gt;" in out
    assert "<!channel>" not in out


@given(st.text(max_size=200))
def test_no_raw_angle_brackets_ever(value: str) -> None:
    """Whatever the input, escaped text contains no raw < or >."""
    for render in (text, inline, plain, code):
        out = render(value)
        assert "<" not in out
        assert ">" not in out
