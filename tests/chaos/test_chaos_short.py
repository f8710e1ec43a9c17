"""The chaos suite (``make chaos``) in small: a few promotions through three bot replicas while
replicas are killed with SIGKILL, Redis restarts once and Slack answers 429, 5xx and timeouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench._chaosworld import WorldSettings
from bench.chaos import ChaosPlan, run_chaos

pytestmark = pytest.mark.slow

SHORT = ChaosPlan(
    runs=4,
    kills=3,
    redis_restarts=1,
    world=WorldSettings(lease=2.0),
    start_spread=1.0,
    kill_every=(0.7, 2.0),
    down_for=(0.2, 1.0),
    deadline=90.0,
    settle_cards=45.0,
)


@pytest.mark.timeout(170)
async def test_promotions_hold_through_kills_a_redis_restart_and_slack_faults(
    tmp_path: Path,
) -> None:
    """Every run finishes or is blocked in doubt (on its card), nothing is done twice, no
    approval answered 200 is lost, every card shows its run's final state, no secret leaks."""
    report = await run_chaos(SHORT, tmp_path)
    summary = "\n".join(report.summary())
    assert report.ok, summary
    assert report.verdict.duplicate_cards == 0, summary
    assert report.kills >= 2, summary  # (kills stop once every run has settled)
    assert report.redis_restarts == 1, summary
    assert sum(report.slack_faults.values()) > 0, summary
    runs = report.verdict.facts["runs"]
    assert sum(runs.values()) == SHORT.runs, summary
