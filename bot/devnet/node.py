"""One simulated ParthenonChain node: the daemon's HTTP dialect on its own loopback port.

Cheap enough for a thousand per process: a low-level aiohttp server per node, no task per node,
the tip computed from the shared `Chain` at request time; plain `GET /health` and `/metrics`
are answered before aiohttp (`_getpath`), which takes over a connection at its first other
request. This module is the node's state (what it reports of the chain), its process (start,
stop, the listening socket) and how faults act on both; what it answers over HTTP is in
`endpoints` (`Endpoints`). Faults (`NodeFaults`) change what the
node answers from its next request on; a few (a closed listening socket, a stall, a fork) take
effect the moment they are set.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.devnet._getpath import GetPath
from bot.devnet.chain import Branch, Chain
from bot.devnet.dialect import Dialect
from bot.devnet.endpoints import Endpoints, RequestRecord
from bot.devnet.errors import DevnetError
from bot.devnet.faults import NodeFaults
from bot.devnet.genesis import GENESIS_HASHES, other_network
from bot.devnet.metrics import MetricsSnapshot
from bot.devnet.wallet import Wallet

__all__ = ["DevnetNode"]

_SHUTDOWN_GRACE = 0.1


class DevnetNode:
    """A node process that can be stopped, started and broken at will."""

    def __init__(
        self,
        *,
        name: str,
        chain: Chain,
        host: str = "127.0.0.1",
        port: int = 0,
        role: str = "validator",
        canary: bool = False,
        rpc_user: str = "parthenon",
        rpc_password: str = "devnet-password",  # noqa: S107 - simulator default
        version: str = "1.0.0",
        peers: int = 1,
        rate_limit: int = 100,
        rate_window: float = 60.0,
        funds: int = 1_000 * 10**8,
        keepalive_max: int = 5,
        keepalive_timeout: float = 5.0,
        dialect: Dialect = Dialect.DAEMON,
    ) -> None:
        self.name = name
        self.dialect = Dialect(dialect)
        self.chain = chain
        self.network = chain.network
        self.host = host
        self.role = role
        self.canary = canary
        self.request_log: list[RequestRecord] = []
        self.version_history: list[str] = [version]
        self.starts = 0  # process starts, so tests can count restarts
        self._port = port
        self._version = version
        self._peers = peers
        self._wallet = Wallet(f"{chain.network}:{name}", funds)
        self.endpoints = Endpoints(
            self,
            rpc_user=rpc_user,
            rpc_password=rpc_password,
            rate_limit=rate_limit,
            rate_window=rate_window,
            keepalive_max=keepalive_max,
            keepalive_timeout=keepalive_timeout,
        )
        self._running = False
        self._status = "stopped"
        self._frozen_height: int | None = None
        self._stall_cap: int | None = None
        self._fork_height: int | None = None
        self._validation_base = 0
        self._validation_since: int | None = None
        # When each validation error reached the node's log (the daemon logs them; it exports
        # no metric for them): the deploy receiver's `check-logs` reads this.
        self._validation_log: list[float] = []
        # Inbound peer connections accepted since the process started: the daemon's peer_count
        # counts every one ever accepted, even after it closed (docs/node-dialect.md).
        self._accepted = 0
        self._real_peers = peers
        self._web: web.Server | None = None
        self._server: asyncio.Server | None = None
        self._listening: socket.socket | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self._teardown_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        # One start or stop at a time: two deploy requests for the node may overlap, and a stop's
        # teardown must not take the web server a concurrent start has just created.
        self._lifecycle = asyncio.Lock()
        self._fast_connections: set[GetPath] = set()
        # GET /health and /metrics answered before aiohttp (``_getpath``); False: every request
        # goes to the aiohttp server (bench/nodes.py measures both).
        self.fast_get = True
        self._faults = NodeFaults()
        self._faults.subscribe(self._on_fault)

    # ---- public state -------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def running(self) -> bool:
        return self._running

    @property
    def stop_event(self) -> asyncio.Event:
        """Set when the running process stops (each start makes a new one)."""
        return self._stopped

    @property
    def version(self) -> str:
        """The release installed on this node (what its deploy system knows; not the RPC's)."""
        return self._version

    @version.setter
    def version(self, value: str) -> None:
        self._version = value
        self.version_history.append(value)

    @property
    def wallet(self) -> Wallet:
        return self._wallet

    @property
    def faults(self) -> NodeFaults:
        return self._faults

    @faults.setter
    def faults(self, value: NodeFaults) -> None:
        self._faults.subscribe(None)
        self._faults = NodeFaults()
        self._faults.subscribe(self._on_fault)
        self._faults.update(value.to_dict())

    @property
    def height(self) -> int:
        if self._frozen_height is not None:
            return self._frozen_height
        height = self.chain.height()
        if self._stall_cap is not None:
            height = min(height, self._stall_cap)
        return height

    @property
    def tip_hash(self) -> str:
        return self.chain.block_hash(self.height, self.branch())

    @property
    def genesis_hash(self) -> str:
        return self.branch().genesis

    @property
    def validation_errors(self) -> int:
        if self._validation_since is None:
            return self._validation_base
        return self._validation_base + max(0, self.height - self._validation_since)

    def branch(self) -> Branch:
        wrong = self._faults.wrong_network
        network = self.network
        if wrong is True:
            network = other_network(self.network)
        elif isinstance(wrong, str):
            network = wrong
        return Branch(GENESIS_HASHES[network], self._fork_height, self.name)

    def real_peers(self) -> int:
        """Peers exchanging blocks now: the devnet's other nodes, or the `peers` fault."""
        return self._peers if self._faults.peers is None else self._faults.peers

    def peer_count(self) -> int:
        """What the daemon reports: inbound connections ever accepted since it started."""
        return self._accepted

    def syncing(self) -> bool:
        """The daemon says syncing for as long as no real peer exchanges blocks with it."""
        return self.real_peers() == 0

    def validation_errors_logged(self, since: float, until: float) -> int:
        """Validation errors the node logged between `since` and `until` (epoch seconds)."""
        self._log_validation_errors()
        return sum(1 for at in self._validation_log if since <= at <= until)

    def _log_validation_errors(self) -> None:
        """Write the errors counted since the last look into the log, stamped now."""
        now = time.time()
        missing = self.validation_errors - len(self._validation_log)
        if missing > 0:
            self._validation_log.extend([now] * missing)

    def block(self, height: int) -> dict[str, Any]:
        return self.chain.block(height, self.branch())

    def queue_transaction(self, txid: str) -> None:
        self.chain.add_transaction(txid)

    def health(self) -> dict[str, Any]:
        self._log_validation_errors()
        return {
            "best_height": self.height,
            "peer_count": self.peer_count(),
            "rpc_port": self._port,
            "status": self._status,
            "sync_progress": 100.0,
            "syncing": self.syncing(),
        }

    def metrics_text(self) -> str:
        self._log_validation_errors()
        future = self.dialect is Dialect.FUTURE  # the daemon exports no validation-error metric
        snapshot = MetricsSnapshot(
            best_height=self.height,
            peer_count=self.peer_count(),
            syncing=self.syncing(),
            validation_errors=self.validation_errors if future else None,
        )
        return self.endpoints.rpc_metrics.render(snapshot)

    # ---- process lifecycle ----------------------------------------------------------------

    async def start_process(self) -> None:
        """Start (or restart) the node: the chain is replayed, in-memory state starts empty."""
        async with self._lifecycle:
            await self._start()

    async def _start(self) -> None:
        if self._teardown_task is not None:
            await self._teardown_task
        if self._running:
            return
        self._web = web.Server(
            self.endpoints.handle,
            handler_cancellation=True,
            keepalive_timeout=self.endpoints.keepalive_timeout,
            access_log=None,
        )
        self.endpoints.reset()
        self._stopped = asyncio.Event()
        self._frozen_height = None
        self._accepted = self._real_peers = self.real_peers()  # the peers connect again
        self._running = True
        self._status = "ok"
        self.starts += 1
        if not self._faults.refuse_connections:
            self._listen()
            await self._wait_listening()

    async def stop_process(self) -> None:
        """Stop the node process: the port refuses connections, in-flight requests are cut."""
        async with self._lifecycle:
            await self._stop_now()

    async def _stop_now(self) -> None:
        if self._running:
            self._halt()
            await self._teardown()
        elif self._teardown_task is not None:
            await self._teardown_task

    def _halt(self) -> None:
        """The synchronous half of a stop: no new connections from this moment on."""
        self._frozen_height = self.height
        self._running = False
        self._status = "stopped"
        self._stopped.set()
        self._unlisten()

    def halt_if_running(self) -> None:
        """The process goes down by itself (after `stop`): halt now, tear down in the background."""
        if self._running:
            self._halt()
            self._teardown_task = asyncio.get_running_loop().create_task(self._teardown())

    async def _teardown(self) -> None:
        if self._listen_task is not None:
            await asyncio.gather(self._listen_task, return_exceptions=True)
            self._listen_task = None
        server, self._web = self._web, None
        self._close_fast()
        if server is not None:
            for connection in server.connections:
                connection.force_close()
            await server.shutdown(_SHUTDOWN_GRACE)
        self._teardown_task = None

    # ---- listening socket -----------------------------------------------------------------

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise DevnetError(f"{self.name}: cannot listen on {self.host}:{self._port}") from exc
        self._port = sock.getsockname()[1]
        return sock

    def _listen(self) -> None:
        """Listen now (the kernel queues connections at once); serve them from the next tick."""
        sock = self._bind()
        self._listening = sock
        self._listen_task = asyncio.get_running_loop().create_task(self._serve(sock))

    async def _serve(self, sock: socket.socket) -> None:
        if self._listening is not sock or self._web is None:
            return
        loop = asyncio.get_running_loop()
        web_server = self._web
        factory: Callable[[], asyncio.Protocol] = (
            (lambda: GetPath(self, web_server)) if self.fast_get else web_server
        )
        server = await loop.create_server(factory, sock=sock, start_serving=False)
        if self._listening is not sock:
            server.close()
            return
        self._server = server
        await server.start_serving()

    async def _wait_listening(self) -> None:
        if self._listen_task is not None:
            await self._listen_task

    def _unlisten(self) -> None:
        """Close the listening socket and every open connection, synchronously."""
        sock, self._listening = self._listening, None
        if self._server is not None:
            self._server.close()
            self._server = None
        elif sock is not None:
            sock.close()
        if self._web is not None:
            for connection in self._web.connections:
                connection.force_close()
        self._close_fast()

    def _close_fast(self) -> None:
        for connection in list(self._fast_connections):
            connection.close()
        self._fast_connections.clear()

    # ---- faults ---------------------------------------------------------------------------

    def _on_fault(self, name: str, value: Any) -> None:
        if name == "stalled_tip":
            self._stall_cap = None
            if value is True:
                self._stall_cap = self.height
            elif value:
                self._stall_cap = int(value)
        elif name == "divergent_tip":
            self._fork_height = None
            if value is True:
                self._fork_height = max(2, self.height)
            elif value:
                self._fork_height = max(2, int(value))
        elif name == "validation_errors":
            if value and self._validation_since is None:
                self._validation_base += 1
                self._validation_since = self.height
            elif not value and self._validation_since is not None:
                self._validation_base = self.validation_errors
                self._validation_since = None
            self._log_validation_errors()
        elif name == "peers":
            real = self.real_peers()
            if self._running and real > self._real_peers:  # new peers are new connections
                self._accepted += real - self._real_peers
            self._real_peers = real
        elif name == "refuse_connections" and self._running:
            if value and self._listening is not None:
                self._unlisten()
            elif not value and self._listening is None:
                self._listen()
