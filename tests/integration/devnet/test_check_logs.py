"""The deploy receiver's `check-logs`: the validation errors each node logged over a window
(the daemon exports none on /metrics; they reach only its log)."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp

from bot.devnet import Devnet, sign_deploy_body

SECRET = "devnet-deploy-secret"


async def check_logs(
    session: aiohttp.ClientSession, net: Devnet, body: dict[str, Any], key: str
) -> tuple[int, dict[str, Any]]:
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Parthenon-Timestamp": stamp,
        "X-Parthenon-Signature": sign_deploy_body(SECRET, stamp, raw),
        "Idempotency-Key": key,
    }
    async with session.post(net.deploy.url, data=raw, headers=headers) as response:
        return response.status, await response.json()


def body(nodes: list[str], since: float, until: float) -> dict[str, Any]:
    return {"action": "check-logs", "fact": "validation_errors", "environment": "testnet",
            "nodes": nodes, "since": int(since), "until": int(until) + 1}


async def test_check_logs_counts_each_nodes_errors_in_the_window(
    session: aiohttp.ClientSession, devnet: Devnet
) -> None:
    """A node rejecting blocks logs one error when it starts and one per block; the answer
    counts per named node, only inside the window, and acts on no node."""
    bad, good = devnet.nodes[0], devnet.nodes[1]
    before = time.time() - 5
    bad.faults.validation_errors = True
    devnet.mine(2)
    now = time.time()
    status, answer = await check_logs(session, devnet, body([bad.name, good.name], before, now),
                                      "k1")
    assert status == 200
    assert answer["nodes"] == {bad.name: {"validation_errors": 3},
                               good.name: {"validation_errors": 0}}
    status, answer = await check_logs(session, devnet, body([bad.name], before - 60, before),
                                      "k2")
    assert answer["nodes"] == {bad.name: {"validation_errors": 0}}
    assert devnet.deploy.applied == []
    assert bad.starts == 1


async def test_check_logs_refuses_a_window_that_is_not_epoch_seconds(
    session: aiohttp.ClientSession, devnet: Devnet
) -> None:
    """A window given as text is refused 400, and an unknown node 404, naming it."""
    bad = {**body([devnet.nodes[0].name], 0, 0), "since": "yesterday"}
    status, answer = await check_logs(session, devnet, bad, "k3")
    assert (status, answer["error"]) == (400, "since and until are epoch seconds")
    status, answer = await check_logs(session, devnet, body(["nope-9"], 0, 1), "k4")
    assert status == 404
    assert "nope-9" in answer["error"]
