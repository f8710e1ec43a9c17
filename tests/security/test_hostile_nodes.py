"""A node that answers with hostility (endless bodies, a huge declared length, silence after the
headers, a byte at a time, nesting deep enough to break a parser, the wrong types, bytes that are
not text) costs the bot a bounded amount of memory and time, and becomes an error that names the
node, on every path the bot reads from a node (JSON-RPC, /health, /metrics), and through a run's
steps (the run is blocked with the node's name, not hung)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from bot.config import BotConfig, parse_config
from bot.nodeport import StepNodes
from bot.nodes import NetworkGuard, NodeClient, RetryPolicy, Timeouts
from bot.nodes.rpc import MAX_BODY_BYTES
from workflows.definition import parse_definition
from workflows.engine import Engine, EngineSettings
from workflows.model import RunStatus
from workflows.nodeerrors import NodeError
from workflows.service import WorkflowService
from workflows.steps.base import ExecutorRegistry
from workflows.steps.deps import StepDeps
from workflows.steps.health import HealthExecutor
from workflows.steps.rpc import RpcExecutor
from workflows.store import RunStore
from workflows.testing import StaticAuthority, StaticInventory

TIMEOUTS = Timeouts(call=1.0, connect=1.0, health=1.0, stop=1.0, stop_verify=1.0, stop_poll=0.05)
RETRY = RetryPolicy(attempts=2, total=5.0, backoff_initial=0.01, backoff_max=0.05)
BOUND = 6.0  # seconds any one read may take, all attempts included, on a loaded machine
CHUNK = b"x" * 65536


@dataclass
class HostileNode:
    """A raw TCP server speaking just enough HTTP to be hostile; counts what it managed to send."""

    mode: str
    sent: int = 0
    requests: int = 0
    server: asyncio.Server | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n"):
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if length:
                await reader.readexactly(length)
            self.requests += 1
            await self._answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self.tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        self.sent += len(data)

    async def _answer(self, writer: asyncio.StreamWriter) -> None:
        json_head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        match self.mode:
            case "endless":  # chunked, never ends
                await self._write(writer, json_head + b"Transfer-Encoding: chunked\r\n\r\n")
                while True:
                    await self._write(writer, b"10000\r\n" + CHUNK + b"\r\n")
            case "huge-length":  # declares a terabyte, sends until the reader gives up
                await self._write(writer, json_head + b"Content-Length: 1099511627776\r\n\r\n")
                while True:
                    await self._write(writer, CHUNK)
            case "until-close":  # no length at all: the body ends when the connection does
                await self._write(writer, json_head + b"Connection: close\r\n\r\n")
                while True:
                    await self._write(writer, CHUNK)
            case "silent":  # headers, then nothing, forever
                await self._write(writer, json_head + b"Content-Length: 100\r\n\r\n")
                await asyncio.sleep(3600)
            case "trickle":  # a byte every 0.2 s
                await self._write(writer, json_head + b"Content-Length: 1000\r\n\r\n")
                while True:
                    await self._write(writer, b" ")
                    await asyncio.sleep(0.2)
            case "deep":  # valid JSON nested deeper than a recursive parser goes
                body = b"[" * 200_000 + b"]" * 200_000
                await self._write(writer, json_head
                                  + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            case "wrong-types":
                body = (b'{"jsonrpc": "2.0", "id": 7, "result": {"blocks": "many"},'
                        b' "best_height": "tall", "status": 5, "peer_count": [1], '
                        b'"syncing": "maybe", "hash": 12}')
                await self._write(writer, json_head
                                  + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            case "not-text":
                body = bytes(range(256)) * 16
                await self._write(writer, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                  + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            case "headers-forever":  # a header line that never ends
                await self._write(writer, b"HTTP/1.1 200 OK\r\nX-Junk: ")
                while True:
                    await self._write(writer, CHUNK)


MODES = ["endless", "huge-length", "until-close", "silent", "trickle", "deep", "wrong-types",
         "not-text", "headers-forever"]


def config_for(url: str) -> BotConfig:
    text = f"""
environments:
  testnet:
    network: testnet
    rpc_credentials: {{user: parthenon, password_env: HOSTILE_RPC_PASSWORD}}
    nodes:
      - {{name: hostile-1, rpc_url: "{url}", role: validator}}
