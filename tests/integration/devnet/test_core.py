"""The devnet's pure parts (no sockets): rate-limit windows, the chain clock, envelope rules."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.devnet import GENESIS_HASHES, Branch, Chain
from bot.devnet._dialect import Envelope, EnvelopeError, parse_envelope
from bot.devnet.ratelimit import FixedWindowLimiter


def test_window_is_fixed_from_its_first_request() -> None:
    """Requests late in a window do not extend it; it reopens exactly `window` after its start."""
    limiter = FixedWindowLimiter(limit=2, window=60.0)
    assert limiter.allow("a", 0.0)
    assert limiter.allow("a", 59.0)
    assert not limiter.allow("a", 59.9)
    assert limiter.allow("a", 60.0)
    assert limiter.allow("b", 59.9)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_height_follows_the_clock_and_mining() -> None:
    """The tip is initial_height + elapsed intervals + mined blocks, computed when asked."""
    clock = FakeClock()
    chain = Chain("testnet", 5.0, initial_height=10, clock=clock, wall=lambda: 0.0)
    assert chain.height() == 10
    clock.now += 12.0
    assert chain.height() == 12
    assert chain.mine(3) == 15
    assert chain.seconds_to_next_block() == pytest.approx(3.0)


def test_branches_share_history_below_the_fork() -> None:
    """A fork at H keeps hashes below H; another genesis changes everything."""
    chain = Chain("testnet", 0)
    fork = Branch(GENESIS_HASHES["testnet"], fork_height=4, salt="n1")
    other = Branch(GENESIS_HASHES["mainnet"])
    assert [chain.block_hash(h, fork) for h in range(1, 4)] == [
        chain.block_hash(h) for h in range(1, 4)
    ]
    assert chain.block_hash(4, fork) != chain.block_hash(4)
    assert chain.block_hash(1, other) == GENESIS_HASHES["mainnet"]
    assert chain.block_hash(2, other) != chain.block_hash(2)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None)
@given(json_values.filter(lambda v: not isinstance(v, dict)))
def test_anything_but_an_object_is_a_parse_error(value: object) -> None:
    """Arrays, scalars and null bodies are all -32700 with a null id."""
    result = parse_envelope(json.dumps(value).encode())
    assert result == EnvelopeError(None, -32700, "Parse error")


@settings(max_examples=60, deadline=None)
@given(json_values.filter(lambda v: not isinstance(v, str)))
def test_non_string_ids_are_parse_errors(request_id: object) -> None:
    """Whatever the id is, unless a string, the request is a parse error."""
    body = {"jsonrpc": "2.0", "id": request_id, "method": "getinfo", "params": []}
    assert parse_envelope(json.dumps(body).encode()) == EnvelopeError(None, -32700, "Parse error")


@settings(max_examples=60, deadline=None)
@given(st.text(), st.text())
def test_string_ids_and_methods_pass(request_id: str, method: str) -> None:
    """Any string id and method make a well-formed envelope."""
    body = {"id": request_id, "method": method, "params": {}}
    assert parse_envelope(json.dumps(body).encode()) == Envelope(request_id, method, {})
