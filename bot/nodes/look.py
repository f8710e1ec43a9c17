"""One look at an environment's nodes, for people (`/parthenon health`): the bot's node client
and network guard put behind the node port, then `workflows.nodelook.look`, the same guard,
sampler, conditions and evaluation a one-look ``health`` gate uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.nodeport import StepNodes
from workflows.nodelook import EnvironmentLook, look
from workflows.steps.nodeaccess import NodeAccess

if TYPE_CHECKING:
    from bot.config import BotConfig
    from bot.environments import EnvironmentConfig
    from bot.nodes.guard import NetworkGuard
    from bot.nodes.rpc import NodeClient

__all__ = ["look_at_environment"]


async def look_at_environment(
    config: BotConfig, client: NodeClient, guard: NetworkGuard, environment: EnvironmentConfig
) -> EnvironmentLook:
    """Guard, sample and judge every node of `environment` once, as a one-look gate would."""
    access = NodeAccess(config, StepNodes(config, client, guard))
    return await look(access, environment, environment.nodes)
