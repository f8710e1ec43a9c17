"""The node client over real HTTP: results, every error mapping, and how often it retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from bot.config import BotConfig
from bot.devnet import Devnet
from bot.environments import NodeConfig
from bot.nodes import GENESIS_HASHES, Network, NodeClient, RetryPolicy, Timeouts
from workflows.nodeerrors import (
    NodeAuthError,
    NodeMethodError,
    NodeProtocolError,
    NodeRateLimited,
    NodeServerError,
    NodeTimeout,
    NodeUnreachable,
)

from .conftest import ENV, FAST_RETRY, PASSWORD, config_for, posts
from .fakes import DroppingServer, FakeNode, fake_node_config, json_reply


async def test_reads_results(devnet: Devnet, nodes: list[NodeConfig], client: NodeClient) -> None:
    """getinfo, the tip and the genesis hash come back typed, from the node's real answers."""
    devnet.mine(4)
    info = await client.call(nodes[0], "getinfo")
    assert info["blocks"] == 5
    assert await client.call(nodes[0], "getblockcount", expect=int) == 5
    tip = await client.tip(nodes[0])
    assert tip.height == 5
    assert tip.hash == devnet.nodes[0].tip_hash
    assert await client.genesis_hash(nodes[1]) == GENESIS_HASHES[Network.TESTNET]


async def test_wrong_password_is_an_auth_error_without_retry(devnet: Devnet) -> None:
    """A 401 raises NodeAuthError naming the node and user, once, never showing the password."""
    config = config_for(devnet, env={**ENV, "PARTHENON_RPC_PASSWORD_TESTNET": "wrong-secret"})
    node = config.nodes("testnet")[0]
    async with NodeClient(retry=FAST_RETRY) as client:
        with pytest.raises(NodeAuthError) as caught:
            await client.call(node, "getinfo")
    text = str(caught.value)
    assert text.startswith(f"node {node.name} (getinfo): HTTP 401")
    assert "'parthenon'" in text
    assert "wrong-secret" not in text
    assert PASSWORD not in text
    assert [r.status for r in posts(devnet.nodes[0])] == [401]


async def test_unauthenticated_rpc_is_refused(nodes: list[NodeConfig], client: NodeClient) -> None:
    """auth_required() sends a call without credentials and reports that the node refused it."""
    assert await client.auth_required(nodes[0]) is True


