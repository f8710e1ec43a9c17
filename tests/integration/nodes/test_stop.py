"""`stop` with verification: the outcome is what the node looks like afterwards, never assumed."""

from __future__ import annotations

from collections.abc import Callable

from bot.devnet import Devnet
from bot.environments import NodeConfig
from bot.nodes import NodeClient, Timeouts
from workflows.nodereplies import StopOutcome

from .conftest import ENV, config_for


async def test_clean_stop_is_verified_stopped(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """A node that answers "Node stopping" and goes away is STOPPED."""
    result = await client.stop(nodes[0])
    assert result.outcome is StopOutcome.STOPPED
    assert result.sent is True
    assert result.reply == "Node stopping"
    assert result.stop_error is None
    assert not devnet.nodes[0].running


async def test_hanging_stop_is_still_running(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """A stop that does not answer while /health says ok ends STILL_RUNNING, with the timeout."""
    devnet.nodes[0].faults.hanging_stop = 30.0
    result = await client.stop(nodes[0], stop_timeout=0.3, verify=0.5)
    assert result.outcome is StopOutcome.STILL_RUNNING
    assert result.sent is True
    assert result.stop_error == "node_timeout"
    assert "/health still says ok" in result.evidence
    assert devnet.nodes[0].running


async def test_stop_of_a_node_already_down(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """A node whose port refuses connections is STOPPED, and the stop was never sent."""
    await devnet.nodes[0].stop_process()
    result = await client.stop(nodes[0])
    assert result.outcome is StopOutcome.STOPPED
    assert result.sent is False
    assert result.stop_error == "node_unreachable"


async def test_stop_with_a_broken_health_endpoint_is_unknown(
    devnet: Devnet, nodes: list[NodeConfig], make_client: Callable[..., NodeClient]
) -> None:
    """When neither stop nor /health answer in time, the outcome is UNKNOWN, not a guess."""
    devnet.nodes[0].faults.latency = 5.0
    async with make_client(timeouts=Timeouts(health=0.2, stop_poll=0.05)) as client:
        result = await client.stop(nodes[0], stop_timeout=0.2, verify=0.3)
    assert result.outcome is StopOutcome.UNKNOWN
    assert result.stop_error == "node_timeout"
    devnet.nodes[0].faults.latency = 0.0


async def test_refused_stop_looks_once_and_reports_still_running(devnet: Devnet) -> None:
    """A stop the node refused (401) is looked at once: STILL_RUNNING, with the auth error."""
    config = config_for(devnet, env={**ENV, "PARTHENON_RPC_PASSWORD_TESTNET": "wrong"})
    async with NodeClient(timeouts=Timeouts(stop_verify=30.0)) as client:
        result = await client.stop(config.nodes("testnet")[0])
    assert result.outcome is StopOutcome.STILL_RUNNING
    assert result.stop_error == "node_auth"
    assert "HTTP 401" in result.evidence
    assert len(devnet.nodes[0].request_log) == 2  # the refused stop and one /health
