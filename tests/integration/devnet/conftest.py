"""Fixtures for the devnet tests: a started devnet and a plain aiohttp client talking to it."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from bot.devnet import Devnet, DevnetNode

USER = "parthenon"
PASSWORD = "devnet-password"


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Reply:
    status: int
    headers: Any
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


async def post(
    session: aiohttp.ClientSession,
    node: DevnetNode,
    body: Any,
    *,
    auth: str | None = None,
    raw: bytes | None = None,
) -> Reply:
    """POST / with credentials (unless `auth` says otherwise) and a JSON or raw body."""
    headers = {
        "Authorization": auth if auth is not None else basic(),
        "Content-Type": "application/json",
    }
    if auth == "":
        del headers["Authorization"]
    data = raw if raw is not None else json.dumps(body).encode()
    async with session.post(node.url + "/", data=data, headers=headers) as response:
        return Reply(response.status, response.headers, await response.text())


async def rpc(
    session: aiohttp.ClientSession,
    node: DevnetNode,
    method: str,
    params: Any = None,
    rid: str = "t",
) -> Reply:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    body["params"] = [] if params is None else params
    return await post(session, node, body)


async def get(session: aiohttp.ClientSession, node: DevnetNode, path: str) -> Reply:
    async with session.get(node.url + path) as response:
        return Reply(response.status, response.headers, await response.text())


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def devnet() -> AsyncIterator[Devnet]:
    """Three testnet nodes whose chain grows only when a test mines (deterministic heights)."""
    net = Devnet("testnet", nodes=3, block_interval=0)
    await net.start()
    yield net
    await net.stop()


@pytest.fixture
def node(devnet: Devnet) -> DevnetNode:
    return devnet.nodes[0]
