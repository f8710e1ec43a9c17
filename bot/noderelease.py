"""Releasing a node the network guard refused: one rule for Slack and the CLI.

`/parthenon release-node NODE` and `parthenon-bot release-node NODE` both come here. Only an
operator of the node's environment may release it: a member of the environment's `operators`
groups, or, when the environment names none, of the `default` permission's `operate` groups
(`operators` unless configured). The guard asks the node's genesis again first; a node still on
the wrong chain stays refused. Refusals, releases and refused releases are audited by the guard
(the node's guard-audit stream in Redis, and a log line).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import BotConfig
from bot.environments import EnvironmentConfig
from bot.nodes import NetworkGuard

__all__ = ["ReleaseNotPermitted", "ReleaseOutcome", "may_release", "release_groups", "release_node"]


class ReleaseNotPermitted(Exception):
    """The person is not an operator of the node's environment; nothing was asked or changed."""

    code = "not_permitted"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ReleaseOutcome:
    node: str
    environment: str
    released: bool  # False: the node was not refused (nothing to release)

    @property
    def message(self) -> str:
        if self.released:
            return (
                f"node {self.node} ({self.environment}) reports its environment's genesis "
                "again and is released: steps may act on it again"
            )
        return (
            f"node {self.node} ({self.environment}) was not refused; its genesis is "
            "its environment's, so there was nothing to release"
        )


def release_groups(config: BotConfig, environment: EnvironmentConfig) -> tuple[str, ...]:
    """The groups whose members may release a node of `environment`."""
    if environment.operators:
        return environment.operators
    return config.permission("default")[1]


def may_release(config: BotConfig, user: str, environment: EnvironmentConfig) -> bool:
    return any(user in config.groups.get(group, frozenset())
               for group in release_groups(config, environment))


def check_may_release(config: BotConfig, user: str, node: str) -> EnvironmentConfig:
    """The node's environment if `user` may release it; ConfigError (unknown node) or
    ReleaseNotPermitted otherwise."""
    environment = config.environment_of(node)  # ConfigError for a node nobody configured
    if not may_release(config, user, environment):
        groups = ", ".join(release_groups(config, environment))
        raise ReleaseNotPermitted(
            f"only an operator of environment {environment.name} (groups: {groups}) may "
            f"release node {node}"
        )
    return environment


async def release_node(
    config: BotConfig, guard: NetworkGuard, node: str, *, user: str, actor: str | None = None
) -> ReleaseOutcome:
    """Check `user` may, then release `node` through the guard (which re-asks its genesis).

    Raises ConfigError (unknown node), ReleaseNotPermitted, ReleaseRefused (the genesis is still
    wrong; audited) or the node's own NodeError (its genesis could not be read).
    """
    environment = check_may_release(config, user, node)
    released = await guard.release(config.node(node), environment, actor=actor or user)
    return ReleaseOutcome(node, environment.name, released)
