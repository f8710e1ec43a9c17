"""The PromQL placeholders of a prometheus evidence source, filled in when the gate runs."""

from __future__ import annotations

import pytest

from workflows.prometheus import render_query


@pytest.mark.parametrize(
    ("seconds", "nodes", "expected"),
    [
        (3600, ["test-1"], 'increase(e{node=~"test-1"}[3600s])'),
        (59.2, ["a-1", "b-2"], 'increase(e{node=~"a-1|b-2"}[60s])'),
        (0.2, ["main.val-2"], 'increase(e{node=~"main\\\\.val-2"}[1s])'),
    ],
)
def test_window_and_nodes_are_filled_in(seconds: float, nodes: list[str], expected: str) -> None:
    """$window becomes whole seconds (at least 1), $nodes an alternation whose dots are escaped
    as a double-quoted PromQL string needs (`\\\\.`, the regex `\\.`)."""
    query = 'increase(e{node=~"$nodes"}[$window])'
    assert render_query(query, window_seconds=seconds, nodes=nodes) == expected
