"""Help messages. The forms themselves come from handlers/command_help.py: the forms the grammar
parses, the workflow commands' taken from the workflow definitions, so help and parser never
disagree.

A description keeps its lines (a workflow's description, then one line per parameter); a line
longer than ``WRAP`` is wrapped between words, and a message that outgrows one section continues
in the next between lines: nothing is cut, least of all in the middle of a word."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from bot.slack.escape import code, inline
from bot.slack.ids import SLASH_COMMAND
from bot.slack.views._blocks import Block, Message, chunk_lines, context, section

__all__ = ["WRAP", "HelpEntry", "help_message"]

HelpEntry = tuple[str, str]  # (form without the slash command, what it does)

WRAP = 200  # characters per help line; longer lines wrap between words


def _lines(what: str) -> list[str]:
    """``what`` as indented lines: its own lines kept, long ones wrapped between words."""
    out: list[str] = []
    for line in what.splitlines() or [""]:
        pieces = textwrap.wrap(line, WRAP, break_long_words=False, break_on_hyphens=False)
        # A single word longer than a section could hold (never in a definition) is the only
        # thing ever shortened.
        out += [f"    {inline(piece, 2500)}" for piece in pieces or [""]]
    return out


def help_message(title: str, entries: Sequence[HelpEntry], footer: str | None = None) -> Message:
    lines = [f"*{inline(title, 200)}*"]
    for form, what in entries:
        lines.append(code(f"{SLASH_COMMAND} {form}", 280))
        lines += _lines(what)
    blocks: list[Block] = [section(chunk) for chunk in chunk_lines(lines)]
    if footer:
        blocks.append(context(inline(footer, 500)))
    return Message(text=f"{inline(title, 200)}", blocks=blocks[:50])
