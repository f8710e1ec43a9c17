"""Every JSON-RPC method the bot can send is one the node daemon has: listed in
docs/node-dialect.md ("Methods the bot uses") and answered by the devnet's default dialect.

The methods are read from the code (every `call(node, "<method>"` in bot/ and workflows/), the
reads the `rpc` step may call (READ_METHODS) and every `method:` of the shipped workflow
definitions, so a new one cannot slip in without the page saying the daemon has it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bot.devnet import DevnetNode
from bot.devnet._methods import METHODS
from workflows.ports import READ_METHODS

from .conftest import rpc

ROOT = Path(__file__).resolve().parents[3]
_SENT = re.compile(r'(?:\.call\(|_post,)\s*node,\s*"([a-z][a-z/]*)"')
_ROW = re.compile(r"^\| `([a-z/]+)` \|", re.MULTILINE)
_READ_PARAMS: dict[str, list[Any]] = {"getblock": [1]}


def _sent_by_code() -> set[str]:
    found: set[str] = set()
    for package in ("bot", "workflows", "handlers"):
        for path in (ROOT / package).rglob("*.py"):
            if "devnet" not in path.parts:
                found.update(_SENT.findall(path.read_text(encoding="utf-8")))
    return found


def _methods_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        method = value.get("method")
        if isinstance(method, str):
            yield method
        for item in value.values():
            yield from _methods_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _methods_in(item)


def _called_by_definitions() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "workflows" / "definitions").glob("*.yaml"):
        found.update(_methods_in(yaml.safe_load(path.read_text(encoding="utf-8"))))
    return found


def _documented() -> set[str]:
    page = (ROOT / "docs" / "node-dialect.md").read_text(encoding="utf-8")
    section = page.split("## Methods the bot uses", 1)[1].split("\n## ", 1)[0]
    return set(_ROW.findall(section))


def test_the_scan_finds_the_methods_the_bot_sends() -> None:
    """The code scan sees the calls it is meant to see (a broken regex would pass vacuously)."""
    assert {"getinfo", "getblockcount", "getblock", "getnewaddress", "sendtoaddress",
            "stop"} <= _sent_by_code()
    assert "getinfo" in _called_by_definitions()


def test_every_method_the_bot_relies_on_is_documented() -> None:
    relied_on = _sent_by_code() | set(READ_METHODS) | _called_by_definitions()
    missing = relied_on - _documented()
    assert not missing, f"docs/node-dialect.md does not list {sorted(missing)}"


def test_the_page_lists_only_methods_the_daemon_dialect_has() -> None:
    assert _documented() <= set(METHODS) | {"stop"}


async def test_the_default_dialect_answers_every_read_method(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    for method in sorted(READ_METHODS):
        reply = await rpc(session, node, method, _READ_PARAMS.get(method, []))
        assert reply.status == 200
        assert "result" in reply.json, (method, reply.json)
