"""What the workflow layer needs from the bot's configuration, as protocols the bot satisfies,
and which node methods only read.

The steps read a few facts of the config (an environment's name and deploy endpoint, the
Prometheus URL, the drill SLO); `bot.config.BotConfig` and its parts satisfy these protocols as
they are (structural typing), so nothing here imports the bot. A look-up the configuration
cannot answer raises a `ConfigProblem` (the bot's `ConfigError` is one).
"""

from __future__ import annotations

from typing import Protocol

__all__ = [
    "READ_METHODS",
    "ConfigProblem",
    "ConfigView",
    "DrillsView",
    "EnvironmentView",
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
    def deploy_webhook(self) -> WebhookView | None: ...


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
