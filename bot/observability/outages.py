"""Prometheus metrics of the background loops' outages (``workflows.outage.Outage``):

- ``parthenon_dependency_outage_seconds`` (histogram; labels loop, dependency): how long each
  ended outage lasted, as seen by that loop;
- ``parthenon_dependency_outage_ongoing_seconds`` (gauge; labels loop, dependency): how long the
  outage going on now has lasted, 0 when the dependency answers (read at scrape time; a scrape
  during a Redis outage still answers, from this process's memory).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from workflows.outage import Outage

__all__ = ["OUTAGE_BUCKETS", "watch_outages"]

OUTAGE_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600)


class _Ongoing(Collector):
    def __init__(self, outages: list[tuple[Outage, str]]) -> None:
        self._outages = outages

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "parthenon_dependency_outage_ongoing_seconds",
            "How long the dependency has been unreachable for this loop (0: it answers).",
            labels=["loop", "dependency"],
        )
        for outage, dependency in self._outages:
            family.add_metric([outage.loop, dependency], round(outage.ongoing(), 3))
        yield family


def watch_outages(registry: CollectorRegistry, outages: Iterable[tuple[Outage, str]]) -> None:
    """Measure every ``(outage tracker, the dependency it watches)`` in ``registry``."""
    watched = list(outages)
    histogram = Histogram(
        "parthenon_dependency_outage_seconds",
        "How long each outage of a dependency lasted, per background loop.",
        ["loop", "dependency"],
        buckets=OUTAGE_BUCKETS,
        registry=registry,
    )
    for outage, dependency in watched:
        histogram.labels(outage.loop, dependency)  # every series exists from the start
        outage.observers.append(
            lambda loop, dep, seconds: histogram.labels(loop, dep).observe(seconds))
    registry.register(_Ongoing(watched))
