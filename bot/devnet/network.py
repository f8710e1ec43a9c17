"""A devnet: N simulated nodes of one network sharing a chain, plus a deploy receiver.

Several devnets (one per network) can run in one process; so can a thousand nodes, since a node
costs a listening socket and no task.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.devnet.chain import Chain
from bot.devnet.config import DEFAULT_WAVES, environment_config, merge_config_file
from bot.devnet.deploy import DeployReceiver
from bot.devnet.dialect import Dialect
from bot.devnet.errors import DevnetError, UnknownNodeError
from bot.devnet.genesis import GENESIS_HASHES
from bot.devnet.node import DevnetNode

__all__ = ["DEFAULT_DEPLOY_SECRET", "Devnet", "default_roles"]

DEFAULT_DEPLOY_SECRET = "devnet-deploy-secret"  # noqa: S105 - a local simulator's default
_FDS_PER_NODE = 4


def default_roles(count: int) -> list[str]:
    """Node 1 mines, the last one is the RPC edge, the rest validate."""
    if count <= 0:
        return []
    if count == 1:
        return ["miner"]
    return ["miner", *(["validator"] * (count - 2)), "rpc-edge"]


class Devnet:
    """Build with the network and node count, `await start()`, use `.nodes`, `await stop()`."""

    def __init__(
        self,
        network: str = "testnet",
        nodes: int = 5,
        host: str = "127.0.0.1",
        port_base: int | None = None,
        rpc_user: str = "parthenon",
        rpc_password: str = "devnet-password",  # noqa: S107 - simulator default
        block_interval: float = 5.0,
        name_prefix: str | None = None,
        canaries: int = 1,
        roles: Sequence[str] | None = None,
        *,
        rate_limit: int = 100,
        rate_window: float = 60.0,
        version: str = "1.0.0",
        initial_height: int = 1,
        peers: int | None = None,
        deploy_secret: str = DEFAULT_DEPLOY_SECRET,
        deploy_port: int | None = None,
        keepalive_max: int = 5,
        keepalive_timeout: float = 5.0,
        dialect: Dialect | str = Dialect.DAEMON,
    ) -> None:
        if network not in GENESIS_HASHES:
            raise DevnetError(f"unknown network {network!r}; one of {sorted(GENESIS_HASHES)}")
        if nodes < 1:
            raise DevnetError("a devnet needs at least one node")
        role_list = list(roles) if roles is not None else default_roles(nodes)
        if not role_list:
            raise DevnetError("roles must not be empty")
        try:
            self.dialect = Dialect(dialect)
        except ValueError:
            known = ", ".join(d.value for d in Dialect)
            raise DevnetError(f"unknown dialect {dialect!r}; one of {known}") from None
        self.network = network
        self.host = host
        self.rpc_user = rpc_user
        self.chain = Chain(network, block_interval, initial_height=initial_height)
        prefix = name_prefix if name_prefix is not None else f"{network[:4]}-"
        # Each node's real peers are the devnet's other nodes: a lone node has none, so it says
        # syncing forever, like a lone regtest daemon.
        base_peers = peers if peers is not None else nodes - 1
        self.nodes: list[DevnetNode] = [
            DevnetNode(
                name=f"{prefix}{index}",
                chain=self.chain,
                host=host,
                port=port_base + index - 1 if port_base is not None else 0,
                role=role_list[(index - 1) % len(role_list)],
                canary=index <= canaries,
                rpc_user=rpc_user,
                rpc_password=rpc_password,
                version=version,
                peers=base_peers,
                rate_limit=rate_limit,
                rate_window=rate_window,
                keepalive_max=keepalive_max,
                keepalive_timeout=keepalive_timeout,
                dialect=self.dialect,
            )
            for index in range(1, nodes + 1)
        ]
        self._by_name = {node.name: node for node in self.nodes}
        self.deploy = DeployReceiver(self, deploy_secret, host=host, port=deploy_port or 0)
        self._started = False

    @property
    def genesis_hash(self) -> str:
        return self.chain.genesis

    @property
    def started(self) -> bool:
        return self._started

    def node(self, name: str) -> DevnetNode:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownNodeError(f"no node named {name!r} in the {self.network} devnet") from None

    def mine(self, blocks: int = 1) -> int:
        """Advance the chain now by `blocks` (tests need not wait for the interval)."""
        return self.chain.mine(blocks)

    async def start(self) -> None:
        if self._started:
            return
        _ensure_fd_budget(len(self.nodes) * _FDS_PER_NODE)
        self._started = True
        try:
            for node in self.nodes:
                await node.start_process()
            await self.deploy.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop every node and the deploy receiver; safe to call twice."""
        self._started = False
        await asyncio.gather(*(node.stop_process() for node in self.nodes))
        await self.deploy.stop()

    async def __aenter__(self) -> Devnet:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def config_entry(self, **options: Any) -> dict[str, Any]:
        """This devnet as one `environments:` entry of the bot config."""
        return environment_config(self, **options)

    def write_config(
        self,
        path: str | Path,
        environment: str | None = None,
        webhook_secret: str | None = None,
        *,
        min_peers: int = 1,
        waves: Sequence[int] = DEFAULT_WAVES,
        secret_env: str = "PARTHENON_DEPLOY_SECRET",  # noqa: S107 - a variable name
        password_env: str | None = None,
    ) -> Path:
        """Write (or merge into) a bot config YAML; the deploy receiver then serves `environment`.

        `webhook_secret`, when given, becomes the receiver's secret: the same value the bot will
        read from `secret_env`.
        """
        environment = environment or self.network
        if webhook_secret is not None:
            self.deploy.secret = webhook_secret
        self.deploy.environment = environment
        entry = environment_config(
            self,
            min_peers=min_peers,
            waves=waves,
            secret_env=secret_env,
            password_env=password_env,
        )
        target = Path(path)
        merge_config_file(target, environment, entry)
        return target


def _ensure_fd_budget(needed: int) -> None:
    """Raise the soft open-files limit toward the hard one when many nodes need sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed + 256:
        return
    target = needed + 256 if hard == resource.RLIM_INFINITY else min(hard, needed + 256)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
