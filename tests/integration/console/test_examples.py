"""Every shipped example runs to its end through `parthenon-bot demo --script`, and the demo
leaves nothing listening and no redis-server behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.console.conftest import (
    EXAMPLES,
    assert_nothing_left,
    run_demo_script,
)


def test_there_are_the_four_examples_the_readme_promises() -> None:
    """Promotion, canary rollback, key-compromise incident and restore drill ship."""
    assert {p.name for p in EXAMPLES} >= {
        "promote-mainnet.demo", "canary-rollback.demo", "key-compromise.demo",
        "restore-drill.demo",
    }


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_passes_and_leaves_nothing_running(example: Path, tmp_path: Path) -> None:
    """The example's every check passes, it exits 0, and afterwards none of the demo's ports
    accepts a connection and its redis-server is gone."""
    data_dir = tmp_path / "data"
    result = run_demo_script(example, data_dir)
    assert result.returncode == 0, result.tail()
    assert "every step done, every check passed" in result.stdout
    assert result.stderr == "", result.stderr
    assert_nothing_left(result.stdout, data_dir)
    kept = data_dir / "redis"  # Redis 7 keeps its AOF in a directory, earlier ones in a file
    assert (kept / "appendonlydir").is_dir() or (kept / "appendonly.aof").is_file()
