"""Small fake nodes for replies the devnet does not produce: an aiohttp app and a raw socket."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from bot.environments import NodeConfig, RpcCredentials

Handler = Callable[[web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]


class FakeNode:
    """An aiohttp app on 127.0.0.1:0 that records every JSON-RPC body and answers via `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.bodies: list[dict[str, Any]] = []
        self.arrivals = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _post(self, request: web.Request) -> web.StreamResponse:
        self.arrivals += 1
        body = json.loads(await request.read())
        self.bodies.append(body)
        return await self.handler(request, body)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/", self._post)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def node(self) -> NodeConfig:
        return fake_node_config(f"http://127.0.0.1:{self.port}")


def fake_node_config(url: str, name: str = "fake-1") -> NodeConfig:
    return NodeConfig(
        name=name,
        rpc_url=url,
        credentials=RpcCredentials(user="parthenon", password=SecretStr("fake-password")),
    )


def json_reply(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body).encode(), status=status, content_type="application/json"
    )


class DroppingServer:
    """A raw HTTP server that, for the first `drops` requests, reads them and hangs up unanswered.

    That is what a client meets when the node closes a pooled connection under it.
    """

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.requests = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode().split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = json.loads(await reader.readexactly(length)) if length else {}
                self.requests += 1
                if self.requests <= self.drops:
                    writer.close()
                    return
                payload = json.dumps({"jsonrpc": "2.0", "id": body.get("id"), "result": 7}).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
