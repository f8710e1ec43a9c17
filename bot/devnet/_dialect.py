"""The node's JSON-RPC envelope rules, as the daemon applies them (pure: bytes in, bytes out).

String ids only (a number or null id is a parse error, a missing id is echoed as ""), no batches,
keys serialised sorted and compact like the daemon's JSON library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AUTH_REQUIRED_BODY",
    "INVALID_REQUEST",
    "METHOD_ERROR",
    "PARSE_ERROR",
    "RATE_LIMITED",
    "RATE_LIMIT_BODY",
    "Envelope",
    "EnvelopeError",
    "dumps",
    "error_body",
    "parse_envelope",
    "result_body",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
RATE_LIMITED = -32001
METHOD_ERROR = -1


def dumps(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


AUTH_REQUIRED_BODY = dumps(
    {"error": {"code": INVALID_REQUEST, "message": "Authentication required"}, "id": None}
)
RATE_LIMIT_BODY = dumps(
    {
        "error": {"code": RATE_LIMITED, "message": "Rate limit exceeded. Please try again later."},
        "id": None,
    }
)

_MISSING: Any = object()


@dataclass(frozen=True)
class Envelope:
    """A well-formed request. `params` is None when the client left it out."""

    id: str
    method: str
    params: list[Any] | dict[str, Any] | None


@dataclass(frozen=True)
class EnvelopeError:
    """A request the daemon rejects before looking at the method."""

    id: str | None
    code: int
    message: str

    def body(self) -> bytes:
        return error_body(self.id, self.code, self.message)


def parse_envelope(raw: bytes) -> Envelope | EnvelopeError:
    try:
        request = json.loads(raw)
    except ValueError:
        return EnvelopeError(None, PARSE_ERROR, "Parse error")
    if not isinstance(request, dict):
        return EnvelopeError(None, PARSE_ERROR, "Parse error")
    request_id = request.get("id", "")
    if not isinstance(request_id, str):
        return EnvelopeError(None, PARSE_ERROR, "Parse error")
    method = request.get("method", _MISSING)
    if not isinstance(method, str):
        return EnvelopeError(request_id, INVALID_REQUEST, "Invalid Request")
    params = request.get("params", _MISSING)
    if params is _MISSING or params is None:
        return Envelope(request_id, method, None)
    if not isinstance(params, list | dict):
        return EnvelopeError(request_id, METHOD_ERROR, "Invalid params")
    return Envelope(request_id, method, params)


def result_body(request_id: str, result: Any) -> bytes:
    return dumps({"id": request_id, "jsonrpc": "2.0", "result": result})


def error_body(request_id: str | None, code: int, message: str) -> bytes:
    return dumps({"error": {"code": code, "message": message}, "id": request_id, "jsonrpc": "2.0"})
