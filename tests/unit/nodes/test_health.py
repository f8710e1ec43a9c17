"""Health gate evaluation: pure decisions over samples, with reasons a human can read."""

from __future__ import annotations

from typing import Any

import pytest

from workflows.healthgate import Condition, HealthConditions, HealthSample, evaluate
from workflows.nodereplies import NodeHealth


def health(**overrides: Any) -> NodeHealth:
    values: dict[str, Any] = {
        "status": "ok",
        "best_height": 100,
        "peer_count": 3,
        "syncing": False,
        "sync_progress": 100.0,
        "rpc_port": 18332,
    }
    values.update(overrides)
    return NodeHealth.model_validate(values)


def sample(node: str = "a", at: float = 0.0, **overrides: Any) -> HealthSample:
    errors = overrides.pop("validation_errors", None)
    return HealthSample(node=node, at=at, health=health(**overrides), validation_errors=errors)


def down(
    node: str = "a", at: float = 0.0, error: str = "node_unreachable: refused"
) -> HealthSample:
    return HealthSample(node=node, at=at, error=error)


ALL = HealthConditions(
    min_peers=2,
    not_syncing=True,
    tip_advancing=True,
    max_tip_lag=2,
    no_validation_error_rise=True,
)

CASES: list[tuple[str, list[HealthSample], HealthConditions, dict[Condition, str] | None]] = [
    # (case, samples, conditions, {failed condition: text in its reason} or None = all pass)
    (
        "healthy node over a window",
        [
            sample(at=0, best_height=100, validation_errors=1),
            sample(at=30, best_height=103, validation_errors=1),
        ],
        ALL,
        None,
    ),
    (
        "status stopped in one sample",
        [sample(at=0), sample(at=10, status="stopped")],
        HealthConditions(),
        {Condition.STATUS_OK: "status 'stopped' in 1 of 2 samples"},
    ),
    (
        "unreachable in one sample",
        [sample(at=0), down(at=10, error="node_timeout: no complete answer within 5 s")],
        HealthConditions(),
        {Condition.STATUS_OK: "unreachable in 1 of 2 samples (last: node_timeout"},
    ),
    (
        "too few peers",
        [sample(peer_count=1)],
        HealthConditions(min_peers=2),
        {Condition.MIN_PEERS: "1 peers, fewer than the 2 required"},
    ),
    (
        "enough peers",
        [sample(peer_count=2)],
        HealthConditions(min_peers=2),
        None,
    ),
    (
        "syncing with no peers says why",
        [sample(peer_count=0, syncing=True)],
        HealthConditions(not_syncing=True),
        {Condition.NOT_SYNCING: "reports syncing for as long as it has none"},
    ),
    (
        "syncing with peers",
        [sample(peer_count=4, syncing=True, sync_progress=97.5)],
        HealthConditions(not_syncing=True),
        {Condition.NOT_SYNCING: "still syncing (97.5%)"},
    ),
    (
        "syncing early in the window but not at the end passes",
        [sample(at=0, syncing=True), sample(at=10, syncing=False)],
        HealthConditions(not_syncing=True),
        None,
    ),
    (
        "tip stuck",
        [sample(at=0, best_height=50), sample(at=60, best_height=50)],
        HealthConditions(tip_advancing=True),
        {Condition.TIP_ADVANCING: "tip stuck at 50 over 60 s (2 samples)"},
    ),
    (
        "tip went back",
        [sample(at=0, best_height=50), sample(at=60, best_height=40)],
        HealthConditions(tip_advancing=True),
        {Condition.TIP_ADVANCING: "tip went back from 50 to 40"},
    ),
    (
        "tip advancing needs a window",
        [sample(at=0)],
        HealthConditions(tip_advancing=True),
        {Condition.TIP_ADVANCING: "needs at least 2 readable samples"},
    ),
    (
        "tip advanced less than required",
        [sample(at=0, best_height=50), sample(at=60, best_height=51)],
        HealthConditions(tip_advancing=True, min_advance=3),
        {Condition.TIP_ADVANCING: "gained 1 block(s)"},
    ),
    (
        "unordered samples are ordered by time",
        [sample(at=60, best_height=53), sample(at=0, best_height=50)],
        HealthConditions(tip_advancing=True),
        None,
    ),
    (
        "validation errors rose",
        [sample(at=0, validation_errors=2), sample(at=60, validation_errors=5)],
        HealthConditions(no_validation_error_rise=True),
        {Condition.NO_VALIDATION_ERROR_RISE: "rose by 3 (2 -> 5)"},
    ),
    (
        "validation counter reset by a restart and rising again",
        [sample(at=0, validation_errors=9), sample(at=60, validation_errors=1)],
        HealthConditions(no_validation_error_rise=True),
        {Condition.NO_VALIDATION_ERROR_RISE: "rose by 1"},
    ),
    (
        "validation counter missing",
        [sample(at=0), sample(at=60)],
        HealthConditions(no_validation_error_rise=True),
        {Condition.NO_VALIDATION_ERROR_RISE: "no pantheon_validation_errors_total"},
    ),
    (
        "every other condition fails on an unreachable node",
        [down(at=0), down(at=10)],
        ALL,
        {
            Condition.STATUS_OK: "unreachable in 2 of 2 samples",
            Condition.MIN_PEERS: "no readable /health sample",
            Condition.NOT_SYNCING: "no readable /health sample",
            Condition.TIP_ADVANCING: "no readable /health sample",
            Condition.TIPS_CONSISTENT: "no readable /health sample",
            Condition.NO_VALIDATION_ERROR_RISE: "no readable /health sample",
        },
    ),
]


