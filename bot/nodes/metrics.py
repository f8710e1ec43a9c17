"""A lenient, line-by-line reader of the node's `/metrics` text.

The node's output looks like Prometheus exposition but is not valid (its `# TYPE` lines carry
labels), so strict parsers, prometheus_client's included, reject the whole page. This one takes
what it can read from each line and counts the lines it could not, never failing as a whole.
"""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, ConfigDict

from workflows.healthgate import VALIDATION_ERRORS_METRIC

__all__ = ["MetricSample", "NodeMetrics", "parse_metrics"]

_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|\})')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
_SPECIAL = {"nan": math.nan, "+inf": math.inf, "inf": math.inf, "-inf": -math.inf}


class MetricSample(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    labels: dict[str, str]
    value: float


class NodeMetrics(BaseModel):
    """What could be read from one `/metrics` page; `skipped` counts unreadable lines."""

    model_config = ConfigDict(frozen=True)

    samples: tuple[MetricSample, ...] = ()
    types: dict[str, str] = {}
    skipped: int = 0

    def total(self, name: str, **labels: str) -> float | None:
        """The sum of the samples named `name` whose labels include `labels`; None if none."""
        values = [
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        return math.fsum(values) if values else None

    @property
    def best_block_height(self) -> float | None:
        return self.total("pantheon_best_block_height")

    @property
    def peer_count(self) -> float | None:
        return self.total("pantheon_peer_count")

    @property
    def syncing(self) -> bool | None:
        value = self.total("pantheon_syncing")
        return None if value is None else value != 0

    @property
    def validation_errors(self) -> float | None:
        return self.total(VALIDATION_ERRORS_METRIC)


def parse_metrics(text: str) -> NodeMetrics:
    """Read every sample line that makes sense; comments give types, labels on them ignored."""
    samples: list[MetricSample] = []
    types: dict[str, str] = {}
    skipped = 0
    for raw in text.split("\n"):  # not splitlines(): \r or \x85 may sit inside a label
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            _read_comment(line, types)
            continue
        sample = _read_sample(line)
        if sample is None:
            skipped += 1
        else:
            samples.append(sample)
    return NodeMetrics(samples=tuple(samples), types=types, skipped=skipped)


def _read_comment(line: str, types: dict[str, str]) -> None:
    parts = line[1:].split()
    if len(parts) >= 3 and parts[0] == "TYPE":
        name = _NAME.match(parts[1])
        if name:
            types[name.group(0)] = parts[-1]


def _read_sample(line: str) -> MetricSample | None:
    name = _NAME.match(line)
    if not name:
        return None
    rest = line[name.end() :]
    labels: dict[str, str] = {}
    if rest.startswith("{"):
        parsed = _read_labels(rest)
        if parsed is None:
            return None
        labels, rest = parsed
    fields = rest.split()
    if not fields or len(fields) > 2 or (rest and not rest[0].isspace()):
        return None
    value = _read_value(fields[0])
    if value is None:
        return None
    return MetricSample(name=name.group(0), labels=labels, value=value)


def _read_labels(text: str) -> tuple[dict[str, str], str] | None:
    labels: dict[str, str] = {}
    pos = 1
    if text[pos:].lstrip().startswith("}"):
        return labels, text[text.index("}", pos) + 1 :]
    while True:
        match = _LABEL.match(text, pos)
        if not match:
            return None
        value = re.sub(r"\\[\\\"n]", lambda m: _UNESCAPE[m.group(0)], match.group(2))
        labels[match.group(1)] = value
        pos = match.end()
        if match.group(3) == "}":
            return labels, text[pos:]
        if text[pos:].lstrip().startswith("}"):  # trailing comma
            return labels, text[text.index("}", pos) + 1 :]


def _read_value(token: str) -> float | None:
    special = _SPECIAL.get(token.lower())
    if special is not None:
        return special
    try:
        return float(token)
    except ValueError:
        return None
