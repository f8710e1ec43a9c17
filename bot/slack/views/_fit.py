"""Messages that would pass Slack's block count degrade on purpose instead of being refused."""

from __future__ import annotations

from bot.slack.views._blocks import MAX_BLOCKS, Block, context

__all__ = ["fit_blocks"]


def fit_blocks(
    blocks: list[Block], *, more: str, limit: int = MAX_BLOCKS, keep_last: int = 1
) -> list[Block]:
    """``blocks`` if they fit in ``limit``; else the first ones, a context line ``more`` (its
    ``{n}`` is how many blocks were left out), and the last ``keep_last`` (a footer)."""
    if len(blocks) <= limit:
        return blocks
    tail = blocks[len(blocks) - keep_last:] if keep_last else []
    head = blocks[: limit - 1 - len(tail)]
    left_out = len(blocks) - len(head) - len(tail)
    return [*head, context(more.format(n=left_out)), *tail]
