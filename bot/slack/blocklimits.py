"""Slack's published Block Kit limits, checked with slack_sdk's own block and view models (the
Slack stand-in refuses what breaks them with ``invalid_blocks``, as Slack does; the tests check
every renderer with them).

``slack_sdk.models`` parses each block and validates it as it serialises (``to_dict`` raises
``SlackObjectFormationError`` on an over-limit field: section text 3,000, header 150, button text
75 and value 2,000, block ids 255, context elements 10, input labels 2,000, view titles 24, view
blocks 100, private_metadata 3,000, ...). A few published limits its validators do not check
are added here: section fields (10, each 2,000), context texts (3,000), options (text 75, value
150, at most 100), text input values (3,000), unique block ids in a surface, unique action ids
in a block, the message text (40,000) and the block count per surface (a message 50, a modal or
the Home tab 100).
"""

from __future__ import annotations

from typing import Any, Literal

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

__all__ = ["MAX_BLOCKS", "SlackRefuses", "check_blocks", "check_message", "check_view"]

Surface = Literal["message", "modal", "home"]
MAX_BLOCKS: dict[str, int] = {"message": 50, "modal": 100, "home": 100}
MESSAGE_TEXT = 40_000


class SlackRefuses(ValueError):
    """What Slack would answer with ``invalid_blocks`` (or ``msg_too_long``)."""


def check_message(text: str, blocks: list[dict[str, Any]]) -> None:
    if not text or len(text) > MESSAGE_TEXT:
        raise SlackRefuses(f"message text of {len(text)} characters")
    check_blocks(blocks, "message")


def check_view(view: dict[str, Any]) -> None:
    surface: Surface = "home" if view.get("type") == "home" else "modal"
    check_blocks(view.get("blocks", []), surface)
    try:
        View(**view).to_dict()
    except Exception as exc:  # SlackObjectFormationError, or a field the model cannot take
        raise SlackRefuses(f"{surface} view: {exc}") from exc


def check_blocks(blocks: list[dict[str, Any]], surface: Surface = "message") -> None:
    limit = MAX_BLOCKS[surface]
    if not 0 < len(blocks) <= limit:
        raise SlackRefuses(f"{len(blocks)} blocks in a {surface} (at most {limit})")
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        raise SlackRefuses(f"block ids repeat in a {surface}: {sorted(block_ids)}")
    for index, raw in enumerate(blocks):
        parsed = Block.parse(raw)
        if parsed is None:
            raise SlackRefuses(f"block {index}: unknown type {raw.get('type')!r}")
        try:
            parsed.to_dict()
        except Exception as exc:  # SlackObjectFormationError: the published limit, by name
            raise SlackRefuses(f"block {index} ({raw.get('type')}): {exc}") from exc
        _published_extras(index, raw)


def _published_extras(index: int, block: dict[str, Any]) -> None:
    where = f"block {index} ({block.get('type')})"
    kind = block.get("type")
    if kind == "section":
        fields = block.get("fields", [])
        _at_most(f"{where} fields", len(fields), 10)
        for item in fields:
            _at_most(f"{where} field text", len(item["text"]), 2000)
        if not block.get("text") and not fields:
            raise SlackRefuses(f"{where}: neither text nor fields")
    if kind == "context":
        for element in block.get("elements", []):
            if element.get("type") in ("mrkdwn", "plain_text"):
                _at_most(f"{where} text", len(element["text"]), 3000)
                if not element["text"]:
                    raise SlackRefuses(f"{where}: empty text")
    if kind == "actions":
        ids = [e.get("action_id") for e in block.get("elements", [])]
        if len(ids) != len(set(ids)):
            raise SlackRefuses(f"{where}: action ids repeat: {ids}")
    if kind == "input":
        element = block.get("element", {})
        options = element.get("options", [])
        _at_most(f"{where} options", len(options), 100)
        for option in options:
            _at_most(f"{where} option text", len(option["text"]["text"]), 75)
            _at_most(f"{where} option value", len(option["value"]), 150)
        if element.get("type") == "plain_text_input":
            _at_most(f"{where} initial value", len(element.get("initial_value", "")), 3000)
            _at_most(f"{where} max_length", int(element.get("max_length", 0)), 3000)


def _at_most(what: str, value: int, limit: int) -> None:
    if value > limit:
        raise SlackRefuses(f"{what}: {value}, at most {limit}")
