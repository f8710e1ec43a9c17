"""Slack's Block Kit limits, checked on what the renderers return (the real API refuses more)."""

from __future__ import annotations

from typing import Any

KNOWN = {"header", "section", "context", "actions", "divider", "input"}


def check_blocks(blocks: list[dict[str, Any]], limit: int = 50) -> None:
    assert 0 < len(blocks) <= limit
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(block_ids) == len(set(block_ids)), "block ids must be unique in a message"
    for block in blocks:
        kind = block["type"]
        assert kind in KNOWN, kind
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < len(block["text"]["text"]) <= 150
        if kind == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
            for f in block.get("fields", []):
                assert 0 < len(f["text"]) <= 2000
            if "accessory" in block:
                _check_button(block["accessory"])
        if kind == "context":
            assert 0 < len(block["elements"]) <= 10
        if kind == "actions":
            elements = block["elements"]
            assert 0 < len(elements) <= 25
            ids = [e["action_id"] for e in elements]
            assert len(ids) == len(set(ids)), "action ids must be unique in a block"
            for element in elements:
                _check_button(element)
        if kind == "input":
            assert len(block["label"]["text"]) <= 2000
            assert block["element"]["action_id"]
            _check_input(block["element"])


def _check_button(element: dict[str, Any]) -> None:
    assert element["type"] == "button"
    assert 0 < len(element["text"]["text"]) <= 75
    assert len(element["value"]) <= 2000
    assert len(element["action_id"]) <= 255


def _check_input(element: dict[str, Any]) -> None:
    if element["type"] == "static_select":
        options = element["options"]
        assert 0 < len(options) <= 100
        for option in options:
            assert 0 < len(option["text"]["text"]) <= 75
            assert 0 < len(option["value"]) <= 150
        if "initial_option" in element:
            assert element["initial_option"] in options, "the initial option must be an option"
    else:
        assert element["type"] == "plain_text_input"
        assert len(element.get("initial_value", "")) <= element.get("max_length", 3000) <= 3000
