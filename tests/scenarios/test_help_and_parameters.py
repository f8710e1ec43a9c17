"""`/parthenon <command> help` keeps every word and every line of a workflow's description and
parameters; a `name=value` whose name the workflow does not have is named as unknown (signed
commands to the served bot, with the shipped workflows)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.runtime import DEFINITIONS_DIR
from bot.slack.views import help_message
from tests.scenarios.harness import Harness
from tests.scenarios.shipped import running_shipped
from workflows.definition import load_definitions

SHIPPED = load_definitions(DEFINITIONS_DIR)


@pytest.fixture
async def shipped(redis_url: str) -> AsyncIterator[Harness]:
    async with running_shipped(redis_url) as h:
        yield h


def shown(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(str(b.get("text", {}).get("text", "")) for b in blocks
                     if b.get("type") == "section")


def words(text: str) -> list[str]:
    return [w for w in re.split(r"\s+", text) if w]


@pytest.mark.parametrize("name", ["promote", "rollback", "maintenance"])
async def test_a_commands_help_keeps_every_word_and_line(shipped: Harness, name: str) -> None:
    """Every word of the description is there whole, each parameter on a line of its own, and
    nothing is cut (no '…')."""
    reply = await shipped.command("UOUT001", f"{name} help")
    body = reply.json
    text = shown(body["blocks"])
    assert "…" not in text
    description = SHIPPED[name].description or ""
    assert description
    flat = " ".join(words(text))
    for word in words(description.replace("&", "&amp;").replace("<", "&lt;")
                      .replace(">", "&gt;")):
        assert word in flat, word
    lines = text.splitlines()
    for param in SHIPPED[name].parameters:
        assert any(line.strip().startswith(f"{param.name}:") for line in lines), param.name
    assert all(len(b["text"]["text"]) <= 3000 for b in body["blocks"] if b["type"] == "section")


def test_a_very_long_description_wraps_between_words_across_sections() -> None:
    """A description of 40 long lines of long words: every word whole, no section over Slack's
    3,000 characters, nothing shortened."""
    vocabulary = ["supercalifragilistic", "chainstate-rebuild", "v1.4.2-rc.1", "§6", "<canary>"]
    lines = [" ".join(vocabulary[(i + j) % 5] for j in range(60)) for i in range(40)]
    message = help_message("/parthenon long", [("long <x>", "\n".join(lines))])
    sections = [b for b in message.blocks if b["type"] == "section"]
    assert len(sections) > 1
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)
    text = shown(message.blocks)
    assert "…" not in text
    got = [w for w in words(text) if w in {"supercalifragilistic", "chainstate-rebuild",
                                           "v1.4.2-rc.1", "§6", "&lt;canary&gt;"}]
    assert len(got) == 40 * 60
    assert max(len(line) for line in text.splitlines()) <= 300  # 200, plus escaping


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("promote v1.4.2 3f9c2ab testnet canary_windw=3h", "canary_windw"),
        ("promote v1.4.2 3f9c2ab canary=test-1 testnet", "canary"),
        ("rollback testnet v1.4.3 reason=forked", "reason"),
    ],
)
async def test_an_unknown_parameter_is_named_as_unknown(
    shipped: Harness, text: str, unknown: str
) -> None:
    reply = await shipped.command("URM0001", text)
    answer = reply.json["text"]
    assert f"unknown parameter '{unknown}'" in answer
    assert "Usage" in answer
    assert await shipped.runtime.service.active_runs() == []


async def test_a_name_value_inside_free_text_is_text(shipped: Harness) -> None:
    """In a free-text parameter (an incident's summary) `a=b` is words, not a parameter."""
    reply = await shipped.command("UOP0001", "incident release testnet sev3 node 3 says x=y")
    run = await shipped.run(await shipped.started_run(reply))
    assert run.params["summary"] == "node 3 says x=y"
