"""The node port the steps use (`workflows.ports.NodePort`), over the bot's config, node client
and network guard. The steps hold nodes and environments the config gave them; each is handed
back to the client or the guard as the config's own object (looked up by name otherwise)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

from bot.config import BotConfig
from bot.environments import EnvironmentConfig, NodeConfig
from bot.nodes import NetworkGuard, NodeClient, NodeMetrics
from workflows.nodeerrors import NetworkMismatch
from workflows.nodereplies import NodeHealth, NodeResult, StopResult, Tip
from workflows.ports import EnvironmentView, NodeRef, Params

__all__ = ["StepNodes"]

_T = TypeVar("_T")
_N = TypeVar("_N", bound=NodeRef)


class StepNodes:
    """`NodePort` over one configuration's nodes."""

    def __init__(self, config: BotConfig, client: NodeClient, guard: NetworkGuard) -> None:
        self.config = config
        self.client = client
        self.guard = guard

    def _node(self, node: NodeRef) -> NodeConfig:
        return node if isinstance(node, NodeConfig) else self.config.node(node.name)

    def _environment(self, environment: EnvironmentView) -> EnvironmentConfig:
        if isinstance(environment, EnvironmentConfig):
            return environment
        return self.config.environment(environment.name)

    @overload
    async def call(
        self, node: NodeRef, method: str, params: Params = None, *, expect: None = None
    ) -> Any: ...

    @overload
    async def call(
        self, node: NodeRef, method: str, params: Params = None, *, expect: type[_T]
    ) -> _T: ...

    async def call(
        self, node: NodeRef, method: str, params: Params = None, *,
        expect: type[Any] | None = None,
    ) -> Any:
        if expect is None:
            return await self.client.call(self._node(node), method, params)
        return await self.client.call(self._node(node), method, params, expect=expect)

    async def tip(self, node: NodeRef) -> Tip:
        return await self.client.tip(self._node(node))

    async def auth_required(self, node: NodeRef) -> bool:
        return await self.client.auth_required(self._node(node))

    async def health(self, node: NodeRef, *, retry: bool = True) -> NodeHealth:
        return await self.client.health(self._node(node), retry=retry)

    async def metrics(self, node: NodeRef, *, retry: bool = True) -> NodeMetrics:
        return await self.client.metrics(self._node(node), retry=retry)

    async def stop(
        self, node: NodeRef, *, stop_timeout: float | None = None, verify: float | None = None
    ) -> StopResult:
        return await self.client.stop(self._node(node), stop_timeout=stop_timeout, verify=verify)

    async def gather(
        self, nodes: Iterable[_N], fn: Callable[[_N], Awaitable[_T]], *, limit: int | None = None
    ) -> list[NodeResult[_T]]:
        return await self.client.gather(nodes, fn, limit=limit)

    async def check(self, node: NodeRef, environment: EnvironmentView) -> None:
        await self.guard.check(self._node(node), self._environment(environment))

    async def refused(self, nodes: Iterable[str]) -> Mapping[str, NetworkMismatch]:
        return await self.guard.refused(nodes)
