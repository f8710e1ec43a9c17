"""Each fault knob changes what the node answers, from the next request on."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest

from bot.devnet import GENESIS_HASHES, Devnet, DevnetError, DevnetNode, NodeFaults

from .conftest import get, rpc


async def _height(session: aiohttp.ClientSession, node: DevnetNode) -> int:
    return int((await rpc(session, node, "getblockcount")).json["result"])


async def _hash(session: aiohttp.ClientSession, node: DevnetNode, height: int) -> str:
    return str((await rpc(session, node, "getblock", [height])).json["result"]["hash"])


async def test_latency_delays_every_response(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """latency adds seconds before RPC and /health answers."""
    node.faults.latency = 0.2
    started = time.monotonic()
    await rpc(session, node, "getblockcount")
    await get(session, node, "/health")
    assert time.monotonic() - started >= 0.4


@pytest.mark.parametrize(("knob", "status"), [(True, 503), (500, 500), (502, 502)])
async def test_http_5xx_on_post(
    session: aiohttp.ClientSession, node: DevnetNode, knob: bool | int, status: int
) -> None:
    """http_5xx makes POST / answer a 5xx with a non-JSON body; /health is unaffected."""
    node.faults.http_5xx = knob
    reply = await rpc(session, node, "getblockcount")
    assert reply.status == status
    with pytest.raises(ValueError):  # noqa: PT011 - json's error
        json.loads(reply.text)
    assert (await get(session, node, "/health")).status == 200
    node.faults.http_5xx = False
    assert (await rpc(session, node, "getblockcount")).status == 200


async def test_refuse_connections_closes_and_reopens_the_port(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """refuse_connections refuses at once (open connections cut too) and off re-opens the port."""
    port = node.port
    assert (await get(session, node, "/health")).status == 200  # a pooled connection now exists
    node.faults.refuse_connections = True
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(session, node, "/health")
    with pytest.raises(aiohttp.ClientConnectionError):
        await rpc(session, node, "getblockcount")
    node.faults.refuse_connections = False
    assert node.port == port
    assert (await get(session, node, "/health")).status == 200


async def test_refuse_connections_survives_a_restart(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """A node restarted while refusing keeps refusing until the knob is switched off."""
    node.faults.refuse_connections = True
    await node.stop_process()
    await node.start_process()
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(session, node, "/health")
    node.faults.refuse_connections = False
    assert (await get(session, node, "/health")).status == 200


@pytest.mark.parametrize(
    ("network", "knob", "reported"),
    [
        ("testnet", True, "mainnet"),
        ("regtest", True, "mainnet"),
        ("mainnet", True, "testnet"),
        ("testnet", "regtest", "regtest"),
    ],
)
async def test_wrong_network_reports_another_genesis(
    session: aiohttp.ClientSession, network: str, knob: bool | str, reported: str
) -> None:
    """wrong_network makes getblock [1] return another network's genesis hash."""
    async with Devnet(network, nodes=1, block_interval=0) as net:
        node = net.nodes[0]
        node.faults.wrong_network = knob
        assert await _hash(session, node, 1) == GENESIS_HASHES[reported]
        node.faults.wrong_network = False
        assert await _hash(session, node, 1) == GENESIS_HASHES[network]


async def test_stalled_tip_stops_the_height(session: aiohttp.ClientSession, devnet: Devnet) -> None:
    """stalled_tip freezes a node's height while the others advance; off, it catches up."""
    stalled, healthy = devnet.nodes[0], devnet.nodes[1]
    devnet.mine(2)
    stalled.faults.stalled_tip = True
    devnet.mine(3)
    assert await _height(session, stalled) == 3
    assert (await get(session, stalled, "/health")).json["best_height"] == 3
    assert await _height(session, healthy) == 6
    stalled.faults.stalled_tip = False
    assert await _height(session, stalled) == 6


async def test_stalled_tip_at_a_given_height(
    session: aiohttp.ClientSession, devnet: Devnet, node: DevnetNode
) -> None:
    """An integer stalled_tip caps the height at that block."""
    node.faults.stalled_tip = 4
    devnet.mine(10)
    assert await _height(session, node) == 4


async def test_peers_fault(session: aiohttp.ClientSession, node: DevnetNode) -> None:
    """peers=0: the node says syncing in /health, getinfo and /metrics, while peer_count keeps
    counting every connection ever accepted (2); new peers add to it; a restart starts over."""
    node.faults.peers = 0
    health = (await get(session, node, "/health")).json
    assert (health["peer_count"], health["syncing"]) == (2, True)
    info = (await rpc(session, node, "getinfo")).json["result"]
    assert (info["connections"], info["syncing"]) == (2, True)
    metrics = (await get(session, node, "/metrics")).text
    assert "pantheon_peer_count 2" in metrics
    assert "pantheon_syncing 1" in metrics
    node.faults.peers = 7
    health = (await get(session, node, "/health")).json
    assert (health["peer_count"], health["syncing"]) == (9, False)
    await node.stop_process()
    await node.start_process()
    assert (await get(session, node, "/health")).json["peer_count"] == 7


