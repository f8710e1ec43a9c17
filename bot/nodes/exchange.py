"""One HTTP exchange with a node over aiohttp: the reply body read within a cap, and every
transport failure mapped to the node layer's own errors (a timeout, a refused connection, a
reply cut off, malformed HTTP). The node client (`bot.nodes.rpc`) sends its JSON-RPC POSTs
through it; a pooled connection found closed before any answer is reported as
`StaleConnection`, so that the caller decides whether the request may go again.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import aiohttp

from workflows.nodeerrors import NodeProtocolError, NodeTimeout, NodeUnreachable

if TYPE_CHECKING:
    from bot.environments import NodeConfig

__all__ = ["StaleConnection", "exchange"]

_DROPPED = (aiohttp.ClientConnectionError, OSError)  # disconnected, reset, broken pipe


class StaleConnection(Exception):
    """A pooled connection was found closed before any answer (the caller always replaces it:
    it re-sends the request or raises `error`)."""

    def __init__(self, error: NodeUnreachable) -> None:
        self.error = error
        super().__init__(str(error))


async def exchange(
    session: aiohttp.ClientSession,
    verb: str,
    node: NodeConfig,
    url: str,
    seconds: float,
    what: str,
    *,
    max_body: int,
    **kwargs: Any,
) -> tuple[int, bytes]:
    """Send one request and read the capped body; map every transport failure."""
    answered = False
    try:
        async with asyncio.timeout(seconds):
            async with session.request(verb, url, allow_redirects=False, **kwargs) as response:
                answered = True
                if response.status in (401, 429) or response.status >= 500:
                    return response.status, b""
                return response.status, await _read_capped(response, node, what, max_body)
    except aiohttp.ConnectionTimeoutError:
        raise NodeTimeout(node.name, "connecting timed out", method=what, sent=False) from None
    except TimeoutError:
        raise NodeTimeout(
            node.name, f"no complete answer within {seconds:g} s", method=what
        ) from None
    except aiohttp.ClientConnectorError as exc:
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        raise NodeUnreachable(
            node.name, f"cannot connect to {node.rpc_url} ({reason})", method=what, sent=False
        ) from None
    except aiohttp.ClientPayloadError:
        raise NodeUnreachable(node.name, "the reply was cut off", method=what) from None
    except aiohttp.ClientResponseError as exc:
        raise NodeProtocolError(
            node.name, "bad_http", f"malformed HTTP reply ({exc.message})", method=what
        ) from None
    except _DROPPED as exc:
        error = NodeUnreachable(
            node.name, "the connection closed before a complete answer", method=what
        )
        if answered:
            raise error from None
        raise StaleConnection(error) from exc


async def _read_capped(
    response: aiohttp.ClientResponse, node: NodeConfig, what: str, cap: int
) -> bytes:
    if response.content_length is not None and response.content_length > cap:
        raise _too_large(node, what, cap)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > cap:
            raise _too_large(node, what, cap)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(node: NodeConfig, what: str, cap: int) -> NodeProtocolError:
    return NodeProtocolError(
        node.name, "too_large", f"the reply is larger than {cap} bytes", method=what
    )
