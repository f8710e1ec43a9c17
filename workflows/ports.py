"""What the workflow layer needs from the rest of the bot, as protocols the bot satisfies.

- The configuration as the steps read it (an environment's name, chain and deploy endpoint, a
  node's name and role, the Prometheus URL, the drill SLO): `bot.config.BotConfig` and its parts
  satisfy `ConfigView` as they are (structural typing). A look-up the configuration cannot
  answer raises a `ConfigProblem` (the bot's `ConfigError` is one).
- The nodes (`NodePort`): the node client's calls and the network guard's checks, over nodes and
  environments of that configuration; `bot.nodeport.StepNodes` implements it.

Nothing here imports the bot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, overload

from workflows.nodeerrors import NetworkMismatch
from workflows.nodereplies import NodeHealth, NodeResult, StopResult, Tip

__all__ = [
    "READ_METHODS",
    "ConfigProblem",
    "ConfigView",
    "DrillsView",
    "EnvironmentView",
    "MetricsPage",
    "NodePort",
    "NodeRef",
    "Secret",
    "WebhookView",
]


READ_METHODS = frozenset({"getinfo", "chain/info", "getblockcount", "getblock", "getbalance"})
"""The node's methods without side effects: safe to send again after a lost or failed reply."""


class ConfigProblem(Exception):
    """The configuration cannot answer (an unknown environment, a refused file); ``message``
    says why and never holds a secret."""

    message: str


class Secret(Protocol):
    def get_secret_value(self) -> str: ...


class WebhookView(Protocol):
    """A deploy system's endpoint: where to POST, the HMAC secret, the time allowed."""

    @property
    def url(self) -> str: ...

    @property
    def secret(self) -> Secret: ...

    @property
    def timeout(self) -> float: ...


class EnvironmentView(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def network(self) -> str: ...

    @property
    def expected_genesis(self) -> str: ...

    @property
    def min_peers(self) -> int: ...

    @property
    def max_tip_lag(self) -> int: ...

    @property
    def deploy_webhook(self) -> WebhookView | None: ...


class NodeRef(Protocol):
    """A configured node, as the steps name it (the node port knows how to reach it)."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


class DrillsView(Protocol):
    @property
    def restore_drill_slo_days(self) -> int: ...


class ConfigView(Protocol):
    """The bot's configuration as the steps read it."""

    @property
    def prometheus_url(self) -> str | None: ...

    @property
    def drills(self) -> DrillsView: ...

    def environment(self, name: str) -> EnvironmentView: ...

    def node(self, name: str) -> NodeRef: ...


_T = TypeVar("_T")
_N = TypeVar("_N", bound=NodeRef)
Params = Sequence[Any] | dict[str, Any] | None


class MetricsPage(Protocol):
    """A node's /metrics, read leniently."""

    def total(self, name: str) -> float | None: ...


class NodePort(Protocol):
    """The nodes as the steps reach them: the node client's calls (errors are
    `workflows.nodeerrors`) and the network guard's checks, over the configuration's nodes."""

    @overload
    async def call(
        self, node: NodeRef, method: str, params: Params = None, *, expect: None = None
    ) -> Any: ...

    @overload
    async def call(
        self, node: NodeRef, method: str, params: Params = None, *, expect: type[_T]
    ) -> _T: ...

    async def tip(self, node: NodeRef) -> Tip: ...

    async def auth_required(self, node: NodeRef) -> bool: ...

    async def health(self, node: NodeRef, *, retry: bool = True) -> NodeHealth: ...

    async def metrics(self, node: NodeRef, *, retry: bool = True) -> MetricsPage: ...

    async def stop(
        self, node: NodeRef, *, stop_timeout: float | None = None, verify: float | None = None
    ) -> StopResult: ...

    async def gather(
        self, nodes: Iterable[_N], fn: Callable[[_N], Awaitable[_T]], *, limit: int | None = None
    ) -> list[NodeResult[_T]]: ...

    async def check(self, node: NodeRef, environment: EnvironmentView) -> None:
        """Return if `node` is on `environment`'s chain; raise NetworkMismatch if not."""

    async def refused(self, nodes: Iterable[str]) -> Mapping[str, NetworkMismatch]:
        """Which of `nodes` are refused (by any replica); sends nothing to them."""
