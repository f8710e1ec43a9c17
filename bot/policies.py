"""The config's `environments.<env>.policy` seen through the workflow layer's PolicySource:
minimum watch windows, who approves skipping a check the bot makes, who approves a take-over."""

from __future__ import annotations

from bot.config import BotConfig
from bot.nodes.network import Network
from workflows.policy import EnvironmentPolicy, default_skip_approvers

__all__ = ["ConfigPolicies"]


class ConfigPolicies:
    """Implements ``workflows.policy.PolicySource`` over the config."""

    #: the bot's runs always hold their environments' locks
    environment_locks = True

    def __init__(self, config: BotConfig) -> None:
        self.config = config

    def policy(self, environment: str | None) -> EnvironmentPolicy:
        env = self.config.environments.get(environment or "")
        return env.policy if env is not None else EnvironmentPolicy()

    def skip_approvers(self, environment: str | None, workflow: str) -> list[str]:
        env = self.config.environments.get(environment or "")
        return default_skip_approvers(
            self.policy(environment),
            mainnet=env is not None and env.network is Network.MAINNET,
            operate_groups=self.config.permission(workflow)[1],
        )

    def takeover_approvers(self, environment: str, workflow: str) -> list[str]:
        policy = self.policy(environment)
        if policy.takeover_approvers is not None:
            return list(policy.takeover_approvers)
        return self.skip_approvers(environment, workflow)
