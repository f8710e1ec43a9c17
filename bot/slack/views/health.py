"""The health table of an environment's nodes (from /health and RPC getinfo + the tip)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.slack.escape import code, escape, inline
from bot.slack.views._blocks import Block, Message, chunk_lines, context, section

__all__ = ["NodeRow", "health_table"]


@dataclass(frozen=True)
class NodeRow:
    node: str
    status: str | None = None
    height: int | None = None
    tip_hash: str | None = None
    peers: int | None = None
    syncing: bool | None = None
    version: str | None = None
    error: str | None = None


def _cell(value: object, width: int) -> str:
    text = "-" if value is None else str(value)
    text = text.replace("`", "'").replace("\n", " ")
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.ljust(width)


def health_table(environment: str, rows: Sequence[NodeRow]) -> Message:
    """A monospace table, one line per node; errors are listed under it."""
    header = (
        _cell("node", 18) + _cell("status", 9) + _cell("height", 9) + _cell("tip", 14)
        + _cell("peers", 6) + _cell("syncing", 8) + "version"
    )
    lines = [header]
    problems: list[str] = []
    for row in rows:
        tip = f"{row.tip_hash[:12]}…" if row.tip_hash else None
        syncing = None if row.syncing is None else ("yes" if row.syncing else "no")
        lines.append(
            _cell(row.node, 18) + _cell(row.status, 9) + _cell(row.height, 9) + _cell(tip, 14)
            + _cell(row.peers, 6) + _cell(syncing, 8) + _cell(row.version, 16).rstrip()
        )
        if row.error:
            problems.append(f":warning: {code(row.node, 60)}: {inline(row.error, 300)}")
    ok = sum(1 for r in rows if r.status == "ok" and not r.error)
    title = f"*Health of {code(environment, 60)}*: {ok} of {len(rows)} nodes ok"
    blocks: list[Block] = [section(title)]
    blocks += [section(f"```{chunk}```") for chunk in chunk_lines([escape(x) for x in lines], 2800)]
    blocks += [section(chunk) for chunk in chunk_lines(problems)]
    blocks.append(context("From each node's /health and RPC getinfo, getblockcount, getblock."))
    return Message(text=f"Health of {inline(environment, 60)}: {ok}/{len(rows)} ok", blocks=blocks)
