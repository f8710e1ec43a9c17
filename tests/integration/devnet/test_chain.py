"""Heights, hashes, networks and restarts: what the bot's guard and continuity checks rely on."""

from __future__ import annotations

import asyncio
import hashlib

import aiohttp
import pytest

from bot.devnet import GENESIS_HASHES, Devnet, DevnetNode

from .conftest import get, rpc


@pytest.mark.parametrize("network", ["mainnet", "testnet", "regtest"])
async def test_genesis_hash_names_the_network(session: aiohttp.ClientSession, network: str) -> None:
    """getblock [1].hash is the network's known genesis hash, and genesis is height 1."""
    async with Devnet(network, nodes=1, block_interval=0) as net:
        node = net.nodes[0]
        assert (await rpc(session, node, "getblockcount")).json["result"] == 1
        block = (await rpc(session, node, "getblock", [1])).json["result"]
        assert block["hash"] == GENESIS_HASHES[network]
        assert block["previousblockhash"] == "0" * 64
        assert node.name == f"{network[:4]}-1"


async def test_block_hashes_are_deterministic_and_linked(
    session: aiohttp.ClientSession, devnet: Devnet
) -> None:
    """Block h's hash is sha256(genesis || h || previous hash), and each block names its parent."""
    devnet.mine(4)
    node = devnet.nodes[0]
    previous = GENESIS_HASHES["testnet"]
    for height in range(2, 6):
        block = (await rpc(session, node, "getblock", [height])).json["result"]
        data = (
            bytes.fromhex(GENESIS_HASHES["testnet"])
            + height.to_bytes(8, "big")
            + bytes.fromhex(previous)
        )
        assert block["hash"] == hashlib.sha256(data).hexdigest()
        assert block["previousblockhash"] == previous
        assert block["height"] == height
        assert {"version", "timestamp", "nonce", "merkleroot", "tx", "size"} <= set(block)
        previous = block["hash"]


async def test_all_nodes_agree_on_the_chain(session: aiohttp.ClientSession, devnet: Devnet) -> None:
    """Healthy nodes of one devnet report the same height and tip hash."""
    devnet.mine(2)
    tips = set()
    for node in devnet.nodes:
        height = (await rpc(session, node, "getblockcount")).json["result"]
        tips.add((height, (await rpc(session, node, "getblock", [height])).json["result"]["hash"]))
    assert tips == {(3, devnet.nodes[0].tip_hash)}


async def test_tip_advances_with_time(session: aiohttp.ClientSession) -> None:
    """With a block interval the tip grows by itself, with no task per node."""
    async with Devnet("regtest", nodes=1, block_interval=0.05) as net:
        node = net.nodes[0]
        first = (await rpc(session, node, "getblockcount")).json["result"]
        await asyncio.sleep(0.3)
        assert (await rpc(session, node, "getblockcount")).json["result"] > first


async def test_restart_keeps_heights_and_hashes(
    session: aiohttp.ClientSession, devnet: Devnet
) -> None:
    """After stop_process/start_process (chainstate rebuild) every block has its old hash."""
    devnet.mine(5)
    node = devnet.nodes[1]
    before = [
        (await rpc(session, node, "getblock", [h])).json["result"]["hash"] for h in range(1, 7)
    ]
    await node.stop_process()
    assert not node.running
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(session, node, "/health")
    await node.stop_process()  # a second stop is harmless
    await node.start_process()
    assert node.running
    assert node.starts == 2
    after = [
        (await rpc(session, node, "getblock", [h])).json["result"]["hash"] for h in range(1, 7)
    ]
    assert after == before
    assert (await get(session, node, "/health")).json["status"] == "ok"


async def test_port_is_kept_across_restarts(devnet: Devnet) -> None:
    """A restarted node listens on the same port (the bot's inventory does not change)."""
    node = devnet.nodes[2]
    url = node.url
    await node.stop_process()
    await node.start_process()
    assert node.url == url


async def test_basic_transaction(session: aiohttp.ClientSession, devnet: Devnet) -> None:
    """A funded wallet sends to a new address; the balance drops, the txid is in the next block."""
    node = devnet.nodes[0]
    address = (await rpc(session, node, "getnewaddress", [])).json["result"]
    assert len(address) == 64
    int(address, 16)
    before = (await rpc(session, node, "getbalance", [])).json["result"]
    assert before["amount_raw"] > 0
    txid = (await rpc(session, node, "sendtoaddress", [address, 12_345])).json["result"]
    assert len(txid) == 64
    after = (await rpc(session, node, "getbalance", [0])).json["result"]
    assert after["amount_raw"] == before["amount_raw"] - 12_345
    height = devnet.mine(1)
    block = (await rpc(session, devnet.nodes[2], "getblock", [height])).json["result"]
    assert txid in block["tx"]


async def test_other_assets_and_denominations(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """getbalance takes an asset (0..2) and a denomination; sends can name the asset."""
    drachma = (await rpc(session, node, "getbalance", [1, "base"])).json["result"]
    assert drachma["token"] == "DRACHMA"
    assert drachma["denom_used"] == "base"
    assert drachma["amount"] == str(drachma["amount_raw"])
    address = (await rpc(session, node, "getnewaddress", ["label"])).json["result"]
    await rpc(session, node, "sendtoaddress", [address, 5, 2])
    obolos = (await rpc(session, node, "getbalance", [2])).json["result"]
    assert obolos["amount_raw"] == drachma["amount_raw"] - 5


async def test_sendrawtransaction_returns_a_txid(
    session: aiohttp.ClientSession, devnet: Devnet
) -> None:
    """sendrawtransaction accepts hex and returns the double-sha256 txid."""
    raw = "0100" * 20
    reply = await rpc(session, devnet.nodes[0], "sendrawtransaction", [raw])
    expected = hashlib.sha256(hashlib.sha256(bytes.fromhex(raw)).digest()).hexdigest()
    assert reply.json["result"] == expected


async def test_several_devnets_in_one_process(session: aiohttp.ClientSession) -> None:
    """Regtest, testnet and mainnet devnets run side by side, each on its own chain and ports."""
    nets = [
        Devnet("regtest", nodes=1, block_interval=0),
        Devnet("testnet", nodes=3, canaries=1, block_interval=0),
        Devnet("mainnet", nodes=10, block_interval=0),
    ]
    for net in nets:
        await net.start()
    try:
        ports = {n.port for net in nets for n in net.nodes} | {net.deploy.port for net in nets}
        assert len(ports) == 14 + 3
        for net in nets:
            for node in net.nodes:
                block = (await rpc(session, node, "getblock", [1])).json["result"]
                assert block["hash"] == GENESIS_HASHES[net.network]
        assert [n.canary for n in nets[1].nodes] == [True, False, False]
        assert [n.role for n in nets[1].nodes] == ["miner", "validator", "rpc-edge"]
        assert nets[2].nodes[-1].name == "main-10"
    finally:
        for net in nets:
            await net.stop()
