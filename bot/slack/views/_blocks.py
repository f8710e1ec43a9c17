"""Block Kit building blocks as plain dicts, with Slack's size limits applied in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.slack.escape import plain, truncate
from bot.slack.ids import ActionId, BlockId

Block = dict[str, Any]

SECTION_LIMIT = 3000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
MAX_BLOCKS = 50


@dataclass(frozen=True)
class Message:
    """A message body: ``text`` is the notification/fallback line, ``blocks`` the layout."""

    text: str
    blocks: list[Block] = field(default_factory=list)


def notice(text: str) -> Message:
    """A one-section message; ``text`` must already be safe mrkdwn."""
    return Message(text=text, blocks=[section(text)])


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate(text or " ", SECTION_LIMIT), "verbatim": True}


def plain_text(text: str, limit: int = SECTION_LIMIT) -> dict[str, Any]:
    """``text`` must already be safe (built with ``escape.plain``)."""
    return {"type": "plain_text", "text": truncate(text or " ", limit), "emoji": True}


def header(title: str, block_id: BlockId | None = None) -> Block:
    block: Block = {"type": "header", "text": plain_text(plain(title, HEADER_LIMIT), HEADER_LIMIT)}
    if block_id is not None:
        block["block_id"] = str(block_id)
    return block


def section(text: str, block_id: str | None = None, fields: list[str] | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if fields:
        block["fields"] = [mrkdwn(f) for f in fields[:10]]
    if block_id is not None:
        block["block_id"] = block_id
    return block


def context(*texts: str, block_id: BlockId | None = None) -> Block:
    block: Block = {"type": "context", "elements": [mrkdwn(t) for t in texts[:10]]}
    if block_id is not None:
        block["block_id"] = str(block_id)
    return block


def divider() -> Block:
    return {"type": "divider"}


def button(
    action: ActionId,
    label: str,
    value: str,
    *,
    style: str | None = None,
    confirm: tuple[str, str, str] | None = None,
) -> Block:
    """``confirm`` = (title, text, yes): Slack asks "are you sure" before sending the click."""
    element: Block = {
        "type": "button",
        "action_id": str(action),
        "text": plain_text(plain(label, BUTTON_TEXT_LIMIT), BUTTON_TEXT_LIMIT),
        "value": value,
    }
    if style is not None:
        element["style"] = style
    if confirm is not None:
        title, body, yes = confirm
        element["confirm"] = {
            "title": plain_text(plain(title, 100), 100),
            "text": mrkdwn(body),
            "confirm": plain_text(plain(yes, 30), 30),
            "deny": plain_text("Cancel", 30),
        }
    return element


def actions(block_id: str, elements: list[Block]) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": elements[:25]}


def date(moment: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    """Slack shows the time in each reader's own time zone; the fallback is UTC."""
    epoch = int(moment.timestamp())
    return f"<!date^{epoch}^{fmt}|{moment:%Y-%m-%d %H:%M} UTC>"


def chunk_lines(lines: list[str], limit: int = SECTION_LIMIT - 100) -> list[str]:
    """Join lines into texts each within ``limit`` (a long checklist spans several sections)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = truncate(line, limit)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def progress_bar(fraction: float, width: int = 10) -> str:
    done = round(max(0.0, min(fraction, 1.0)) * width)
    return "▰" * done + "▱" * (width - done) + f" {round(fraction * 100)}%"
