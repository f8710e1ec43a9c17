"""Pure judgements the node steps make on what nodes answered: no I/O, no clock.

Assertions on a method's result, height/hash continuity after a restart, last-known-good
agreement between nodes, and release version comparison. Each returns plain data and reasons a
human can read in Slack, so the executors stay thin and these stay table-tested.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workflows.patterns import compile_pattern, fullmatch

__all__ = [
    "Agreement",
    "Expectation",
    "TipRef",
    "agreement",
    "check_continuity",
    "check_expectations",
    "parse_expectations",
    "parse_tip_refs",
    "same_version",
    "value_at",
]

_HASH = re.compile(r"^[0-9a-fA-F]{64}$")
_OPS = ("equals", "not_equals", "min", "max", "matches", "one_of", "present")


class Expectation(BaseModel):
    """One assertion on a node's result: ``{path: blocks, min: 10}``; path '' is the whole."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    path: str = ""
    equals: Any = None
    not_equals: Any = None
    min: float | None = None
    max: float | None = None
    matches: str | None = None
    one_of: list[Any] | None = Field(default=None, alias="in")
    present: bool | None = None

    @model_validator(mode="after")
    def _one_op(self) -> Expectation:
        given = [op for op in _OPS if getattr(self, op) is not None]
        if not given:
            raise ValueError(f"an expectation needs one of {', '.join(_OPS)}")
        if self.matches is not None:
            try:
                compile_pattern(self.matches)
            except re.error as exc:
                raise ValueError(f"matches: not a valid regular expression: {exc}") from exc
        return self


def parse_expectations(raw: object) -> list[Expectation]:
    """``expect:`` as a list of mappings (or one mapping); a bad one raises ValueError."""
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    try:
        return [Expectation.model_validate(item) for item in items]
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"expect: {first['msg']}") from None


def value_at(value: Any, path: str) -> tuple[bool, Any]:
    """Follow a dotted path into a result; (found, value)."""
    if path in {"", "."}:
        return True, value
    current = value
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    return True, current


def check_expectations(value: Any, expectations: Sequence[Expectation]) -> list[str]:
    """The failed expectations, in words (empty: all hold)."""
    failures: list[str] = []
    for exp in expectations:
        found, got = value_at(value, exp.path)
        where = exp.path or "the result"
        if exp.present is not None:
            if found != exp.present:
                failures.append(f"{where} is {'missing' if exp.present else 'present'}")
            continue
        if not found:
            failures.append(f"{where} is missing")
            continue
        failures.extend(_compare(where, got, exp))
    return failures


def _compare(where: str, got: Any, exp: Expectation) -> list[str]:
    out: list[str] = []
    if exp.equals is not None and got != exp.equals and str(got) != str(exp.equals):
        out.append(f"{where} is {got!r}, expected {exp.equals!r}")
    if exp.not_equals is not None and (got == exp.not_equals or str(got) == str(exp.not_equals)):
        out.append(f"{where} is {got!r}, which it must not be")
    number = _number(got)
    if exp.min is not None and (number is None or number < exp.min):
        out.append(f"{where} is {got!r}, expected at least {exp.min:g}")
    if exp.max is not None and (number is None or number > exp.max):
        out.append(f"{where} is {got!r}, expected at most {exp.max:g}")
    if exp.matches is not None and not fullmatch(exp.matches, str(got)):
        out.append(f"{where} is {got!r}, which does not match {exp.matches}")
    if exp.one_of is not None and got not in exp.one_of:
        out.append(f"{where} is {got!r}, expected one of {exp.one_of!r}")
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class TipRef:
    """A height and the hash a node had there (a captured tip, a snapshot, a last known good)."""

    height: int
    hash: str


def _tip_ref(raw: object, what: str) -> TipRef:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{what}: expected a mapping with height and hash, got {raw!r}")
    height, block_hash = raw.get("height"), raw.get("hash")
    try:
        number = int(str(height))
    except ValueError:
        raise ValueError(f"{what}: height {height!r} is not a whole number") from None
    if number < 1:
        raise ValueError(f"{what}: height {number} is below 1 (the genesis block is height 1)")
    if not isinstance(block_hash, str) or not _HASH.match(block_hash):
        raise ValueError(f"{what}: hash {block_hash!r} is not 64 hexadecimal characters")
    return TipRef(number, block_hash.lower())


def parse_tip_refs(raw: object, nodes: Sequence[str]) -> dict[str, TipRef]:
    """``against:`` is either one {height, hash} for every node or a mapping node -> one."""
    if isinstance(raw, Mapping) and "height" in raw and "hash" in raw:
        ref = _tip_ref(raw, "against")
        return dict.fromkeys(nodes, ref)
    if not isinstance(raw, Mapping):
        raise ValueError("against: expected {height, hash} or a mapping of node -> {height, hash}")
    return {str(name): _tip_ref(value, f"against.{name}") for name, value in raw.items()}


def check_continuity(ref: TipRef, height_now: int, hash_at_ref: str | None) -> str | None:
    """None when the node still has the referenced block and has not gone below it."""
    if height_now < ref.height:
        return f"height {height_now} is below the captured {ref.height}"
    if hash_at_ref is None:
        return f"has no block at the captured height {ref.height}"
    if hash_at_ref.lower() != ref.hash:
        return (
            f"block {ref.height} is {hash_at_ref.lower()}, not the captured {ref.hash}: "
            "the chain was rebuilt differently"
        )
    return None


@dataclass(frozen=True)
class Agreement:
    """How the nodes that have a block at ``height`` split over its hash."""

    height: int
    hash: str | None  # the hash at least ``needed`` nodes agree on, if any
    agreed_by: list[str]
    others: dict[str, str]  # node -> the other hash it has there
    needed: int

    @property
    def ok(self) -> bool:
        return self.hash is not None


def agreement(height: int, hashes: Mapping[str, str], needed: int) -> Agreement:
    """The hash most nodes report at ``height``; agreed when at least ``needed`` share it."""
    counts = Counter(h.lower() for h in hashes.values())
    if not counts:
        return Agreement(height, None, [], {}, needed)
    # most common first; ties broken by the hash itself, so the choice is deterministic
    best, count = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0]
    tied = [h for h, c in counts.items() if c == count]
    if count < needed or len(tied) > 1:
        return Agreement(height, None, [], {n: h.lower() for n, h in hashes.items()}, needed)
    agreed = sorted(n for n, h in hashes.items() if h.lower() == best)
    others = {n: h.lower() for n, h in hashes.items() if h.lower() != best}
    return Agreement(height, best, agreed, others, needed)


def same_version(reported: object, expected: str) -> bool:
    """Release tags and node versions differ by a leading 'v' at most (v1.4.2 == 1.4.2)."""
    return str(reported).strip().lower().removeprefix("v") == expected.strip().lower().removeprefix(
        "v"
    )