groups: {{operators: [UOP1]}}
"""
    return parse_config(text, env={"HOSTILE_RPC_PASSWORD": "hostile-rpc-password-1"})


@pytest.fixture(params=MODES)
async def hostile(request: pytest.FixtureRequest) -> AsyncIterator[HostileNode]:
    node = HostileNode(str(request.param))
    await node.start()
    yield node
    await node.stop()


async def bounded(read: Awaitable[Any]) -> tuple[NodeError | None, float]:
    started = time.monotonic()
    try:
        await asyncio.wait_for(read, BOUND * 3)
    except NodeError as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


READS: dict[str, Callable[[NodeClient, Any], Awaitable[Any]]] = {
    "rpc": lambda client, node: client.call(node, "getblockcount", [], expect=int),
    "tip": lambda client, node: client.tip(node),
    "genesis": lambda client, node: client.genesis_hash(node),
    "health": lambda client, node: client.health(node),
    "metrics": lambda client, node: client.metrics(node),
}


@pytest.mark.parametrize("read", sorted(READS))
async def test_every_read_from_a_hostile_node_is_a_bounded_error(
    hostile: HostileNode, read: str
) -> None:
    """Each read ends with a NodeError naming the node, within the time bound, having taken
    at most about the body cap (plus what socket buffers hold) from the node."""
    config = config_for(hostile.url)
    [node] = config.nodes("testnet")
    async with NodeClient(retry=RETRY, timeouts=TIMEOUTS) as client:
        error, took = await bounded(READS[read](client, node))
    if read == "metrics" and hostile.mode in {"not-text", "deep", "wrong-types"}:
        # /metrics is read leniently, line by line (the node's own text is not valid
        # exposition): a complete body that is not metrics is simply no samples.
        assert error is None
        assert took < BOUND
        return
    assert error is not None, f"{read} of a {hostile.mode} node did not fail"
    assert error.node == "hostile-1"
    assert took < BOUND, f"{read} of a {hostile.mode} node took {took:.1f}s"
    # What the node could push: the body cap per attempt, plus what the kernel's socket buffers
    # on both ends hold (a few MiB on loopback); an unbounded reader would take it all.
    assert hostile.sent < MAX_BODY_BYTES * RETRY.attempts + 24 * 1024 * 1024


HOSTILE_STEPS = """
name: hostile
title: Read a hostile node
parameters: [{name: environment}]
steps:
  - {id: look, title: Look at the node, kind: health, retries: 0}
  - {id: tip, title: Capture its tip, kind: rpc, with: {action: tip}}
"""


@pytest.mark.parametrize("mode", ["endless", "silent", "deep", "wrong-types"])
async def test_a_run_reading_a_hostile_node_is_blocked_naming_it(redis: Any, mode: str) -> None:
    """Through the engine and the real executors: the step fails with the node's name and the
    run is blocked for a human, well within the step's own timeout."""
    node = HostileNode(mode)
    await node.start()
    config = config_for(node.url)
    definition = parse_definition(yaml.safe_load(HOSTILE_STEPS), "hostile.yaml", HOSTILE_STEPS)
    store = RunStore(redis)
    service = WorkflowService(
        store, {"hostile": definition},
        StaticInventory({"testnet": [("hostile-1", "validator", False)]}),
        StaticAuthority(groups={"operators": {"UOP1"}}),
    )
    client = NodeClient(retry=RETRY, timeouts=TIMEOUTS)
    deps = StepDeps(store=store, runs=service, config=config,
                    nodes=StepNodes(config, client, NetworkGuard(client)))
    engine = Engine(store, ExecutorRegistry([HealthExecutor(), RpcExecutor()]),
                    settings=EngineSettings(worker_id="hostile", poll_interval=0.02),
                    deps=deps)
    try:
        run = await service.start("hostile", {"environment": "testnet"}, actor="UOP1")
        started = time.monotonic()
        await asyncio.wait_for(engine.process(run.id), BOUND * 3)
        took = time.monotonic() - started
        run = await store.get(run.id)
    finally:
        await client.aclose()
        await node.stop()
    assert run.status is RunStatus.BLOCKED
    assert "hostile-1" in (run.reason or "")
    assert took < BOUND * 2
