"""The health table of an environment's nodes: one row per node, its state and figures, and
under it why each node that is not ok is not (the reasons the health gates give)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.slack.escape import code, escape, inline
from bot.slack.views._blocks import Block, Message, chunk_lines, context, section
from bot.slack.views._fit import fit_blocks

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
    reasons: tuple[str, ...] = ()  # why the node is not ok, as a gate says it

    @property
    def ok(self) -> bool:
        return self.status == "ok" and not self.error and not self.reasons


def _cell(value: object, width: int) -> str:
    text = "-" if value is None else str(value)
    text = text.replace("`", "'").replace("\n", " ")
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.ljust(width)


_SOURCE = "From each node's /health and RPC getinfo, getblockcount, getblock."


def health_table(
    environment: str, rows: Sequence[NodeRow], *, source: str = _SOURCE
) -> Message:
    """A monospace table, one line per node; errors and reasons are listed under it. The tip
    and version columns are shown only when some row has them."""
    tips = any(r.tip_hash for r in rows)
    versions = any(r.version for r in rows)
    header = (
        _cell("node", 18) + _cell("status", 9) + _cell("height", 9)
        + (_cell("tip", 14) if tips else "") + _cell("peers", 6) + _cell("syncing", 8)
        + ("version" if versions else "")
    )
    lines = [header.rstrip()]
    problems: list[str] = []
    for row in rows:
        tip = f"{row.tip_hash[:12]}…" if row.tip_hash else None
        syncing = None if row.syncing is None else ("yes" if row.syncing else "no")
        lines.append((
            _cell(row.node, 18) + _cell(row.status, 9) + _cell(row.height, 9)
            + (_cell(tip, 14) if tips else "") + _cell(row.peers, 6) + _cell(syncing, 8)
            + (_cell(row.version, 16) if versions else "")
        ).rstrip())
        if row.error:
            problems.append(f":warning: {code(row.node, 60)}: {inline(row.error, 300)}")
        if row.reasons:
            icon = ":no_entry:" if row.status == "refused" else ":x:"
            why = "; ".join(row.reasons)
            problems.append(f"{icon} {code(row.node, 60)}: {inline(why, 600)}")
    ok = sum(1 for r in rows if r.ok)
    title = f"*Health of {code(environment, 60)}*: {ok} of {len(rows)} nodes ok"
    blocks: list[Block] = [section(title)]
    blocks += [section(f"```{chunk}```") for chunk in chunk_lines([escape(x) for x in lines], 2800)]
    blocks += [section(chunk) for chunk in chunk_lines(problems)]
    blocks.append(context(source))
    blocks = fit_blocks(blocks, more=":scissors: {n} more parts of this report are not shown "
                        "(too many nodes for one Slack message); the count above covers them all.")
    return Message(text=f"Health of {inline(environment, 60)}: {ok}/{len(rows)} ok", blocks=blocks)
