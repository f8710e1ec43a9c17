"""`parthenon-bot serve` freezes what start-up built, so full garbage collections (which pause
the event loop, and every ack with it) no longer scan it."""

from __future__ import annotations

import gc

from bot.serve import freeze_startup_heap


def test_the_startup_heap_is_frozen_once_the_bot_is_up() -> None:
    """After the start-up hook, the objects alive then are in the collector's permanent
    generation (and a full collection has far less to scan)."""
    assert gc.get_freeze_count() == 0
    try:
        freeze_startup_heap(0, None)  # type: ignore[arg-type]
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
