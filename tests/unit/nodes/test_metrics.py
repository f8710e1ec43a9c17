"""The lenient /metrics reader, on the node's own malformed exposition text."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from bot.nodes.metrics import parse_metrics

# What the daemon serves: `# TYPE` lines carry labels, which strict parsers refuse.
NODE_TEXT = """\
# HELP pantheon_best_block_height Height of the best block
# TYPE pantheon_best_block_height{} gauge
pantheon_best_block_height 1234
# HELP pantheon_peer_count Connected peers
# TYPE pantheon_peer_count{} gauge
pantheon_peer_count 7
# TYPE pantheon_syncing{} gauge
pantheon_syncing 0
# HELP pantheon_rpc_requests_total RPC requests by method and status
# TYPE pantheon_rpc_requests_total{method="",status=""} counter
pantheon_rpc_requests_total{method="getinfo",status="ok"} 5
pantheon_rpc_requests_total{method="getblock",status="ok"} 2
pantheon_rpc_requests_total{method="getblock",status="error"} 1
# TYPE pantheon_rpc_request_duration_seconds{le=""} histogram
pantheon_rpc_request_duration_seconds_bucket{le="0.005"} 7
pantheon_rpc_request_duration_seconds_bucket{le="+Inf"} 8
pantheon_rpc_request_duration_seconds_sum 0.012000
pantheon_rpc_request_duration_seconds_count 8
"""
# A validation-error counter the daemon does not export (docs/node-dialect.md): a future daemon's
# (the devnet's `future` dialect), or an operator's exporter named by evidence.validation_errors.
COUNTER_TEXT = """\
# TYPE pantheon_validation_errors_total{} counter
pantheon_validation_errors_total 3
"""


def test_strict_parser_rejects_the_node_text() -> None:
    """The premise: prometheus_client refuses the node's page as a whole."""
    with pytest.raises(ValueError):  # noqa: PT011 (the parser's message varies by version)
        list(text_string_to_metric_families(NODE_TEXT))


def test_reads_every_sample_of_the_node_text() -> None:
    """Gauges, counters with labels and histogram lines are all read; nothing is skipped."""
    metrics = parse_metrics(NODE_TEXT)
    assert metrics.skipped == 0
    assert metrics.best_block_height == 1234
    assert metrics.peer_count == 7
    assert metrics.syncing is False
    assert metrics.validation_errors is None  # the daemon exports none
    assert metrics.total("pantheon_rpc_requests_total") == 8
    assert metrics.total("pantheon_rpc_requests_total", method="getblock") == 3
    assert metrics.total("pantheon_rpc_requests_total", status="error") == 1
    assert metrics.total("pantheon_rpc_request_duration_seconds_bucket", le="+Inf") == 8
    assert metrics.types["pantheon_rpc_requests_total"] == "counter"
    assert metrics.types["pantheon_best_block_height"] == "gauge"


def test_the_daemon_text_has_exactly_its_five_families() -> None:
    """The fixture is the daemon's page: its five families and no validation-error counter."""
    assert set(parse_metrics(NODE_TEXT).types) == {
        "pantheon_best_block_height", "pantheon_peer_count", "pantheon_syncing",
        "pantheon_rpc_requests_total", "pantheon_rpc_request_duration_seconds",
    }


def test_reads_a_validation_error_counter_where_one_is_exported() -> None:
    """A counter the daemon lacks is read where a page has it (the `metric` evidence source)."""
    metrics = parse_metrics(NODE_TEXT + COUNTER_TEXT)
    assert metrics.skipped == 0
    assert metrics.validation_errors == 3
    assert metrics.types["pantheon_validation_errors_total"] == "counter"


@pytest.mark.parametrize(
    ("line", "name", "labels", "value"),
    [
        ("m 1", "m", {}, 1.0),
        ("m 1 1700000000000", "m", {}, 1.0),
        ("m{} 2", "m", {}, 2.0),
        ('m{a="x"} 3', "m", {"a": "x"}, 3.0),
        ('m{a="x",} 3', "m", {"a": "x"}, 3.0),
        ('m{ a = "x" , b="y"} 4', "m", {"a": "x", "b": "y"}, 4.0),
        (
            'm{a="q\\"uote",b="back\\\\slash",c="new\\nline"} 5',
            "m",
            {"a": 'q"uote', "b": "back\\slash", "c": "new\nline"},
            5.0,
        ),
        ('m{a="has } brace"} 6', "m", {"a": "has } brace"}, 6.0),
        ("m +Inf", "m", {}, math.inf),
        ("m -Inf", "m", {}, -math.inf),
        ("m 1e3", "m", {}, 1000.0),
        ("   m   7   ", "m", {}, 7.0),
        ("ns:metric_x 8", "ns:metric_x", {}, 8.0),
    ],
)
def test_sample_lines(line: str, name: str, labels: dict[str, str], value: float) -> None:
    """Each legal sample form is read with its labels and value."""
    metrics = parse_metrics(line)
    assert metrics.skipped == 0
    (sample,) = metrics.samples
    assert (sample.name, sample.labels, sample.value) == (name, labels, value)


def test_nan_value() -> None:
    """NaN is a value, not a parse failure."""
    (sample,) = parse_metrics("m NaN").samples
    assert math.isnan(sample.value)


@pytest.mark.parametrize(
    "line",
    [
        "m",
        "m one",
        'm{a="x" 1',
        "m{a=x} 1",
        '{a="x"} 1',
        "9m 1",
        "m 1 2 3",
        'm{a="x"}1',
        "m\x00 1",
    ],
)
def test_unreadable_lines_are_counted_not_fatal(line: str) -> None:
    """A bad line is skipped and counted; the lines around it are still read."""
    metrics = parse_metrics(f"before 1\n{line}\nafter 2\n")
    assert metrics.skipped == 1
    assert [s.name for s in metrics.samples] == ["before", "after"]


def test_comments_and_blank_lines_are_ignored() -> None:
    """Free comments, HELP lines, short TYPE lines and blank lines are not samples."""
    metrics = parse_metrics("# just a comment\n# TYPE\n\n# HELP m text with {braces}\nm 1\n")
    assert metrics.skipped == 0
    assert len(metrics.samples) == 1
    assert metrics.types == {}


def test_missing_metrics_read_as_none() -> None:
    """A metric the page lacks reads as None, not 0 (the gates tell the difference)."""
    metrics = parse_metrics("pantheon_best_block_height 3\n")
    assert metrics.validation_errors is None
    assert metrics.syncing is None
    assert metrics.total("pantheon_rpc_requests_total") is None


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_never_raises_on_any_text(text: str) -> None:
    """Whatever the node sends, parsing returns a result; it never raises."""
    metrics = parse_metrics(text)
    assert metrics.skipped >= 0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True),
            st.dictionaries(
                st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True),
                st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
                max_size=3,
            ),
            st.integers(-(10**9), 10**9),
        ),
        max_size=10,
    )
)
def test_round_trip_of_written_samples(samples: list[tuple[str, dict[str, str], int]]) -> None:
    """Samples written in exposition syntax (escaped labels) are read back exactly."""

    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    lines = []
    for name, labels, value in samples:
        inner = ",".join(f'{k}="{escape(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{inner}}} {value}" if labels else f"{name} {value}")
    metrics = parse_metrics("\n".join(lines))
    assert metrics.skipped == 0
    assert [(s.name, s.labels, s.value) for s in metrics.samples] == [
        (name, labels, float(value)) for name, labels, value in samples
    ]
