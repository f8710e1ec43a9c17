"""Health gates over real /health and /metrics of devnet nodes: each condition, pass and fail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from bot.config import BotConfig
from bot.devnet import Devnet
from bot.environments import NodeConfig
from bot.nodes import NodeClient
from workflows.healthgate import Condition, HealthConditions, HealthSample, HealthSampler, evaluate

from .conftest import FAST_RETRY, FAST_TIMEOUTS, config_for, posts

# Every /health condition. Validation errors are not among them: the daemon exports no metric
# for them, so a gate reads one only where the environment names it (evidence: metric).
ALL = HealthConditions(
    min_peers=1,
    not_syncing=True,
    tip_advancing=True,
    max_tip_lag=2,
)


def mining(devnet: Devnet, blocks: int = 1) -> Callable[[float], Awaitable[None]]:
    """A sampler `sleep` that mines instead of waiting: each interval adds `blocks` blocks."""

    async def sleep(_: float) -> None:
        devnet.mine(blocks)

    return sleep


async def window(
    client: NodeClient, devnet: Devnet, nodes: list[NodeConfig], rounds: int = 3
) -> list[HealthSample]:
    sampler = HealthSampler(client)
    return await sampler.window(
        nodes, duration=rounds - 1, interval=1.0, metrics=True, sleep=mining(devnet)
    )


async def test_healthy_devnet_passes_every_condition(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """Three reachable, peered, advancing, agreeing nodes pass all conditions, via GET only."""
    samples = await window(client, devnet, nodes)
    result = evaluate(samples, ALL, targets=[n.name for n in nodes])
    assert result.passed, result.summary
    assert len(samples) == 9
    assert all(not posts(node) for node in devnet.nodes)  # /health and /metrics, no JSON-RPC


async def test_conditions_for_environment_uses_its_settings(
    devnet: Devnet, config: BotConfig, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """HealthConditions.for_environment takes min_peers and max_tip_lag from the config."""
    conditions = HealthConditions.for_environment(config.environment("testnet"))
    assert conditions.min_peers == 1
    assert conditions.max_tip_lag == 2
    assert evaluate(await window(client, devnet, nodes), conditions).passed


def _failures(
    samples: list[HealthSample], conditions: HealthConditions
) -> dict[str, dict[Condition, str]]:
    result = evaluate(samples, conditions)
    return {
        v.node: {f.condition: f.reason for f in v.failures} for v in result.nodes if not v.passed
    }


async def test_stopped_node_fails_status(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """A node whose process is down fails status_ok as unreachable; the others pass."""
    await devnet.nodes[2].stop_process()
    samples = await HealthSampler(client).sample(nodes)
    failures = _failures(samples, HealthConditions())
    assert list(failures) == [nodes[2].name]
    assert (
        "unreachable in 1 of 1 samples (last: node_unreachable"
        in failures[nodes[2].name][Condition.STATUS_OK]
    )


async def test_no_peers_fails_peers_and_syncing(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """A node that lost its peers fails not_syncing (syncing stays true without real peers),
    though its peer_count still counts the connections it once accepted, as the daemon's does;
    a node that never had a peer fails min_peers too."""
    devnet.nodes[0].faults.peers = 0
    samples = await HealthSampler(client).sample(nodes)
    failures = _failures(samples, HealthConditions(min_peers=1, not_syncing=True))
    assert set(failures) == {nodes[0].name}
    assert set(failures[nodes[0].name]) == {Condition.NOT_SYNCING}
    assert failures[nodes[0].name][Condition.NOT_SYNCING].startswith("still syncing")
    await devnet.nodes[0].stop_process()
    await devnet.nodes[0].start_process()  # no peer connects again
    samples = await HealthSampler(client).sample(nodes)
    reasons = _failures(samples, HealthConditions(min_peers=1, not_syncing=True))[nodes[0].name]
    assert reasons[Condition.MIN_PEERS] == "0 peers, fewer than the 1 required"
    assert "no peers" in reasons[Condition.NOT_SYNCING]


async def test_stalled_tip_fails_advancing_and_then_consistency(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """A stalled node fails tip_advancing; once 3 blocks behind it also fails tips_consistent."""
    devnet.nodes[1].faults.stalled_tip = True
    samples = await window(client, devnet, nodes, rounds=4)  # the others gain 3 blocks
    failures = _failures(samples, HealthConditions(tip_advancing=True, max_tip_lag=2))
    assert set(failures) == {nodes[1].name}
    reasons = failures[nodes[1].name]
    assert reasons[Condition.TIP_ADVANCING].startswith("tip stuck at 1 over")
    assert reasons[Condition.TIPS_CONSISTENT].startswith("tip 1 is 3 blocks behind the highest (4")


async def test_small_lag_is_consistent(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """A node 2 blocks behind is within max_tip_lag 2."""
    devnet.nodes[1].faults.stalled_tip = True
    devnet.mine(2)
    samples = await HealthSampler(client).sample(nodes)
    assert evaluate(samples, HealthConditions(max_tip_lag=2)).passed
    assert not evaluate(samples, HealthConditions(max_tip_lag=1)).passed


async def test_validation_errors_rising_fail() -> None:
    """On a node that exports a validation-error counter (the devnet's opt-in `future`
    dialect), a rise over the window fails that condition for that node only."""
    async with (
        Devnet("testnet", nodes=3, block_interval=0, dialect="future") as devnet,
        NodeClient(retry=FAST_RETRY, timeouts=FAST_TIMEOUTS) as client,
    ):
        nodes = config_for(devnet).nodes("testnet")
        samples_before = await HealthSampler(client).sample(nodes, metrics=True)
        devnet.nodes[0].faults.validation_errors = True
        devnet.mine(2)
        samples_after = await HealthSampler(client).sample(nodes, metrics=True)
    failures = _failures(
        samples_before + samples_after, HealthConditions(no_validation_error_rise=True)
    )
    assert set(failures) == {nodes[0].name}
    assert failures[nodes[0].name][Condition.NO_VALIDATION_ERROR_RISE].startswith(
        "validation errors rose by 3 (0 -> 3)"
    )


async def test_a_metric_the_daemon_lacks_fails_naming_node_and_metric(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """The daemon's /metrics has no validation-error counter: a gate told to read one fails
    for every node, naming the node and the metric, never passing for want of a number."""
    metric = "pantheon_validation_errors_total"
    samples = await window(client, devnet, nodes, rounds=2)
    failures = _failures(
        samples, HealthConditions(no_validation_error_rise=True, validation_metric=metric)
    )
    assert set(failures) == {n.name for n in nodes}
    reason = failures[nodes[0].name][Condition.NO_VALIDATION_ERROR_RISE]
    assert f"no {metric} in /metrics" in reason


async def test_metrics_unreadable_fails_validation_condition(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """Without /metrics samples the validation condition fails closed, saying why."""
    samples = await window(client, devnet, nodes[:1], rounds=2)
    stripped = [
        s.model_copy(
            update={"validation_errors": None, "metrics_error": "/metrics: node_timeout: slow"}
        )
        for s in samples
    ]
    failures = _failures(stripped, HealthConditions(no_validation_error_rise=True))
    assert (
        "(/metrics: node_timeout: slow)"
        in failures[nodes[0].name][Condition.NO_VALIDATION_ERROR_RISE]
    )


@pytest.mark.parametrize("rounds", [2, 5])
async def test_window_takes_rounds_of_samples(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient, rounds: int
) -> None:
    """A window of duration d and interval i takes d/i + 1 rounds, first and last included."""
    samples = await window(client, devnet, nodes, rounds=rounds)
    assert len(samples) == rounds * len(nodes)
    heights = sorted({s.health.best_height for s in samples if s.health})
    assert heights == list(range(1, rounds + 1))
