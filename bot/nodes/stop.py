"""The orderly stop of a node, verified: send `stop` with a short timeout, then look.

The daemon's `stop` can hang while `/health` still says ok, and a refused or timed-out `stop`
says nothing by itself (docs/node-dialect.md), so what happened is read only from the node
afterwards: its RPC port refusing connections or `/health` saying "stopped".
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from workflows.nodeerrors import (
    NodeAuthError,
    NodeError,
    NodeMethodError,
    NodeRateLimited,
    NodeUnreachable,
)
from workflows.nodereplies import StopOutcome, StopResult

if TYPE_CHECKING:
    from bot.environments import NodeConfig
    from bot.nodes.rpc import NodeClient

__all__ = ["stop_and_verify"]


async def stop_and_verify(
    client: NodeClient,
    node: NodeConfig,
    *,
    stop_timeout: float | None = None,
    verify: float | None = None,
) -> StopResult:
    """Send `stop` with a short timeout, then look at the node to say what happened.

    A `stop` can hang while /health still says ok, and a refused or timed-out `stop` says
    nothing by itself, so the outcome comes only from verification: /health refused or
    "stopped" is STOPPED; still "ok" when `verify` seconds are up is STILL_RUNNING; nothing
    readable is UNKNOWN.
    """
    timeouts = client.timeouts
    reply: str | None = None
    error: NodeError | None = None
    try:
        answer = await client.call(
            node, "stop", [], attempt_timeout=stop_timeout or timeouts.stop, retry=False
        )
        reply = str(answer)
    except NodeError as exc:
        error = exc
    sent = error is None or error.sent
    # When the node never got the request, or answered that it would not do it, one look
    # is enough; otherwise watch for it going down.
    refused = isinstance(error, NodeAuthError | NodeRateLimited | NodeMethodError)
    watch = sent and not refused
    window = (timeouts.stop_verify if verify is None else verify) if watch else 0.0
    outcome, evidence = await _watch_until_down(client, node, window)
    return StopResult(
        node=node.name,
        outcome=outcome,
        sent=sent,
        reply=reply,
        stop_error=error.code if error else None,
        evidence=evidence if error is None else f"{evidence}; stop call: {error.message}",
    )


async def _watch_until_down(
    client: NodeClient, node: NodeConfig, window: float
) -> tuple[StopOutcome, str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + window
    while True:
        outcome, evidence = await _probe(client, node)
        if outcome is StopOutcome.STOPPED or loop.time() >= deadline:
            return outcome, evidence
        await asyncio.sleep(min(client.timeouts.stop_poll, max(0.0, deadline - loop.time())))


async def _probe(client: NodeClient, node: NodeConfig) -> tuple[StopOutcome, str]:
    try:
        health = await client.health(
            node, retry=False, attempt_timeout=min(2.0, client.timeouts.health)
        )
    except NodeUnreachable as exc:
        if not exc.sent:
            return StopOutcome.STOPPED, "the RPC port refuses connections"
        return StopOutcome.UNKNOWN, f"/health: {exc.message}"
    except NodeError as exc:
        return StopOutcome.UNKNOWN, f"/health: {exc.message}"
    if health.status == "stopped":
        return StopOutcome.STOPPED, "/health says stopped"
    if health.ok:
        height = health.best_height
        return StopOutcome.STILL_RUNNING, f"/health still says ok at height {height}"
    return StopOutcome.UNKNOWN, f"/health says {health.status!r}"