@pytest.mark.parametrize(
    ("samples", "conditions", "failed"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_single_node_conditions(
    samples: list[HealthSample],
    conditions: HealthConditions,
    failed: dict[Condition, str] | None,
) -> None:
    """Each condition passes or fails on the samples with the reason shown."""
    result = evaluate(samples, conditions)
    (verdict,) = result.nodes
    failures = {r.condition: r.reason for r in verdict.failures}
    if failed is None:
        assert result.passed, result.summary
        assert failures == {}
    else:
        assert not result.passed
        assert set(failures) == set(failed), failures
        for condition, text in failed.items():
            assert text in failures[condition], failures[condition]


def test_tips_consistent_across_nodes() -> None:
    """A node more than k blocks behind the highest fails, naming the leader."""
    samples = [
        sample("a", best_height=100),
        sample("b", best_height=98),
        sample("c", best_height=97),
    ]
    result = evaluate(samples, HealthConditions(max_tip_lag=2))
    verdicts = {v.node: v for v in result.nodes}
    assert verdicts["a"].passed
    assert verdicts["b"].passed
    assert not verdicts["c"].passed
    assert result.reasons() == [
        "c: tip 97 is 3 blocks behind the highest (100 at a); at most 2 allowed"
    ]
    assert result.summary.startswith("1 of 3 nodes failed: c: tip 97")


def test_tips_consistent_uses_latest_samples() -> None:
    """Consistency compares each node's latest height, not its first."""
    samples = [
        sample("a", at=0, best_height=90),
        sample("a", at=10, best_height=100),
        sample("b", at=0, best_height=99),
    ]
    assert evaluate(samples, HealthConditions(max_tip_lag=1)).passed


def test_unreachable_node_does_not_move_the_consistency_bar() -> None:
    """An unreachable node fails itself but is left out of the others' tip comparison."""
    samples = [sample("a", best_height=100), sample("b", best_height=100), down("c")]
    result = evaluate(samples, HealthConditions(max_tip_lag=0))
    assert [v.node for v in result.nodes if not v.passed] == ["c"]


def test_target_without_samples_fails() -> None:
    """A target that was never sampled fails as 'not sampled' rather than being ignored."""
    result = evaluate([sample("a")], HealthConditions(), targets=["a", "b"])
    assert not result.passed
    assert result.reasons() == ["b: not sampled"]


def test_no_targets_is_not_a_pass() -> None:
    """A gate over no nodes at all does not pass silently."""
    result = evaluate([], HealthConditions())
    assert not result.passed
    assert result.summary == "no target nodes"


def test_default_conditions_check_only_status() -> None:
    """With default conditions only status is judged, so a lone stuck node still passes."""
    result = evaluate([sample(peer_count=0, syncing=True)], HealthConditions())
    assert result.passed
    assert result.summary == "all 1 nodes healthy"
    (verdict,) = result.nodes
    assert [r.condition for r in verdict.results] == [Condition.STATUS_OK]


def test_results_round_trip_as_json() -> None:
    """Samples and results serialise, so a run can store them and judge later."""
    samples = [sample("a", at=1.5, validation_errors=2), down("b", at=2.0)]
    restored = [HealthSample.model_validate_json(s.model_dump_json()) for s in samples]
    assert restored == samples
    result = evaluate(restored, ALL)
    assert type(result).model_validate_json(result.model_dump_json()) == result


def test_conditions_refuse_unknown_fields() -> None:
    """A typo in a workflow's health conditions is an error, not a silently skipped check."""
    with pytest.raises(ValueError, match="min_peer"):
        HealthConditions.model_validate({"min_peer": 3})