async def test_divergent_tip_from_a_height(session: aiohttp.ClientSession, devnet: Devnet) -> None:
    """divergent_tip=H keeps blocks below H shared and makes H and later differ from the others."""
    forked, healthy = devnet.nodes[0], devnet.nodes[1]
    devnet.mine(5)
    forked.faults.divergent_tip = 4
    assert await _hash(session, forked, 3) == await _hash(session, healthy, 3)
    assert await _hash(session, forked, 4) != await _hash(session, healthy, 4)
    assert forked.tip_hash != healthy.tip_hash
    assert await _height(session, forked) == await _height(session, healthy)
    forked.faults.divergent_tip = False
    assert await _hash(session, forked, 6) == await _hash(session, healthy, 6)


async def test_divergent_tip_now(session: aiohttp.ClientSession, devnet: Devnet) -> None:
    """divergent_tip=True forks at the current tip, so the tip hash differs at once."""
    devnet.mine(2)
    forked, healthy = devnet.nodes[0], devnet.nodes[2]
    forked.faults.divergent_tip = True
    assert await _hash(session, forked, 3) != await _hash(session, healthy, 3)
    assert await _hash(session, forked, 2) == await _hash(session, healthy, 2)


async def test_validation_errors_reach_the_log_not_the_metrics(
    session: aiohttp.ClientSession, devnet: Devnet, node: DevnetNode
) -> None:
    """validation_errors logs one error when set and one each block; off, it stops. Like the
    daemon, the default dialect exports none of them on /metrics."""
    start = time.time() - 1
    node.faults.validation_errors = True
    assert node.validation_errors_logged(start, time.time() + 1) == 1
    devnet.mine(2)
    await get(session, node, "/health")
    node.faults.validation_errors = False
    devnet.mine(2)
    assert node.validation_errors_logged(start, time.time() + 1) == 3
    assert node.validation_errors_logged(start - 100, start) == 0
    assert "validation" not in (await get(session, node, "/metrics")).text


async def test_huge_reply_is_padded_valid_json(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """huge_reply pads the JSON-RPC answer to the given size; it still parses."""
    node.faults.huge_reply = 2_000_000
    reply = await rpc(session, node, "getblockcount")
    assert len(reply.text) >= 2_000_000
    assert reply.json["result"] == 1


async def test_garbage_reply_is_not_json(session: aiohttp.ClientSession, node: DevnetNode) -> None:
    """garbage_reply answers HTTP 200 with a body that is not JSON."""
    node.faults.garbage_reply = True
    headers = {"Authorization": "Basic cGFydGhlbm9uOmRldm5ldC1wYXNzd29yZA=="}
    body = {"jsonrpc": "2.0", "id": "1", "method": "getblockcount", "params": []}
    async with session.post(node.url, json=body, headers=headers) as response:
        assert response.status == 200
        raw = await response.read()
    with pytest.raises(ValueError):  # noqa: PT011 - json's error
        json.loads(raw)


async def test_slow_trickle_outlasts_a_client_timeout(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """slow_trickle sends the body a byte at a time, so a client with a deadline times out."""
    node.faults.slow_trickle = 0.05
    headers = {"Authorization": "Basic cGFydGhlbm9uOmRldm5ldC1wYXNzd29yZA=="}
    body = {"jsonrpc": "2.0", "id": "1", "method": "getblockcount", "params": []}
    with pytest.raises(TimeoutError):
        async with session.post(
            node.url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=0.5)
        ) as response:
            await response.read()
    node.faults.slow_trickle = False
    assert (await rpc(session, node, "getblockcount")).json["result"] == 1


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("latency", -1),
        ("http_5xx", 404),
        ("wrong_network", "devnet"),
        ("stalled_tip", 0),
        ("peers", -2),
        ("refuse_connections", "yes"),
        ("no_such_knob", True),
    ],
)
def test_bad_fault_values_are_rejected(knob: str, value: object) -> None:
    """Unknown knobs and values the node cannot act on raise DevnetError, changing nothing."""
    faults = NodeFaults()
    with pytest.raises(DevnetError):
        faults.update({"latency": 1.0, knob: value})
    assert faults == NodeFaults()


async def test_faults_can_be_replaced_and_reset(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """Assigning a new NodeFaults applies all its knobs; reset() switches everything off."""
    node.faults = NodeFaults(peers=0, http_5xx=True)
    assert (await rpc(session, node, "getblockcount")).status == 503
    node.faults.reset()
    assert (await rpc(session, node, "getblockcount")).status == 200
    assert node.faults == NodeFaults()
