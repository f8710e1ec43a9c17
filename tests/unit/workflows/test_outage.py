"""A loop's outage in the log: one warning when it begins (with the error), nothing per retry,
one line when it ends (with its length); the waits grow, with jitter, up to a cap."""

from __future__ import annotations

import logging

import pytest

from workflows.outage import Outage


def test_one_line_when_it_begins_none_per_retry_one_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    seen: list[tuple[str, str, float]] = []
    outage = Outage("engine", logging.getLogger("test.outage"), base=0.25, cap=5.0,
                    clock=lambda: now[0], jitter=lambda: 1.0)
    outage.observers.append(lambda *args: seen.append(args))
    caplog.set_level(logging.DEBUG, logger="test.outage")
    waits = []
    for _ in range(12):
        waits.append(outage.failed("redis", ConnectionError("Error 111 connecting")))
        now[0] += waits[-1]
    assert outage.down
    assert waits[:6] == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0]
    assert set(waits[6:]) == {5.0}
    assert [r.getMessage() for r in caplog.records] == [
        "engine: redis unreachable, retrying with back-off until it is back "
        "(ConnectionError: Error 111 connecting)"]
    lasted = now[0] - 100.0
    outage.recovered()
    outage.recovered()  # nothing more: it is over
    assert len(caplog.records) == 2
    assert caplog.records[1].getMessage() == (
        f"engine: redis reachable again after {lasted:.1f} s (12 failed attempts)")
    assert seen == [("engine", "redis", lasted)]
    assert not outage.down
    assert outage.ongoing() == 0.0
    assert all(r.exc_info is None for r in caplog.records)


def test_the_wait_is_jittered_between_half_and_all_of_the_ceiling() -> None:
    low = Outage("notifier", logging.getLogger("test.outage"), base=1.0, cap=8.0,
                 jitter=lambda: 0.0)
    assert [low.failed("slack", TimeoutError()) for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
