"""The bot config seen through the workflow layer's protocols: nodes for planning (Inventory)
and people for permissions (Authority)."""

from __future__ import annotations

from bot.apiconfig import API_ACTOR_PREFIX
from bot.config import BotConfig
from bot.environments import NodeRole
from workflows.evidence_sources import ReleaseEvidence, ValidationErrorsEvidence

__all__ = ["ConfigAuthority", "ConfigInventory"]


class ConfigInventory:
    """Implements ``workflows.planner.Inventory`` over the config's environments."""

    def __init__(self, config: BotConfig) -> None:
        self.config = config

    def has_environment(self, environment: str) -> bool:
        return environment in self.config.environments

    def select(self, environment: str, select: str) -> list[str]:
        if select == "all":
            nodes = self.config.nodes(environment)
        elif select == "canary":
            nodes = self.config.nodes(environment, canary=True)
        elif select == "non-canary":
            nodes = self.config.nodes(environment, canary=False)
        elif select == "first":
            nodes = self.config.nodes(environment)[:1]
        elif select.startswith("role:"):
            role = select.removeprefix("role:")
            if role == "rpc-edge":
                role = NodeRole.RPC.value
            nodes = self.config.nodes(environment, role=NodeRole(role))
        else:
            nodes = []
        return [node.name for node in nodes]

    def release_evidence(self, environment: str) -> ReleaseEvidence:
        """Implements ``workflows.release_gate.ReleaseEvidencePolicy``."""
        return self.config.environment(environment).evidence.release

    def validation_errors_evidence(self, environment: str) -> ValidationErrorsEvidence:
        """Where the environment's "no rise in validation errors" checks get their evidence."""
        return self.config.environment(environment).evidence.validation_errors

    def waves(self, environment: str) -> list[tuple[int, list[str]]]:
        env = self.config.environment(environment)
        waves = self.config.waves(environment)
        total = len(env.nodes)
        result: list[tuple[int, list[str]]] = []
        done = 0
        for wave in waves:
            done += len(wave)
            percent = next(p for p in env.waves if -(-p * total // 100) >= done)
            result.append((percent, [node.name for node in wave]))
        return result


class ConfigAuthority:
    """Implements ``workflows.service.Authority``: groups and per-workflow permissions."""

    def __init__(self, config: BotConfig) -> None:
        self.config = config

    def groups_of(self, user: str) -> list[str]:
        return sorted(name for name, members in self.config.groups.items() if user in members)

    def may_start(self, user: str, workflow: str) -> bool:
        if user.startswith(API_ACTOR_PREFIX):  # a run API token: the workflows it lists
            return self.config.api.may_start(user, workflow)
        return self.config.may_start(user, workflow)

    def may_operate(self, user: str, workflow: str) -> bool:
        return self.config.may_operate(user, workflow)
