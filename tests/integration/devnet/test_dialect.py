"""The JSON-RPC envelope and error rules of the real daemon (docs/node-dialect.md), over real
HTTP."""

from __future__ import annotations

import aiohttp
import pytest

from bot.devnet import Devnet, DevnetNode

from .conftest import basic, get, post, rpc

PARSE_ERROR = {"code": -32700, "message": "Parse error"}
INSUFFICIENT = "Failed to create transaction (insufficient funds?)"
WITH_ARGS = ["getblock", "sendtoaddress", "sendrawtransaction", "getbalance"]


async def test_string_id_is_echoed(session: aiohttp.ClientSession, node: DevnetNode) -> None:
    """A string id comes back unchanged, with jsonrpc 2.0 and a result but no error."""
    reply = await rpc(session, node, "getblockcount", rid="abc-1")
    assert reply.status == 200
    assert reply.json == {"id": "abc-1", "jsonrpc": "2.0", "result": 1}


@pytest.mark.parametrize("bad_id", [7, 0, None, 1.5, ["x"], {"a": 1}, True])
async def test_non_string_id_is_a_parse_error(
    session: aiohttp.ClientSession, node: DevnetNode, bad_id: object
) -> None:
    """A number, null or other non-string id fails with -32700 and a null id, on HTTP 200."""
    body = {"jsonrpc": "2.0", "id": bad_id, "method": "getblockcount", "params": []}
    reply = await post(session, node, body)
    assert reply.status == 200
    assert reply.json["error"] == PARSE_ERROR
    assert reply.json["id"] is None
    assert "result" not in reply.json


async def test_missing_id_is_echoed_as_empty_string(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """A request without an id is answered with id ""."""
    reply = await post(session, node, {"jsonrpc": "2.0", "method": "getblockcount", "params": []})
    assert reply.json == {"id": "", "jsonrpc": "2.0", "result": 1}


@pytest.mark.parametrize(
    "raw",
    [
        b'[{"jsonrpc":"2.0","id":"1","method":"getblockcount","params":[]}]',
        b"{not json",
        b"",
        b'"a string"',
        b"\xff\xfe",
    ],
)
async def test_batches_and_bad_json_are_parse_errors(
    session: aiohttp.ClientSession, node: DevnetNode, raw: bytes
) -> None:
    """An array (batch), invalid JSON or a non-object body is a -32700 parse error on HTTP 200."""
    reply = await post(session, node, None, raw=raw)
    assert reply.status == 200
    assert reply.json == {"error": PARSE_ERROR, "id": None, "jsonrpc": "2.0"}


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("getbestblockhash", [], "Method not found: getbestblockhash"),
        ("getblockchaininfo", [], "Method not found: getblockchaininfo"),
        ("getblock", [0], "Block not found at height 0"),
        ("getblock", [2], "Block not found at height 2"),
        ("getblock", ["0"], "Block not found at height 0"),
        ("getblock", ["tip"], "Invalid height parameter"),
        ("getblock", [], "Missing height parameter"),
        (
            "sendtoaddress",
            ["ab" * 32, 10**30],
            "Failed to create transaction (insufficient funds?)",
        ),
        ("sendtoaddress", ["not-hex", 1], "Invalid address"),
        ("sendrawtransaction", ["xyz"], "TX decode failed"),
        ("getbalance", [9], "Invalid asset"),
    ],
)
async def test_method_errors_are_code_minus_one(
    session: aiohttp.ClientSession,
    node: DevnetNode,
    method: str,
    params: list[object],
    message: str,
) -> None:
    """Every method-level error, unknown methods included, is HTTP 200 with code -1."""
    reply = await rpc(session, node, method, params, rid="e")
    assert reply.status == 200
    assert reply.json == {"error": {"code": -1, "message": message}, "id": "e", "jsonrpc": "2.0"}


@pytest.mark.parametrize(
    "method", ["getblock", "sendtoaddress", "sendrawtransaction", "getbalance"]
)
async def test_missing_params_fail_on_methods_with_arguments(
    session: aiohttp.ClientSession, node: DevnetNode, method: str
) -> None:
    """Leaving out `params` makes methods that take arguments fail with -1."""
    reply = await post(session, node, {"jsonrpc": "2.0", "id": "p", "method": method})
    assert reply.json["error"]["code"] == -1
    assert reply.json["id"] == "p"


