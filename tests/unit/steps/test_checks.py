"""Pure judgements of the node steps: assertions, continuity, agreement, versions."""

from __future__ import annotations

from typing import Any

import pytest

from workflows.steps.checks import (
    TipRef,
    agreement,
    check_continuity,
    check_expectations,
    parse_expectations,
    parse_tip_refs,
    same_version,
    value_at,
)

H1, H2, H3 = "a" * 64, "b" * 64, "c" * 64
INFO = {"blocks": 12, "version": "1.4.2", "syncing": False, "peers": [{"id": "x"}]}


@pytest.mark.parametrize(
    ("expect", "failures"),
    [
        ({"path": "blocks", "min": 10}, []),
        ({"path": "blocks", "min": 13}, ["blocks is 12, expected at least 13"]),
        ({"path": "blocks", "max": 11}, ["blocks is 12, expected at most 11"]),
        ({"path": "version", "equals": "1.4.2"}, []),
        ({"path": "version", "equals": "1.5.0"}, ["version is '1.4.2', expected '1.5.0'"]),
        ({"path": "blocks", "equals": "12"}, []),  # a rendered template is text
        ({"path": "syncing", "not_equals": True}, []),
        ({"path": "version", "matches": r"\d+\.\d+\.\d+"}, []),
        ({"path": "version", "in": ["1.4.1", "1.4.2"]}, []),
        ({"path": "peers.0.id", "equals": "x"}, []),
        ({"path": "missing", "present": False}, []),
        ({"path": "missing", "equals": 1}, ["missing is missing"]),
        ({"path": "version", "min": 1}, ["version is '1.4.2', expected at least 1"]),
    ],
)
def test_expectations(expect: dict[str, Any], failures: list[str]) -> None:
    """Each assertion form passes or fails with a sentence naming the path and the value."""
    assert check_expectations(INFO, parse_expectations(expect)) == failures


@pytest.mark.parametrize(
    "bad",
    [{"path": "x"}, {"path": "x", "matches": "("}, {"path": "x", "bogus": 1}, "text"],
)
def test_bad_expectations_are_refused(bad: object) -> None:
    """An assertion without an operator, with a broken regex or an unknown key is refused."""
    with pytest.raises(ValueError, match="expect"):
        parse_expectations(bad)


def test_value_at_whole_and_nested() -> None:
    """An empty path is the whole result; a dotted path walks mappings and list indexes."""
    assert value_at(7, "") == (True, 7)
    assert value_at(INFO, "peers.0.id") == (True, "x")
    assert value_at(INFO, "peers.3") == (False, None)


def test_tip_refs_for_every_node_or_per_node() -> None:
    """One {height, hash} applies to all targets; a mapping gives each node its own."""
    assert parse_tip_refs({"height": "5", "hash": H1.upper()}, ["n1", "n2"]) == {
        "n1": TipRef(5, H1), "n2": TipRef(5, H1),
    }
    per = parse_tip_refs({"n1": {"height": 3, "hash": H2}}, ["n1", "n2"])
    assert per == {"n1": TipRef(3, H2)}


@pytest.mark.parametrize(
    "raw",
    [{"height": 0, "hash": H1}, {"height": "x", "hash": H1}, {"height": 2, "hash": "zz"}, [1]],
)
def test_bad_tip_refs_are_refused(raw: object) -> None:
    """Heights below 1, non-numbers and malformed hashes are refused before any call."""
    with pytest.raises(ValueError, match="against"):
        parse_tip_refs(raw, ["n1"])


@pytest.mark.parametrize(
    ("height_now", "found", "problem"),
    [
        (10, H1, None),
        (12, H1, None),
        (9, None, "height 9 is below the captured 10"),
        (10, None, "has no block at the captured height 10"),
        (11, H2, f"block 10 is {H2}, not the captured {H1}"),
    ],
)
def test_continuity(height_now: int, found: str | None, problem: str | None) -> None:
    """Continuous means not lower and the same hash at the captured height."""
    result = check_continuity(TipRef(10, H1), height_now, found)
    if problem is None:
        assert result is None
    else:
        assert (result or "").startswith(problem)


@pytest.mark.parametrize(
    ("hashes", "needed", "agreed", "hash_"),
    [
        ({"n1": H1, "n2": H1, "n3": H2}, 2, ["n1", "n2"], H1),
        ({"n1": H1, "n2": H2}, 2, [], None),
        ({"n1": H1, "n2": H1, "n3": H2, "n4": H2}, 2, [], None),  # a tie is no agreement
        ({"n1": H3}, 1, ["n1"], H3),
        ({}, 2, [], None),
    ],
)
def test_agreement(
    hashes: dict[str, str], needed: int, agreed: list[str], hash_: str | None
) -> None:
    """The hash at least ``needed`` nodes share wins; ties and too few nodes do not agree."""
    found = agreement(7, hashes, needed)
    assert found.agreed_by == agreed
    assert found.hash == hash_
    assert found.ok is (hash_ is not None)


@pytest.mark.parametrize(
    ("reported", "expected", "same"),
    [("1.4.2", "v1.4.2", True), ("v1.4.2", "1.4.2", True), ("1.4.3", "v1.4.2", False),
     (None, "1.0.0", False)],
)
def test_same_version(reported: object, expected: str, same: bool) -> None:
    """A release tag and a node version match up to a leading 'v'."""
    assert same_version(reported, expected) is same
