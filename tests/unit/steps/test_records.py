"""Release metadata from a finished promotion run, and health gate conditions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import parse_config
from tests.unit.steps.build import NOW, run_of
from workflows.model import StepStatus
from workflows.steps.health import conditions_for, default_interval
from workflows.steps.records import release_metadata

DEFN = """
name: promote-x
title: Promote
category: release
parameters: [{name: version}, {name: git_sha}, {name: environment},
             {name: config_checksum, required: false, default: none}]
steps:
  - {id: signoff, title: Sign-off, kind: approval, approval: {groups: [security]}}
  - group: wave
    foreach: waves
    steps:
      - {id: approve, title: Approve, kind: approval, approval: {groups: [rm], quorum: 2}}
      - {id: deploy, title: Deploy, kind: webhook, targets: {select: wave}}
"""


def test_release_metadata_names_approvers_and_waves() -> None:
    """Who approved each step, each wave's nodes, percent and deploy time, start and end."""
    run = run_of(DEFN, {"version": "v1.4.2", "git_sha": "abc1234", "environment": "testnet"})
    for step, state in zip(run.plan, run.steps, strict=True):
        state.status = StepStatus.SUCCEEDED
        state.finished_at = NOW + timedelta(minutes=len(step.id))
        if step.kind.value == "approval":
            state.result = {"approvers": ["U7", "U8"] if step.group else ["U9"]}
    meta = release_metadata(run, NOW + timedelta(hours=1))
    assert meta["version"] == "v1.4.2"
    assert meta["git_sha"] == "abc1234"
    assert meta["config_checksum"] == "none"
    assert meta["approvers"]["signoff"] == ["U9"]
    assert meta["approvers"]["wave-1.approve"] == ["U7", "U8"]
    assert [(w["index"], w["percent"], w["nodes"]) for w in meta["waves"]] == [
        (1, 10, ["t1"]), (2, 50, ["t2"]), (3, 100, ["t3"]),
    ]
    assert all("deployed_at" in w for w in meta["waves"])
    assert meta["finished_at"] == (NOW + timedelta(hours=1)).isoformat()


def test_an_unfinished_wave_shows_its_status() -> None:
    """A wave whose deploy did not finish is reported as such, not as done."""
    run = run_of(DEFN, {"version": "v1", "git_sha": "abc1234", "environment": "testnet"})
    meta = release_metadata(run, NOW)
    assert {w["status"] for w in meta["waves"]} == {"pending"}


ENV = """
environments:
  testnet:
    network: testnet
    min_peers: 4
    max_tip_lag: 3
    rpc_credentials: {user: bot, password_env: PW}
    nodes: [{name: t1, rpc_url: "http://127.0.0.1:1"}]
"""


def test_health_conditions_for_a_window_and_for_one_look() -> None:
    """A window checks every /health condition with the environment's thresholds, and a rise
    in validation errors only when given the /metrics counter to read (evidence: metric); one
    look cannot judge the tip advancing or a rise, so it leaves those out; overrides win."""
    env = parse_config(ENV, env={"PW": "x"}).environment("testnet")
    window = conditions_for(env, True)
    assert window.min_peers == 4
    assert window.max_tip_lag == 3
    assert window.tip_advancing
    assert not window.no_validation_error_rise
    metered = conditions_for(env, True, validation_metric="node_validation_errors_total")
    assert metered.no_validation_error_rise
    assert metered.validation_metric == "node_validation_errors_total"
    single = conditions_for(env, False, {"min_peers": 0}, validation_metric="x_total")
    assert single.min_peers == 0
    assert not single.tip_advancing
    assert not single.no_validation_error_rise
    with pytest.raises(ValueError, match="conditions"):
        conditions_for(env, True, {"min_peers": -1})
    with pytest.raises(ValueError, match="mapping"):
        conditions_for(env, True, ["tip_advancing"])


@pytest.mark.parametrize(("window", "interval"), [(3600, 60), (60, 10), (1, 1 / 6), (0.1, 0.05)])
def test_default_interval(window: float, interval: float) -> None:
    """About six looks per window, never more than a minute apart."""
    assert default_interval(window) == pytest.approx(interval)
