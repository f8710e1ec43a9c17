"""The JSON-RPC dialect both ways: request bodies, and every reply mapped to a result or error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.nodes.jsonrpc import interpret_reply, request_body
from workflows.nodeerrors import (
    NodeAuthError,
    NodeError,
    NodeMethodError,
    NodeProtocolError,
    NodeRateLimited,
    NodeServerError,
    NodeTransientError,
)

RID = "req-1"


def reply(status: int, body: Any, *, raw: bytes | None = None, user: str | None = "op") -> Any:
    data = raw if raw is not None else json.dumps(body).encode()
    return interpret_reply("node-a", "getinfo", RID, status, data, user=user)


def test_request_body_always_has_string_id_and_params() -> None:
    """Requests carry a string id and params ([] when none were given)."""
    assert json.loads(request_body("x", "getblockcount")) == {
        "jsonrpc": "2.0",
        "id": "x",
        "method": "getblockcount",
        "params": [],
    }
    assert json.loads(request_body("x", "getblock", (1,)))["params"] == [1]
    assert json.loads(request_body("x", "m", {"k": 1}))["params"] == {"k": 1}


def test_success_returns_the_result() -> None:
    """A 200 with our id and a result gives the result, whatever its JSON type."""
    assert reply(200, {"id": RID, "jsonrpc": "2.0", "result": {"blocks": 3}}) == {"blocks": 3}
    assert reply(200, {"id": RID, "result": None}) is None
    assert reply(200, {"id": RID, "result": 5, "error": None}) == 5


ERRORS: list[tuple[str, int, Any, bytes | None, type[NodeError], str]] = [
    # (case, HTTP status, JSON body, raw body, error class, reason or text)
    (
        "401",
        401,
        {"error": {"code": -32600, "message": "Authentication required"}, "id": None},
        None,
        NodeAuthError,
        "RPC user 'op'",
    ),
    (
        "429",
        429,
        {"error": {"code": -32001, "message": "Rate limit exceeded."}},
        None,
        NodeRateLimited,
        "rate limit",
    ),
    ("503", 503, None, b"Service Unavailable", NodeServerError, "HTTP 503"),
    (
        "500 with JSON",
        500,
        {"error": {"code": -1, "message": "x"}},
        None,
        NodeServerError,
        "HTTP 500",
    ),
    ("404", 404, None, b"", NodeProtocolError, "unexpected_status"),
    (
        "method error -1",
        200,
        {"id": RID, "error": {"code": -1, "message": "Method not found: nope"}},
        None,
        NodeMethodError,
        "Method not found: nope",
    ),
    (
        "other method code",
        200,
        {"id": RID, "error": {"code": -5, "message": "odd"}},
        None,
        NodeMethodError,
        "error -5: odd",
    ),
    (
        "parse error -32700",
        200,
        {"id": None, "error": {"code": -32700, "message": "Parse error"}},
        None,
        NodeProtocolError,
        "parse_error",
    ),
    (
        "auth in body",
        200,
        {"id": None, "error": {"code": -32600, "message": "Authentication required"}},
        None,
        NodeAuthError,
        "Authentication required",
    ),
    (
        "rate limit in body",
        200,
        {"id": None, "error": {"code": -32001, "message": "slow down"}},
        None,
        NodeRateLimited,
        "slow down",
    ),
    ("non-JSON", 200, None, b"<html>502 Bad Gateway</html>\x00\xff", NodeProtocolError, "not_json"),
    ("empty body", 200, None, b"", NodeProtocolError, "not_json"),
    ("array", 200, [{"id": RID, "result": 1}], None, NodeProtocolError, "wrong_shape"),
    ("string", 200, "ok", None, NodeProtocolError, "wrong_shape"),
    (
        "both result and error",
        200,
        {"id": RID, "result": 1, "error": {"code": -1, "message": "x"}},
        None,
        NodeProtocolError,
        "wrong_shape",
    ),
    (
        "neither result nor error",
        200,
        {"id": RID, "jsonrpc": "2.0"},
        None,
        NodeProtocolError,
        "wrong_shape",
    ),
    (
        "error not an object",
        200,
        {"id": RID, "error": "boom"},
        None,
        NodeProtocolError,
        "wrong_shape",
    ),
    (
        "error code not int",
        200,
        {"id": RID, "error": {"code": "-1", "message": "x"}},
        None,
        NodeProtocolError,
        "wrong_shape",
    ),
    (
        "error code bool",
        200,
        {"id": RID, "error": {"code": True, "message": "x"}},
        None,
        NodeProtocolError,
        "wrong_shape",
    ),
    ("other id", 200, {"id": "someone-else", "result": 1}, None, NodeProtocolError, "id_mismatch"),
    ("numeric id", 200, {"id": 1, "result": 1}, None, NodeProtocolError, "id_mismatch"),
    ("null id on success", 200, {"id": None, "result": 1}, None, NodeProtocolError, "id_mismatch"),
    ("missing id on success", 200, {"result": 1}, None, NodeProtocolError, "id_mismatch"),
    (
        "other id on error",
        200,
        {"id": "x", "error": {"code": -1, "message": "m"}},
        None,
        NodeProtocolError,
        "id_mismatch",
    ),
]


@pytest.mark.parametrize(
    ("status", "body", "raw", "error", "text"),
    [pytest.param(*case[1:], id=case[0]) for case in ERRORS],
)
def test_error_mapping(
    status: int, body: Any, raw: bytes | None, error: type[NodeError], text: str
) -> None:
    """Each deviant reply becomes its own error class, naming the node and the method."""
    with pytest.raises(error) as caught:
        reply(status, body, raw=raw)
    exc = caught.value
    assert type(exc) is error
    assert exc.node == "node-a"
    assert exc.method == "getinfo"
    shown = f"{getattr(exc, 'reason', '')} {exc}"
    assert text in shown
    assert str(exc).startswith("node node-a (getinfo): ")


def test_method_error_carries_the_node_message() -> None:
    """NodeMethodError keeps the node's own message and code for the caller."""
    with pytest.raises(NodeMethodError) as caught:
        reply(200, {"id": RID, "error": {"code": -1, "message": "Block not found at height 0"}})
    assert caught.value.node_message == "Block not found at height 0"
    assert caught.value.rpc_code == -1


def test_401_without_credentials_says_none_were_sent() -> None:
    """A 401 for an anonymous request says so instead of blaming a user."""
    with pytest.raises(NodeAuthError, match="none were sent"):
        reply(401, {}, user=None)


def test_transient_classes() -> None:
    """Only unreachable/timeout/5xx/429 are transient; auth, method, protocol errors are not."""
    assert issubclass(NodeServerError, NodeTransientError)
    assert issubclass(NodeRateLimited, NodeTransientError)
    for cls in (NodeAuthError, NodeMethodError, NodeProtocolError):
        assert not issubclass(cls, NodeTransientError)
    codes = {
        cls.code
        for cls in (
            NodeAuthError,
            NodeMethodError,
            NodeProtocolError,
            NodeServerError,
            NodeRateLimited,
        )
    }
    assert len(codes) == 5