async def test_method_error_carries_the_node_message(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """-1 becomes NodeMethodError with the node's text, and is not retried."""
    with pytest.raises(NodeMethodError) as caught:
        await client.call(nodes[0], "getblock", [0])
    assert caught.value.node_message == "Block not found at height 0"
    assert len(posts(devnet.nodes[0])) == 1


async def test_server_error_retries_reads_up_to_the_attempts(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """A 503 on a read is retried with backoff; after 3 attempts NodeServerError is raised."""
    devnet.nodes[0].faults.http_5xx = True
    with pytest.raises(NodeServerError) as caught:
        await client.call(nodes[0], "getblockcount")
    assert caught.value.status == 503
    assert [r.status for r in posts(devnet.nodes[0])] == [503, 503, 503]


async def test_server_error_on_a_write_is_not_repeated(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """A write that met a 5xx may have happened: it is sent once, never repeated."""
    devnet.nodes[0].faults.http_5xx = True
    with pytest.raises(NodeServerError):
        await client.call(nodes[0], "sendtoaddress", ["ab" * 32, 1000])
    assert len(posts(devnet.nodes[0])) == 1


async def test_refused_connection(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """A closed port is NodeUnreachable with sent=False, after the bounded retries."""
    devnet.nodes[0].faults.refuse_connections = True
    with pytest.raises(NodeUnreachable) as caught:
        await client.call(nodes[0], "sendtoaddress", ["ab" * 32, 1000])
    assert caught.value.sent is False
    assert "cannot connect" in str(caught.value)
    with pytest.raises(NodeUnreachable):
        await client.health(nodes[0])


async def test_garbage_reply_is_a_protocol_error(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """A 200 with a non-JSON body is NodeProtocolError(not_json), not retried."""
    devnet.nodes[0].faults.garbage_reply = True
    with pytest.raises(NodeProtocolError) as caught:
        await client.call(nodes[0], "getinfo")
    assert caught.value.reason == "not_json"
    assert len(posts(devnet.nodes[0])) == 1


async def test_oversized_reply_is_refused(
    devnet: Devnet, nodes: list[NodeConfig], make_client: Callable[..., NodeClient]
) -> None:
    """A reply over the body cap (announced by Content-Length) is refused unread."""
    devnet.nodes[0].faults.huge_reply = 64 * 1024
    async with make_client(max_body=16 * 1024) as client:
        with pytest.raises(NodeProtocolError) as caught:
            await client.call(nodes[0], "getinfo")
        assert caught.value.reason == "too_large"
        devnet.nodes[0].faults.huge_reply = False
        assert (await client.call(nodes[0], "getinfo"))["blocks"] == 1


async def test_default_cap_refuses_the_16_mib_reply(
    devnet: Devnet, nodes: list[NodeConfig], client: NodeClient
) -> None:
    """With the default 1 MiB cap, the devnet's 16 MiB reply is refused."""
    devnet.nodes[0].faults.huge_reply = True
    with pytest.raises(NodeProtocolError, match="larger than 1048576 bytes"):
        await client.call(nodes[0], "getinfo")


async def test_slow_trickle_times_out(
    devnet: Devnet, nodes: list[NodeConfig], make_client: Callable[..., NodeClient]
) -> None:
    """A body trickled a byte at a time hits the per-attempt timeout (the whole reply counts)."""
    devnet.nodes[0].faults.slow_trickle = 0.05
    async with make_client(retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(NodeTimeout) as caught:
            await client.call(nodes[0], "getinfo", attempt_timeout=0.3)
    assert "within 0.3 s" in str(caught.value)


async def test_latency_beyond_the_timeout(
    devnet: Devnet, nodes: list[NodeConfig], make_client: Callable[..., NodeClient]
) -> None:
    """A node slower than the attempt timeout gives NodeTimeout; /health too."""
    devnet.nodes[0].faults.latency = 1.0
    async with make_client(
        retry=RetryPolicy(attempts=2, backoff_initial=0.01, backoff_max=0.01),
        timeouts=Timeouts(health=0.2),
    ) as client:
        with pytest.raises(NodeTimeout):
            await client.call(nodes[0], "getinfo", attempt_timeout=0.2)
        with pytest.raises(NodeTimeout):
            await client.health(nodes[0])


async def test_wrong_result_type(nodes: list[NodeConfig], client: NodeClient) -> None:
    """A result of the wrong JSON type for the caller's expectation is a protocol error."""
    with pytest.raises(NodeProtocolError) as caught:
        await client.call(nodes[0], "getinfo", expect=int)
    assert caught.value.reason == "wrong_result_type"
    assert "is a dict, not the expected int" in str(caught.value)


async def test_rate_limit_is_waited_out(make_client: Callable[..., NodeClient]) -> None:
    """On a 429 the client waits out the window once instead of hammering, then succeeds."""
    async with Devnet("regtest", nodes=1, block_interval=0, rate_limit=3, rate_window=0.5) as net:
        node = config_for(net).nodes("regtest")[0]
        async with make_client(
            retry=RetryPolicy(attempts=3, total=10.0, rate_window=0.6)
        ) as client:
            results = [await client.call(node, "getblockcount") for _ in range(5)]
        assert results == [1] * 5
        assert [r.status for r in posts(net.nodes[0])] == [200, 200, 200, 429, 200, 200]


async def test_rate_limit_beyond_the_total_is_raised(
    make_client: Callable[..., NodeClient],
) -> None:
    """When waiting out the window would exceed the call's total time, NodeRateLimited is raised."""
    async with Devnet("regtest", nodes=1, block_interval=0, rate_limit=1, rate_window=60) as net:
        node = config_for(net).nodes("regtest")[0]
        async with make_client(
            retry=RetryPolicy(attempts=3, total=5.0, rate_window=60.0)
        ) as client:
            await client.call(node, "getblockcount")
            with pytest.raises(NodeRateLimited) as caught:
                await client.call(node, "getblockcount")
        assert caught.value.local is False
        assert caught.value.retry_after == 60.0
        assert [r.status for r in posts(net.nodes[0])] == [200, 429]


# -------------------------------------------------------------------------- fake nodes


@pytest.fixture
async def fake() -> AsyncIterator[Callable[..., Any]]:
    started: list[FakeNode] = []

    async def start(handler: Any) -> FakeNode:
        node = FakeNode(handler)
        await node.start()
        started.append(node)
        return node

    yield start
    for node in started:
        await node.stop()


REPLIES: list[tuple[str, Callable[[dict[str, Any]], web.Response], str]] = [
    (
        "parse error",
        lambda body: json_reply(
            {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}}
        ),
        "parse_error",
    ),
    (
        "both result and error",
        lambda body: json_reply(
            {"id": body["id"], "result": 1, "error": {"code": -1, "message": "x"}}
        ),
        "wrong_shape",
    ),
    ("id mismatch", lambda body: json_reply({"id": "not-yours", "result": 1}), "id_mismatch"),
    ("numeric id echo", lambda body: json_reply({"id": 1, "result": 1}), "id_mismatch"),
    ("array reply", lambda body: json_reply([{"id": body["id"], "result": 1}]), "wrong_shape"),
    ("404", lambda body: web.Response(status=404), "unexpected_status"),
]


@pytest.mark.parametrize(
    ("respond", "reason"), [pytest.param(*case[1:], id=case[0]) for case in REPLIES]
)
async def test_malformed_replies(
    fake: Callable[..., Any],
    client: NodeClient,
    respond: Callable[[dict[str, Any]], web.Response],
    reason: str,
) -> None:
    """Replies outside the dialect are NodeProtocolError with their reason, sent once."""

    async def handler(request: web.Request, body: dict[str, Any]) -> web.Response:
        return respond(body)

    node = await fake(handler)
    with pytest.raises(NodeProtocolError) as caught:
        await client.call(node.node, "getinfo")
    assert caught.value.reason == reason
    assert node.arrivals == 1


async def test_server_error_recovers_within_the_attempts(
    fake: Callable[..., Any], client: NodeClient
) -> None:
    """A node that answers 5xx once and then recovers gives the result on the retry."""

    async def handler(request: web.Request, body: dict[str, Any]) -> web.Response:
        if len(node.bodies) == 1:
            return web.Response(status=502, text="Bad Gateway")
        return json_reply({"jsonrpc": "2.0", "id": body["id"], "result": 42})

    node = await fake(handler)
    assert await client.call(node.node, "getblockcount") == 42
    assert node.arrivals == 2


async def test_request_shape_on_the_wire(fake: Callable[..., Any], client: NodeClient) -> None:
    """Every request has a string id, jsonrpc 2.0 and params, and Basic auth."""
    seen: list[str] = []

    async def handler(request: web.Request, body: dict[str, Any]) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return json_reply({"jsonrpc": "2.0", "id": body["id"], "result": 1})

    node = await fake(handler)
    await client.call(node.node, "getblockcount")
    await client.call(node.node, "getblock", [1])
    first, second = node.bodies
    assert first["params"] == []
    assert second["params"] == [1]
    assert isinstance(first["id"], str)
    assert first["id"] != second["id"]
    assert first["jsonrpc"] == "2.0"
    assert all(header.startswith("Basic ") for header in seen)


async def test_chunked_oversized_reply_is_cut_off(
    fake: Callable[..., Any], make_client: Callable[..., NodeClient]
) -> None:
    """A reply without Content-Length is read only up to the cap, then refused."""

    async def handler(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(64):
            await response.write(b" " * 1024)
        await response.write_eof()
        return response

    node = await fake(handler)
    async with make_client(max_body=8 * 1024) as client:
        with pytest.raises(NodeProtocolError) as caught:
            await client.call(node.node, "getinfo")
    assert caught.value.reason == "too_large"


async def test_timeouts_are_retried_for_reads_only(
    fake: Callable[..., Any], make_client: Callable[..., NodeClient]
) -> None:
    """A read that timed out is sent again (3 attempts); a write that timed out is not."""

    async def handler(request: web.Request, body: dict[str, Any]) -> web.Response:
        await asyncio.sleep(5)
        return json_reply({"id": body["id"], "result": 1})

    node = await fake(handler)
    async with make_client(
        retry=RetryPolicy(attempts=3, backoff_initial=0.01, backoff_max=0.01)
    ) as client:
        with pytest.raises(NodeTimeout):
            await client.call(node.node, "getblockcount", attempt_timeout=0.1)
        assert node.arrivals == 3
        with pytest.raises(NodeTimeout) as caught:
            await client.call(node.node, "sendrawtransaction", ["00"], attempt_timeout=0.1)
        assert caught.value.sent is True
        assert node.arrivals == 4


async def test_read_resent_once_after_a_dropped_connection(client: NodeClient) -> None:
    """A read whose connection closed before any answer is re-sent at once and succeeds."""
    server = DroppingServer(drops=1)
    await server.start()
    try:
        node = fake_node_config(f"http://127.0.0.1:{server.port}")
        assert await client.call(node, "getblockcount", retry=False) == 7
        assert server.requests == 2
    finally:
        await server.stop()


async def test_write_not_resent_after_a_dropped_connection(client: NodeClient) -> None:
    """A write whose connection dropped may have been executed: it is not sent again."""
    server = DroppingServer(drops=1)
    await server.start()
    try:
        node = fake_node_config(f"http://127.0.0.1:{server.port}")
        with pytest.raises(NodeUnreachable) as caught:
            await client.call(node, "sendtoaddress", ["ab" * 32, 5])
        assert caught.value.sent is True
        assert server.requests == 1
    finally:
        await server.stop()


async def test_pooled_connections_survive_the_node_closing_them(
    devnet: Devnet, config: BotConfig, client: NodeClient
) -> None:
    """Many reads in a row over connections the node closes every 5 requests all succeed."""
    node = config.nodes("testnet")[0]
    for _ in range(23):
        assert await client.call(node, "getblockcount") == 1
    for _ in range(12):
        assert (await client.health(node)).ok
    assert all(r.status == 200 for r in devnet.nodes[0].request_log)
    assert len(posts(devnet.nodes[0])) == 23
