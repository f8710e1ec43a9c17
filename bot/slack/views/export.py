"""An incident log (Markdown, from ``workflows.export``) as thread messages: one code block per
message, each within Slack's 3,000 characters of a section, split between lines.

Posted as messages rather than a file, so no scope beyond ``chat:write`` is needed. The text is
escaped (``&``, ``<``, ``>``) so nothing in it mentions or links, and a run of backticks in it
cannot close the code block early.
"""

from __future__ import annotations

import re

from bot.slack.escape import code, escape
from bot.slack.views._blocks import Message, context, section

__all__ = ["LOG_PART_LIMIT", "MAX_LOG_PARTS", "incident_log_messages"]

LOG_PART_LIMIT = 2900  # characters inside one code block (a section holds 3,000)
MAX_LOG_PARTS = 20  # beyond this the log is cut; the CLI writes the whole of it
_FENCE = "```"
_BACKTICKS = re.compile(r"`{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _safe(line: str) -> str:
    line = _CONTROL.sub("", line.replace("\r", "").replace("\t", "    "))
    return _BACKTICKS.sub(lambda m: "\u200b".join(m.group(0)), line)


def _pieces(line: str, limit: int) -> list[str]:
    """``line`` escaped, cut into pieces of at most ``limit`` characters (never inside an
    entity such as ``&amp;``)."""
    pieces: list[str] = []
    current = ""
    for char in line:
        escaped = escape(char)
        if len(current) + len(escaped) > limit:
            pieces.append(current)
            current = ""
        current += escaped
    pieces.append(current)
    return pieces


def _chunks(markdown: str, limit: int) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in markdown.splitlines():
        for piece in _pieces(_safe(line), limit):
            extra = len(piece) + (1 if current else 0)
            if current and size + extra > limit:
                chunks.append("\n".join(current))
                current, size = [], 0
                extra = len(piece)
            current.append(piece)
            size += extra
    if current:
        chunks.append("\n".join(current))
    return chunks or [""]


def incident_log_messages(
    run_id: str, markdown: str, *, limit: int = LOG_PART_LIMIT, max_parts: int = MAX_LOG_PARTS
) -> list[Message]:
    """The messages to post, in order; each says which part of how many it is."""
    chunks = _chunks(markdown, limit)
    if len(chunks) > max_parts:
        left = len(chunks) - max_parts + 1
        note = (f"… {left} more part(s) not posted. "
                f"parthenon-bot runs export {run_id} writes the whole log.")
        chunks = [*chunks[: max_parts - 1], note]
    total = len(chunks)
    messages = []
    for index, chunk in enumerate(chunks, start=1):
        label = f"Incident log of {run_id} ({index}/{total})"
        blocks = [
            context(f":scroll: Incident log of {code(run_id, 40)} · part {index} of {total}"),
            section(f"{_FENCE}\n{chunk}\n{_FENCE}"),
        ]
        messages.append(Message(text=label, blocks=blocks))
    return messages
