"""A small HTTP API to switch faults on a running devnet, on its own port.

The nodes' ports stay faithful to the daemon; this side door exists for the standalone
`parthenon-bot devnet` command, so a person or a chaos script can break nodes while it runs.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.devnet.errors import DevnetError, UnknownNodeError
from bot.devnet.network import Devnet
from bot.devnet.node import DevnetNode

__all__ = ["ControlServer", "build_control_app", "node_state"]

_DEVNET: web.AppKey[Devnet] = web.AppKey("devnet", Devnet)


def node_state(node: DevnetNode) -> dict[str, Any]:
    return {
        "name": node.name,
        "url": node.url,
        "role": node.role,
        "canary": node.canary,
        "running": node.running,
        "version": node.version,
        "height": node.height,
        "tip_hash": node.tip_hash,
        "genesis_hash": node.genesis_hash,
        "faults": node.faults.to_dict(),
        "requests": len(node.request_log),
    }


def _node(request: web.Request) -> DevnetNode:
    try:
        return request.app[_DEVNET].node(request.match_info["name"])
    except UnknownNodeError as exc:
        raise web.HTTPNotFound(
            text=json.dumps({"error": str(exc)}), content_type="application/json"
        ) from exc


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError as exc:
        raise _bad("body is not JSON") from exc
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    return body


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


async def _list_nodes(request: web.Request) -> web.Response:
    devnet = request.app[_DEVNET]
    return web.json_response(
        {
            "network": devnet.network,
            "height": devnet.chain.height(),
            "deploy_url": devnet.deploy.url,
            "nodes": [node_state(n) for n in devnet.nodes],
        }
    )


async def _get_node(request: web.Request) -> web.Response:
    return web.json_response(node_state(_node(request)))


async def _set_faults(request: web.Request) -> web.Response:
    node = _node(request)
    changes = await _json_object(request)
    try:
        node.faults.update(changes)
    except DevnetError as exc:
        raise _bad(str(exc)) from exc
    return web.json_response(node_state(node))


async def _reset_faults(request: web.Request) -> web.Response:
    node = _node(request)
    node.faults.reset()
    return web.json_response(node_state(node))


async def _lifecycle(request: web.Request) -> web.Response:
    node = _node(request)
    action = request.match_info["action"]
    if action in ("stop", "restart"):
        await node.stop_process()
    if action in ("start", "restart"):
        await node.start_process()
    return web.json_response(node_state(node))


async def _mine(request: web.Request) -> web.Response:
    body = await _json_object(request)
    blocks = body.get("blocks", 1)
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 0:
        raise _bad("blocks must be a non-negative integer")
    return web.json_response({"height": request.app[_DEVNET].mine(blocks)})


async def _deploy_requests(request: web.Request) -> web.Response:
    received = request.app[_DEVNET].deploy.requests
    return web.json_response(
        [
            {
                "time": r.time,
                "idempotency_key": r.idempotency_key,
                "body": r.body,
                "status": r.status,
                "applied": r.applied,
                "replay": r.replay,
            }
            for r in received
        ]
    )


def build_control_app(devnet: Devnet) -> web.Application:
    app = web.Application()
    app[_DEVNET] = devnet
    app.router.add_get("/nodes", _list_nodes)
    app.router.add_get("/nodes/{name}", _get_node)
    app.router.add_post("/nodes/{name}/{action:stop|start|restart}", _lifecycle)
    app.router.add_get("/faults/{name}", _get_node)
    app.router.add_post("/faults/{name}", _set_faults)
    app.router.add_delete("/faults/{name}", _reset_faults)
    app.router.add_post("/mine", _mine)
    app.router.add_get("/deploy/requests", _deploy_requests)
    return app


class ControlServer:
    """The control API on its own loopback port (0 = a free one)."""

    def __init__(self, devnet: Devnet, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._devnet = devnet
        self._port = port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    async def start(self) -> None:
        runner = web.AppRunner(
            build_control_app(self._devnet), access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        await web.TCPSite(runner, self.host, self._port, reuse_address=True).start()
        self._port = runner.addresses[0][1]
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