async def test_missing_params_accepted_where_nothing_is_read(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """getblockcount without `params` still answers (only methods that read arguments fail)."""
    reply = await post(session, node, {"jsonrpc": "2.0", "id": "p", "method": "getblockcount"})
    assert reply.json["result"] == 1


async def test_getblock_accepts_decimal_string_height(
    session: aiohttp.ClientSession, devnet: Devnet, node: DevnetNode
) -> None:
    """getblock takes the height as a number or a decimal string, and both name the same block."""
    devnet.mine(3)
    by_number = await rpc(session, node, "getblock", [3])
    by_string = await rpc(session, node, "getblock", ["3"])
    assert by_number.json["result"] == by_string.json["result"]
    assert by_number.json["result"]["height"] == 3


@pytest.mark.parametrize(
    "authorization",
    ["", basic(password="wrong"), basic(user="root"), "Bearer abc", "Basic !!!notbase64"],
)
async def test_bad_credentials_get_the_exact_401(
    session: aiohttp.ClientSession, node: DevnetNode, authorization: str
) -> None:
    """Missing or wrong credentials get 401, the parthenon-rpc realm and the daemon's exact body."""
    body = {"jsonrpc": "2.0", "id": "1", "method": "getblockcount", "params": []}
    reply = await post(session, node, body, auth=authorization)
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"] == 'Basic realm="parthenon-rpc"'
    assert reply.text == ('{"error":{"code":-32600,"message":"Authentication required"},"id":null}')


async def test_auth_is_checked_before_parsing(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """An unauthenticated bad-JSON request is a 401, not a parse error."""
    reply = await post(session, node, None, raw=b"[1,2", auth="")
    assert reply.status == 401


@pytest.mark.parametrize(
    ("verb", "path"),
    [
        ("GET", "/"),
        ("GET", "/chain/info"),
        ("POST", "/chain/info"),
        ("GET", "/rpc"),
        ("POST", "/health"),
        ("GET", "/health/"),
        ("PUT", "/"),
    ],
)
async def test_other_paths_are_404_with_empty_body(
    session: aiohttp.ClientSession, node: DevnetNode, verb: str, path: str
) -> None:
    """Anything but POST /, GET /health and GET /metrics answers 404 with an empty body."""
    headers = {"Authorization": basic()}
    async with session.request(verb, node.url + path, headers=headers) as response:
        assert response.status == 404
        assert await response.read() == b""


async def test_health_and_metrics_need_no_auth(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """/health and /metrics answer 200 without credentials."""
    assert (await get(session, node, "/health")).status == 200
    assert (await get(session, node, "/metrics")).status == 200


async def test_info_methods(session: aiohttp.ClientSession, node: DevnetNode) -> None:
    """getinfo has the daemon's fields and chain/info adds monetary_spec_hash."""
    info = (await rpc(session, node, "getinfo")).json["result"]
    assert {"blocks", "connections", "protocolversion", "version", "syncing"} <= set(info)
    assert info["blocks"] == 1
    # Constants compiled into the daemon, whatever release is installed (docs/node-dialect.md).
    assert (info["version"], info["protocolversion"]) == (100, 70015)
    assert node.version == "1.0.0"
    chain_info = (await rpc(session, node, "chain/info", {})).json["result"]
    assert len(chain_info["monetary_spec_hash"]) == 64
    assert chain_info["blocks"] == info["blocks"]


async def test_request_log_records_every_request(
    session: aiohttp.ClientSession, node: DevnetNode
) -> None:
    """The node's request log has path, RPC method and status of every request, failed ones too."""
    await rpc(session, node, "getblockcount")
    await post(session, node, {"jsonrpc": "2.0", "id": "1", "method": "getinfo"}, auth="")
    await get(session, node, "/health")
    await get(session, node, "/nope")
    seen = [(r.path, r.method, r.status) for r in node.request_log]
    assert seen == [
        ("/", "getblockcount", 200),
        ("/", None, 401),
        ("/health", None, 200),
        ("/nope", None, 404),
    ]
