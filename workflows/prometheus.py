"""The operator's Prometheus, asked one instant PromQL query (`GET /api/v1/query`).

The node daemon exports no validation-error metric (`docs/node-dialect.md`); an operator who scrapes
the node logs into Prometheus (a log exporter, mtail, Loki recording rules) can feed the "no rise in
validation errors" gate from there. The environment's `evidence.validation_errors.query` is a PromQL
expression that may use two placeholders, filled in when the gate runs:

- `$window`: the watch window as a Prometheus duration (`3600s`), for `increase(x[$window])`;
- `$nodes`: the gate's target node names as a regex alternation (`test-1|test-2`), for
  `{node=~"$nodes"}` (a "." in a name is escaped for a double-quoted PromQL string).

The answer must be a vector or a scalar; the sum of its values is the number of validation
errors over the window. An empty vector, an error answer, or no answer is "Prometheus cannot
tell" (`PrometheusUnavailable`), never "no errors".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

__all__ = ["PrometheusAnswer", "PrometheusUnavailable", "instant_query", "render_query"]

_MAX_REPLY = 1024 * 1024


class PrometheusUnavailable(Exception):
    """Prometheus gave no usable answer; `reason` says what happened, without secrets."""

    code = "prometheus_unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PrometheusAnswer:
    """The query as sent, the sum of its values and how many series it had."""

    query: str
    value: float
    series: int


def render_query(template: str, *, window_seconds: float, nodes: list[str]) -> str:
    """The query with `$window` and `$nodes` filled in."""
    window = f"{max(1, math.ceil(window_seconds))}s"
    # Node names are [A-Za-z0-9._-]: only "." means something in a regex. PromQL strings use
    # Go's escapes, so the regex escape `\.` is written `\\.` inside the query's quotes.
    alternation = "|".join(name.replace(".", "\\\\.") for name in nodes)
    return template.replace("$window", window).replace("$nodes", alternation)


async def instant_query(
    base_url: str, query: str, *, at: float | None = None, seconds: float = 10.0
) -> PrometheusAnswer:
    """Evaluate `query` at `at` (seconds since the epoch; default: Prometheus's now)."""
    params = {"query": query}
    if at is not None:
        params["time"] = f"{at:.3f}"
    url = URL(base_url.rstrip("/") + "/api/v1/query")
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as session,
            session.get(url, params=params) as response,
        ):
            raw = await response.content.read(_MAX_REPLY)
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        where = url.with_user(None).with_query(None)  # never a password in a message
        raise PrometheusUnavailable(f"Prometheus at {where} did not answer ({detail})") from None
    return _answer(query, status, raw)


def _answer(query: str, status: int, raw: bytes) -> PrometheusAnswer:
    try:
        body: Any = json.loads(raw)
    except ValueError:
        raise PrometheusUnavailable(f"Prometheus answered HTTP {status} with no JSON") from None
    if not isinstance(body, dict):
        raise PrometheusUnavailable(f"Prometheus answered HTTP {status} with no JSON object")
    if body.get("status") != "success":
        error = str(body.get("error") or "no error given")[:300]
        raise PrometheusUnavailable(f"Prometheus refused the query (HTTP {status}): {error}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise PrometheusUnavailable("Prometheus answered without data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return PrometheusAnswer(query, _number(result), 1)
    if kind != "vector" or not isinstance(result, list):
        raise PrometheusUnavailable(
            f"the query gave a {kind!r}, not a vector or scalar: write an instant query"
        )
    if not result:
        raise PrometheusUnavailable("the query matched no series (an empty vector)")
    values = [_number(item.get("value") if isinstance(item, dict) else None) for item in result]
    return PrometheusAnswer(query, math.fsum(values), len(values))


def _number(pair: object) -> float:
    """A `[timestamp, "value"]` pair's value; NaN (no data) is not an answer."""
    if not isinstance(pair, list) or len(pair) != 2:
        raise PrometheusUnavailable("Prometheus answered a sample that is not [time, value]")
    try:
        value = float(pair[1])
    except (TypeError, ValueError):
        raise PrometheusUnavailable(f"Prometheus answered a value that is not a number: "
                                    f"{str(pair[1])[:40]!r}") from None
    if math.isnan(value):
        raise PrometheusUnavailable("the query's value is NaN (no data over the window)")
    return value
