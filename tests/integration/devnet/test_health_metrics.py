"""/health and /metrics as the daemon serves them, including the broken exposition format."""

from __future__ import annotations

import re

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.devnet import Devnet, DevnetNode

from .conftest import get, rpc


async def test_health_shape(session: aiohttp.ClientSession, node: DevnetNode) -> None:
    """/health has exactly the daemon's six keys, sorted, with the node's port and height."""
    reply = await get(session, node, "/health")
    assert reply.status == 200
    assert reply.text == (
        f'{{"best_height":1,"peer_count":2,"rpc_port":{node.port},"status":"ok",'
        f'"sync_progress":100.0,"syncing":false}}'
    )


async def test_lone_regtest_node_has_no_peers_and_syncs_forever(
    session: aiohttp.ClientSession,
) -> None:
    """A one-node devnet has no peer, so it says syncing, like a lone regtest daemon; given a
    peer it stops syncing, and peer_count keeps counting the connection after the peer left."""
    async with Devnet("regtest", nodes=1, block_interval=0) as net:
        node = net.nodes[0]
        health = (await get(session, node, "/health")).json
        assert (health["peer_count"], health["syncing"]) == (0, True)
        node.faults.peers = 1
        health = (await get(session, node, "/health")).json
        assert (health["peer_count"], health["syncing"]) == (1, False)
        node.faults.peers = 0
        health = (await get(session, node, "/health")).json
        assert (health["peer_count"], health["syncing"]) == (1, True)


async def test_metrics_are_not_valid_exposition_format(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """/metrics has labels on its # TYPE lines, so prometheus_client's strict parser rejects it."""
    await rpc(session, node, "getblockcount")
    text = (await get(session, node, "/metrics")).text
    assert any(line.startswith("# TYPE pantheon_") and "{" in line for line in text.splitlines())
    with pytest.raises(ValueError):  # noqa: PT011 - the parser raises a bare ValueError
        list(text_string_to_metric_families(text))


def _samples(text: str) -> dict[str, float]:
    """A lenient line-by-line parse, the way the bot has to read it."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def test_metrics_names_and_counters(
    session: aiohttp.ClientSession, devnet: Devnet, node: DevnetNode
) -> None:
    """Exactly the daemon's five families, and RPC counters count by method and status."""
    devnet.mine(2)
    await rpc(session, node, "getblockcount")
    await rpc(session, node, "getblockcount")
    await rpc(session, node, "getblock", [0])
    samples = _samples((await get(session, node, "/metrics")).text)
    assert samples["pantheon_best_block_height"] == 3
    assert samples["pantheon_peer_count"] == 2
    assert samples["pantheon_syncing"] == 0
    text = (await get(session, node, "/metrics")).text
    families = {line.split()[2].split("{")[0] for line in text.splitlines()
                if line.startswith("# TYPE ")}
    assert families == {
        "pantheon_best_block_height", "pantheon_peer_count", "pantheon_syncing",
        "pantheon_rpc_requests_total", "pantheon_rpc_request_duration_seconds",
    }
    assert samples['pantheon_rpc_requests_total{method="getblockcount",status="ok"}'] == 2
    assert samples['pantheon_rpc_requests_total{method="getblock",status="error"}'] == 1
    assert samples["pantheon_rpc_request_duration_seconds_count"] == 3
    assert samples['pantheon_rpc_request_duration_seconds_bucket{le="+Inf"}'] == 3


@pytest.mark.parametrize("network", ["mainnet", "testnet", "regtest"])
async def test_metrics_do_not_name_the_network(
    session: aiohttp.ClientSession, network: str
) -> None:
    """Nothing the daemon serves names its network (the genesis hash is the only identity), so
    /metrics does not either, not even in the labels of its `# TYPE` lines; nor does a node
    on another network's chain."""
    async with Devnet(network, nodes=1, block_interval=0) as net:
        node = net.nodes[0]
        for wrong in (False, True):
            node.faults.wrong_network = wrong
            text = (await get(session, node, "/metrics")).text
            assert not {"mainnet", "testnet", "regtest", "network"} & set(
                re.findall(r"[a-z]+", text)
            )


async def test_unknown_method_names_do_not_become_labels(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """A client-chosen method name is counted as "unknown", so it cannot inject label text."""
    await rpc(session, node, 'evil"} 1\nx{')
    text = (await get(session, node, "/metrics")).text
    assert 'pantheon_rpc_requests_total{method="unknown",status="unknown_method"} 1' in text
    assert "evil" not in text


async def test_metrics_reset_on_restart(session: aiohttp.ClientSession, node: DevnetNode) -> None:
    """RPC counters are in memory and start from zero after a restart."""
    await rpc(session, node, "getblockcount")
    await node.stop_process()
    await node.start_process()
    text = (await get(session, node, "/metrics")).text
    assert "pantheon_rpc_request_duration_seconds_count 0" in text


async def test_future_dialect_also_exports_validation_errors(
    session: aiohttp.ClientSession,
) -> None:
    """Only the opt-in `future` dialect has a validation-error counter; it rises with the fault."""
    async with Devnet("testnet", nodes=2, block_interval=0, dialect="future") as net:
        node = net.nodes[0]
        samples = _samples((await get(session, node, "/metrics")).text)
        assert samples["pantheon_validation_errors_total"] == 0
        node.faults.validation_errors = True
        net.mine(2)
        samples = _samples((await get(session, node, "/metrics")).text)
        assert samples["pantheon_validation_errors_total"] == 3
