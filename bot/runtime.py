"""The running bot's parts, built in one place: Redis, the run store, the workflow service, the
engine, the node client. The Slack app, the console and the tests all build through here."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis.asyncio as aioredis

from bot.config import BotConfig
from bot.inventory import ConfigAuthority, ConfigInventory
from bot.nodeport import StepNodes
from bot.nodes import NetworkGuard, NodeClient, PostBudget
from bot.nodes.refusals import RedisRefusals
from bot.policies import ConfigPolicies
from workflows.catalog import load_catalog, shipped_directory
from workflows.connection import connect
from workflows.definition import Definition
from workflows.engine import Engine, EngineSettings
from workflows.freezer import Freezer
from workflows.service import WorkflowService
from workflows.steps.base import ExecutorRegistry, StepExecutor
from workflows.steps.bot import BotExecutor
from workflows.steps.deps import StepDeps
from workflows.steps.evidence import EvidenceExecutor
from workflows.steps.health import HealthExecutor
from workflows.steps.people import ApprovalExecutor, ManualExecutor
from workflows.steps.records import RUNBOOK_ACTIONS
from workflows.steps.rpc import RpcExecutor
from workflows.steps.wait import WaitExecutor
from workflows.steps.webhook import WebhookExecutor
from workflows.store import RunStore

__all__ = ["DEFINITIONS_DIR", "Runtime", "build_runtime", "default_executors"]

DEFINITIONS_DIR = shipped_directory()


def default_executors() -> list[StepExecutor]:
    """Every executor the bot ships; node-facing ones take their client from the step deps."""
    return [
        ApprovalExecutor(),
        ManualExecutor(),
        WaitExecutor(),
        BotExecutor(actions=RUNBOOK_ACTIONS),
        RpcExecutor(),
        HealthExecutor(),
        EvidenceExecutor(),
        WebhookExecutor(),
    ]


@dataclass
class Runtime:
    config: BotConfig
    store: RunStore  # holds the Redis client (the node layer's budget and refusals hold it too)
    service: WorkflowService
    engine: Engine
    nodes: NodeClient
    guard: NetworkGuard
    definitions: dict[str, Definition]
    deps: StepDeps = field(default_factory=StepDeps)

    async def aclose(self) -> None:
        await self.engine.stop()
        await self.nodes.aclose()
        await self.store.aclose()


async def build_runtime(
    config: BotConfig,
    redis_url: str,
    *,
    definitions: dict[str, Definition] | None = None,
    engine_settings: EngineSettings | None = None,
    executors: list[StepExecutor] | None = None,
    redis_client: aioredis.Redis | None = None,
) -> Runtime:
    """Wire everything; a bad definition raises DefinitionError here, before anything serves."""
    defs = definitions if definitions is not None else load_catalog(config.definitions_dir)
    client = redis_client or connect(redis_url)
    store = RunStore(client)
    service = WorkflowService(store, defs, ConfigInventory(config), ConfigAuthority(config),
                              policies=ConfigPolicies(config))
    nodes = NodeClient(budget=PostBudget(client))
    guard = NetworkGuard(nodes, refusals=RedisRefusals(client))
    service.freezer = Freezer(store, rules=config.incidents)
    deps = StepDeps(store=store, runs=service, freezer=service.freezer, config=config,
                    nodes=StepNodes(config, nodes, guard))
    engine = Engine(
        store,
        ExecutorRegistry(executors if executors is not None else default_executors()),
        settings=engine_settings,
        deps=deps,
    )
    return Runtime(config, store, service, engine, nodes, guard, defs, deps)
