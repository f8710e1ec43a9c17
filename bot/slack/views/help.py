"""Help messages. The forms themselves come from the grammar (handlers/grammar.py), which takes
the workflow commands' forms from the workflow definitions, so help and parser never disagree."""

from __future__ import annotations

from collections.abc import Sequence

from bot.slack.escape import code, inline
from bot.slack.ids import SLASH_COMMAND
from bot.slack.views._blocks import Block, Message, chunk_lines, context, section

__all__ = ["HelpEntry", "help_message"]

HelpEntry = tuple[str, str]  # (form without the slash command, what it does)


def help_message(title: str, entries: Sequence[HelpEntry], footer: str | None = None) -> Message:
    lines = [f"*{inline(title, 200)}*"]
    for form, what in entries:
        lines.append(f"{code(f'{SLASH_COMMAND} {form}', 280)}\n    {inline(what, 600)}")
    blocks: list[Block] = [section(chunk) for chunk in chunk_lines(lines)]
    if footer:
        blocks.append(context(inline(footer, 500)))
    return Message(text=f"{inline(title, 200)}", blocks=blocks[:50])
