"""The JSON-RPC dialect of the node, both ways, as pure functions (docs/node-dialect.md).

Requests always carry a string id and `params`. Replies are checked against what the daemon can
send: exactly one of result/error, our id echoed (an error may carry a null id), an error object
of `{code: int, message: str}`. Each deviation has its own `NodeError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.nodes.budget import NODE_RATE_WINDOW
from workflows.nodeerrors import (
    NodeAuthError,
    NodeMethodError,
    NodeProtocolError,
    NodeRateLimited,
    NodeServerError,
)

__all__ = ["interpret_reply", "request_body"]


def request_body(
    request_id: str, method: str, params: Sequence[Any] | dict[str, Any] | None = None
) -> bytes:
    """The bytes of one request; `params` is always present (several methods need it)."""
    sent: list[Any] | dict[str, Any] = (
        dict(params) if isinstance(params, dict) else list(params or [])
    )
    return json.dumps(
        {"jsonrpc": "2.0", "id": request_id, "method": method, "params": sent}
    ).encode()


def interpret_reply(
    name: str, method: str, request_id: str, status: int, raw: bytes, *, user: str | None
) -> Any:
    """The result of one HTTP answer to our JSON-RPC request, or the NodeError it stands for.

    `user` is the RPC user we sent (None: no credentials), named in a 401's message.
    """
    if status == 401:
        who = f"RPC user {user!r}" if user is not None else "none were sent"
        raise NodeAuthError(
            name, f"HTTP 401: the node refused the credentials ({who})", method=method
        )
    if status == 429:
        raise NodeRateLimited(
            name,
            "HTTP 429: the node's rate limit is spent",
            retry_after=NODE_RATE_WINDOW,
            local=False,
            method=method,
        )
    if status >= 500:
        raise NodeServerError(name, status, method=method)
    if status != 200:
        raise NodeProtocolError(name, "unexpected_status", f"HTTP {status}", method=method)
    try:
        reply = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):  # (nesting too deep to parse)
        raise NodeProtocolError(
            name, "not_json", f"the reply is not JSON ({len(raw)} bytes)", method=method
        ) from None
    return _result_of(name, method, request_id, reply)


def _result_of(name: str, method: str, request_id: str, reply: Any) -> Any:
    if not isinstance(reply, dict):
        raise NodeProtocolError(
            name,
            "wrong_shape",
            f"the reply is a JSON {type(reply).__name__}, not an object",
            method=method,
        )
    error = reply.get("error")
    if "result" in reply and error is not None:
        raise NodeProtocolError(
            name, "wrong_shape", "the reply has both result and error", method=method
        )
    reply_id = reply.get("id")
    if error is not None:
        if not (
            isinstance(error, dict)
            and isinstance(error.get("code"), int)
            and not isinstance(error.get("code"), bool)
            and isinstance(error.get("message"), str)
        ):
            raise NodeProtocolError(
                name, "wrong_shape", "the error is not {code: int, message: str}", method=method
            )
        if reply_id is not None and reply_id != request_id:
            raise _id_mismatch(name, method, reply_id)
        code, message = error["code"], error["message"]
        if code == -32700:
            raise NodeProtocolError(
                name,
                "parse_error",
                f"the node could not parse our request: {message}",
                method=method,
            )
        if code == -32600:
            raise NodeAuthError(name, f"the node refused the request: {message}", method=method)
        if code == -32001:
            raise NodeRateLimited(
                name,
                f"the node's rate limit is spent: {message}",
                retry_after=NODE_RATE_WINDOW,
                local=False,
                method=method,
            )
        raise NodeMethodError(name, message, rpc_code=code, method=method)
    if "result" not in reply:
        raise NodeProtocolError(
            name, "wrong_shape", "the reply has neither result nor error", method=method
        )
    if reply_id != request_id:
        raise _id_mismatch(name, method, reply_id)
    return reply["result"]


def _id_mismatch(name: str, method: str, reply_id: Any) -> NodeProtocolError:
    shown = repr(reply_id)[:40]
    return NodeProtocolError(
        name, "id_mismatch", f"the reply's id {shown} is not the request's", method=method
    )
