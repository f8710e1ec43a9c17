"""The deploy receiver: signed, idempotent webhook calls that act on the devnet's nodes."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot.config import load_config
from bot.devnet import Devnet, sign_deploy_body

from .conftest import rpc

SECRET = "devnet-deploy-secret"


async def call(
    session: aiohttp.ClientSession,
    net: Devnet,
    body: dict[str, Any],
    *,
    key: str | None = "key-1",
    secret: str = SECRET,
    timestamp: int | None = None,
    signature: str | None = None,
) -> tuple[int, dict[str, Any]]:
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": "application/json",
        "X-Parthenon-Timestamp": stamp,
        "X-Parthenon-Signature": signature or sign_deploy_body(secret, stamp, raw),
    }
    if key is not None:
        headers["Idempotency-Key"] = key
    async with session.post(net.deploy.url, data=raw, headers=headers) as response:
        return response.status, await response.json()


def deploy_body(action: str, nodes: list[str], version: str | None = None) -> dict[str, Any]:
    return {
        "action": action,
        "environment": "testnet",
        "nodes": nodes,
        "version": version,
        "run_id": "run-1",
        "step_id": "deploy-canary",
        "params": {},
    }


async def test_deploy_sets_version_and_restarts(
    session: aiohttp.ClientSession, devnet: Devnet
) -> None:
    """A signed deploy installs the release, restarts the node, says what it installed, and the
    chain is unchanged; the node's getinfo.version stays the daemon's constant 100."""
    node = devnet.nodes[0]
    devnet.mine(3)
    tip = node.tip_hash
    status, answer = await call(session, devnet, deploy_body("deploy", [node.name], "1.4.2"))
    assert (status, answer["status"]) == (200, "done")
    assert answer["installed"] == {node.name: "1.4.2"}
    assert node.version == "1.4.2"
    assert node.starts == 2
    assert devnet.nodes[1].starts == 1
    info = (await rpc(session, node, "getinfo")).json["result"]
    assert (info["version"], info["protocolversion"]) == (100, 70015)
    assert (await rpc(session, node, "getblock", [4])).json["result"]["hash"] == tip
    assert devnet.deploy.requests[-1].applied


async def test_repeated_key_does_not_act_twice(
    session: aiohttp.ClientSession, devnet: Devnet
) -> None:
    """A repeated Idempotency-Key gets the first answer again; the node is not restarted again."""
    node = devnet.nodes[1]
    body = deploy_body("restart", [node.name])
    first = await call(session, devnet, body, key="same")
    second = await call(session, devnet, body, key="same")
    assert first == second
    assert node.starts == 2
    assert [r.applied for r in devnet.deploy.requests] == [True, False]
    assert [r.replay for r in devnet.deploy.requests] == [False, True]


async def test_concurrent_duplicates_act_once(
    session: aiohttp.ClientSession, devnet: Devnet
) -> None:
    """Two simultaneous deliveries with one key restart the node once."""
    node = devnet.nodes[2]
    body = deploy_body("restart", [node.name])
    results = await asyncio.gather(*(call(session, devnet, body, key="race") for _ in range(4)))
    assert len({json.dumps(r, sort_keys=True) for r in results}) == 1
    assert node.starts == 2
    assert len(devnet.deploy.applied) == 1


async def test_stop_and_start_actions(session: aiohttp.ClientSession, devnet: Devnet) -> None:
    """stop takes the named nodes down and start brings them back."""
    names = [n.name for n in devnet.nodes[:2]]
    assert (await call(session, devnet, deploy_body("stop", names), key="k1"))[0] == 200
    assert [n.running for n in devnet.nodes] == [False, False, True]
    assert (await call(session, devnet, deploy_body("start", names), key="k2"))[0] == 200
    assert all(n.running for n in devnet.nodes)


@pytest.mark.parametrize(
    ("mutation", "reason"),
    [
        ({"secret": "wrong"}, "bad signature"),
        ({"skew": -301}, "stale timestamp"),
        ({"skew": 400}, "stale timestamp"),
        ({"signature": "v1=" + "0" * 64}, "bad signature"),
        ({"signature": "sha256=abc"}, "bad signature"),
    ],
)
async def test_bad_signatures_are_refused(
    session: aiohttp.ClientSession, devnet: Devnet, mutation: dict[str, Any], reason: str
) -> None:
    """A wrong secret, a forged signature or a timestamp over 300 s off: 401, nothing done."""
    node = devnet.nodes[0]
    if "skew" in mutation:  # relative to now, not to when the module was collected
        mutation = {"timestamp": int(time.time()) + mutation["skew"]}
    status, answer = await call(session, devnet, deploy_body("restart", [node.name]), **mutation)
    assert (status, answer) == (401, {"error": reason})
    assert node.starts == 1
    assert not devnet.deploy.requests[-1].applied


async def test_missing_signature_headers_are_refused(
    session: aiohttp.ClientSession, devnet: Devnet
) -> None:
    """A request without the signature headers is a 401."""
    async with session.post(devnet.deploy.url, json=deploy_body("stop", ["test-1"])) as response:
        assert response.status == 401
    assert devnet.nodes[0].running


async def test_refused_request_does_not_burn_the_key(
    session: aiohttp.ClientSession, devnet: Devnet
) -> None:
    """A badly signed request does not claim its Idempotency-Key; the good one still acts."""
    body = deploy_body("restart", ["test-1"])
    assert (await call(session, devnet, body, key="k", secret="wrong"))[0] == 401
    assert (await call(session, devnet, body, key="k"))[0] == 200
    assert devnet.nodes[0].starts == 2


async def test_verify_version_reports_installed_releases_and_acts_on_nothing(
    session: aiohttp.ClientSession, devnet: Devnet
) -> None:
    """`verify-version` (signed like the rest) answers each named node's installed release and
    does not touch the nodes; an unknown node is a 404."""
    first, second = devnet.nodes[0], devnet.nodes[1]
    await call(session, devnet, deploy_body("deploy", [first.name], "v1.4.2"), key="deploy-1")
    body = deploy_body("verify-version", [first.name, second.name])
    status, answer = await call(session, devnet, body, key="verify-1")
    assert status == 200
    assert answer["installed"] == {first.name: "v1.4.2", second.name: "1.0.0"}
    assert (first.starts, second.starts) == (2, 1)
    assert not devnet.deploy.requests[-1].applied
    bad = await call(session, devnet, deploy_body("verify-version", ["test-9"]), key="verify-2")
    assert bad[0] == 404
    unsigned = await call(session, devnet, body, key="verify-3", secret="wrong")
    assert unsigned[0] == 401


async def test_future_dialect_reports_the_release_in_getinfo(
    session: aiohttp.ClientSession,
) -> None:
    """The opt-in `future` dialect models a daemon whose getinfo.version is the release."""
    async with Devnet("testnet", nodes=1, block_interval=0, dialect="future") as net:
        node = net.nodes[0]
        await call(session, net, deploy_body("deploy", [node.name], "v1.4.2"))
        info = (await rpc(session, node, "getinfo")).json["result"]
        assert info["version"] == "v1.4.2"


async def test_unknown_actions_are_accepted_and_recorded(
    session: aiohttp.ClientSession, devnet: Devnet
) -> None:
    """Actions the devnet cannot perform (snapshot) are answered 200 accepted and not applied."""
    status, answer = await call(session, devnet, deploy_body("snapshot", ["test-1"]))
    assert (status, answer) == (200, {"status": "accepted"})
    record = devnet.deploy.requests[-1]
    assert (record.action, record.applied) == ("snapshot", False)
    assert record.body is not None
    assert record.body["run_id"] == "run-1"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (deploy_body("restart", ["test-9"]), 404),
        ({"environment": "testnet", "nodes": []}, 400),
        ({"action": "stop", "nodes": "test-1"}, 400),
    ],
)
async def test_bad_bodies_are_rejected(
    session: aiohttp.ClientSession, devnet: Devnet, body: dict[str, Any], status: int
) -> None:
    """Unknown nodes, a missing action or malformed node lists are rejected and nothing happens."""
    assert (await call(session, devnet, body))[0] == status
    assert all(n.starts == 1 for n in devnet.nodes)


async def test_missing_idempotency_key_is_rejected(
    session: aiohttp.ClientSession, devnet: Devnet
) -> None:
    """Without an Idempotency-Key the receiver refuses to act (400)."""
    assert (await call(session, devnet, deploy_body("restart", ["test-1"]), key=None))[0] == 400
    assert devnet.nodes[0].starts == 1


async def test_write_config_shape_and_merge(tmp_path: Path) -> None:
    """write_config writes the agreed YAML shape and merges several devnets into one file."""
    path = tmp_path / "bot.yaml"
    path.write_text("slack: {app_token_env: X}\n")
    async with (
        Devnet("testnet", nodes=3, block_interval=0) as testnet,
        Devnet("regtest", nodes=1, block_interval=0) as regtest,
    ):
        testnet.write_config(path, environment="testnet", webhook_secret="s3cret")
        regtest.write_config(path)
        document = yaml.safe_load(path.read_text())
        assert document["slack"] == {"app_token_env": "X"}
        entry = document["environments"]["testnet"]
        assert entry == {
            "network": "testnet",
            "min_peers": 1,
            "waves": [10, 50, 100],
            "deploy_webhook": {
                "url": testnet.deploy.url,
                "secret_env": "PARTHENON_DEPLOY_SECRET",
            },
            # the daemon exports no validation-error metric: the receiver's log check does
            "evidence": {"validation_errors": {"source": "deploy"}},
            "rpc_credentials": {
                "user": "parthenon",
                "password_env": "PARTHENON_RPC_PASSWORD_TESTNET",
            },
            "nodes": [
                {"name": n.name, "rpc_url": n.url, "role": n.role, "canary": n.canary}
                for n in testnet.nodes
            ],
        }
        assert document["environments"]["regtest"]["nodes"][0]["name"] == "regt-1"
        assert testnet.deploy.secret.get_secret_value() == "s3cret"
        assert "s3cret" not in path.read_text()


async def test_receiver_serves_only_its_environment(
    session: aiohttp.ClientSession, devnet: Devnet, tmp_path: Path
) -> None:
    """Once a config names the environment, a webhook for another environment is refused."""
    devnet.write_config(tmp_path / "c.yaml", environment="staging")
    status, _ = await call(session, devnet, deploy_body("restart", ["test-1"]))
    assert status == 400
    assert devnet.nodes[0].starts == 1


async def test_written_config_loads_in_the_bot(tmp_path: Path) -> None:
    """The written file passes the bot's own config loader, with secrets from the environment."""
    path = tmp_path / "bot.yaml"
    async with Devnet("testnet", nodes=2, block_interval=0) as net:
        net.write_config(path, webhook_secret="hook")
        env = {"PARTHENON_DEPLOY_SECRET": "hook", "PARTHENON_RPC_PASSWORD_TESTNET": "pw"}
        config = load_config(path, env=env)
        environment = config.environments["testnet"]
        assert [n.rpc_url for n in environment.nodes] == [n.url for n in net.nodes]
        assert environment.deploy_webhook is not None
        assert environment.deploy_webhook.url == net.deploy.url
