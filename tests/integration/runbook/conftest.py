"""The runbook workflows on devnets: three simulated networks, the real definitions, the real
executors, a real Redis, the engine running in the background, people acting through the service.

The run store's clock can be moved forward (approval expiry) while everything else keeps real
time; monitor windows are a second long and blocks come every 0.1 s, so a run takes seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml

from bot.config import BotConfig, parse_config
from bot.devnet import Devnet
from bot.inventory import ConfigAuthority, ConfigInventory
from bot.nodeport import StepNodes
from bot.nodes import NetworkGuard, NodeClient, PostBudget, RetryPolicy
from bot.policies import ConfigPolicies
from bot.runtime import DEFINITIONS_DIR, default_executors
from bot.testing.devnets import three_devnets
from workflows.definition import load_definitions, parse_definition
from workflows.drills import DrillKind, DrillRecord
from workflows.drillscheduler import DrillBook
from workflows.engine import Engine, EngineSettings
from workflows.freezer import Freezer
from workflows.model import Approve, Confirm, Run, RunStatus, StepStatus
from workflows.planner import plan_run
from workflows.service import WorkflowService
from workflows.steps.base import ExecutorRegistry, StepContext
from workflows.steps.deps import StepDeps
from workflows.store import RunStore
from workflows.template import context_for, render

PASSWORD = "devnet-password"
GROUPS = {
    "operators": ["UOP", "UOP2"],
    "release-managers": ["URM1", "URM2", "URM3"],
    "security": ["USEC", "USEC2"],
}
SHA = "0123456789abcdef0123456789abcdef01234567"
SUM = "ab" * 32


class OffsetClock:
    """Real UTC time plus an offset the test can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


TEST_POLICY = {"min_canary_window": "1s", "min_wave_window": "1s"}


def config_for(
    devnets: dict[str, Devnet], *, webhooks: bool = True,
    policy: dict[str, dict[str, Any]] | None = None,
) -> tuple[BotConfig, dict[str, str]]:
    """``policy``: more of ``environments.<env>.policy`` per environment."""
    env: dict[str, str] = {"PCB_RPC_PASSWORD": PASSWORD}
    environments: dict[str, Any] = {}
    for name, net in devnets.items():
        secret_env = f"PCB_HOOK_{name.upper()}"
        env[secret_env] = f"hook-secret-{name}"
        net.deploy.secret = env[secret_env]
        net.deploy.environment = name
        entry = net.config_entry(secret_env=secret_env, password_env="PCB_RPC_PASSWORD")
        if not webhooks:  # and so no deploy log check: a person reads the logs (the default)
            entry.pop("deploy_webhook")
            entry.pop("evidence")
        # Tests watch for seconds, not the runbook's hour: the minimums are lowered on purpose.
        entry["policy"] = {**TEST_POLICY, **(policy or {}).get(name, {})}
        environments[name] = entry
    doc = {
        "environments": environments,
        "groups": GROUPS,
        "permissions": {
            "default": {
                "start": ["operators", "release-managers", "security"],
                "operate": ["operators"],
            }
        },
        "drills": {"restore_drill_slo_days": 90},
    }
    return parse_config(yaml.safe_dump(doc), env=env), env


@dataclass
class Bot:
    config: BotConfig
    store: RunStore
    service: WorkflowService
    engine: Engine
    nodes: NodeClient
    guard: NetworkGuard
    devnets: dict[str, Devnet]
    clock: OffsetClock
    deps: StepDeps = field(default_factory=StepDeps)

    def net(self, environment: str) -> Devnet:
        return self.devnets[environment]

    async def start(self, workflow: str, actor: str = "UOP", **params: str) -> Run:
        return await self.service.start(workflow, params, actor=actor, channel="COPS")

    async def wait(
        self, run_id: str, predicate: Callable[[Run], bool], timeout: float = 30.0
    ) -> Run:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            run = await self.store.get(run_id)
            if predicate(run):
                return run
            if loop.time() > deadline:
                where = run.current[0].id if run.current else None
                raise AssertionError(
                    f"run {run.workflow} never reached the expected state: {run.status} at "
                    f"{where}: {run.reason}"
                )
            await asyncio.sleep(0.02)

    async def at(self, run_id: str, step_id: str, timeout: float = 30.0) -> Run:
        """Wait until the run waits for people at ``step_id``."""
        return await self.wait(run_id, waiting_at(step_id), timeout)

    async def approve(self, run_id: str, step_id: str, *actors: str) -> Run:
        run = await self.at(run_id, step_id)
        for actor in actors:
            run = await self.service.command(
                run_id, Approve(actor=actor, step_id=step_id, plan_hash=run.plan_hash)
            )
        return run

    async def confirm(self, run_id: str, step_id: str, actor: str = "UOP", **inputs: str) -> Run:
        await self.at(run_id, step_id)
        return await self.service.command(
            run_id, Confirm(actor=actor, step_id=step_id, inputs=inputs)
        )

    async def finished(self, run_id: str, timeout: float = 30.0) -> Run:
        return await self.wait(run_id, lambda r: r.terminal, timeout)

    async def seed_restore_drill(self, days_ago: float = 1.0) -> None:
        record = DrillRecord(
            kind=DrillKind.RESTORE,
            run_id="r-seeded",
            completed_at=self.store.now() - timedelta(days=days_ago),
            details={"rto_seconds": 120.0, "rpo_seconds": 3600.0},
        )
        await DrillBook(self.store).record(record)


def waiting_at(step_id: str) -> Callable[[Run], bool]:
    def check(run: Run) -> bool:
        current = run.current
        return (
            run.status is RunStatus.WAITING
            and current is not None
            and current[0].id == step_id
            and current[1].waiting_for in {"approval", "confirmation"}
        )

    return check


def blocked_at(step_id: str) -> Callable[[Run], bool]:
    def check(run: Run) -> bool:
        current = run.current
        return run.status is RunStatus.BLOCKED and current is not None and current[0].id == step_id

    return check


def status_of(run: Run, step_id: str) -> StepStatus:
    index = run.index_of(step_id)
    assert index is not None, step_id
    return run.steps[index].status


def state_of(run: Run, step_id: str) -> Any:
    index = run.index_of(step_id)
    assert index is not None, step_id
    return run.steps[index]


@pytest.fixture
async def devnets() -> AsyncIterator[dict[str, Devnet]]:
    """regtest (2 nodes), testnet (4, one canary), mainnet (4, one canary); 0.1 s blocks."""
    async with three_devnets(regtest=2, testnet=4, mainnet=4) as nets:
        yield nets


async def make_bot(
    redis: aioredis.Redis, devnets: dict[str, Devnet], *, webhooks: bool = True,
    run_engine: bool = True, policy: dict[str, dict[str, Any]] | None = None,
) -> AsyncIterator[Bot]:
    config, _ = config_for(devnets, webhooks=webhooks, policy=policy)
    clock = OffsetClock()
    store = RunStore(redis, clock=clock)
    definitions = load_definitions(DEFINITIONS_DIR)
    service = WorkflowService(store, definitions, ConfigInventory(config), ConfigAuthority(config),
                              policies=ConfigPolicies(config))
    nodes = NodeClient(budget=PostBudget(redis), retry=RetryPolicy(attempts=2, total=5.0))
    guard = NetworkGuard(nodes)
    service.freezer = Freezer(store, rules=config.incidents)  # as bot/runtime.py wires it
    deps = StepDeps(store=store, runs=service, freezer=service.freezer, config=config,
                    nodes=StepNodes(config, nodes, guard))
    engine = Engine(
        store,
        ExecutorRegistry(default_executors()),
        settings=EngineSettings(worker_id="test", poll_interval=0.02, lease=timedelta(seconds=10)),
        deps=deps,
    )
    task = asyncio.create_task(engine.run_forever()) if run_engine else None
    try:
        yield Bot(config, store, service, engine, nodes, guard, devnets, clock, deps)
    finally:
        await engine.stop(deadline=2)
        if task is not None:
            await task
        await nodes.aclose()


@pytest.fixture
async def bot(redis: aioredis.Redis, devnets: dict[str, Devnet]) -> AsyncIterator[Bot]:
    """The bot with a deploy endpoint (the devnet's receiver) for every environment."""
    async for value in make_bot(redis, devnets):
        yield value


@pytest.fixture
async def manual_bot(redis: aioredis.Redis, devnets: dict[str, Devnet]) -> AsyncIterator[Bot]:
    """The bot with no deploy endpoints: every webhook step becomes a manual confirmation."""
    async for value in make_bot(redis, devnets, webhooks=False):
        yield value


@pytest.fixture
async def parts(redis: aioredis.Redis, devnets: dict[str, Devnet]) -> AsyncIterator[Bot]:
    """The same parts with the engine not running: tests call executors (or the engine) directly."""
    async for value in make_bot(redis, devnets, run_engine=False):
        yield value


def context(
    bot: Bot,
    text: str,
    step_id: str,
    params: dict[str, str] | None = None,
    *,
    attempt: int = 1,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> StepContext:
    """A step context for ``step_id`` of an ad-hoc definition planned against the devnets."""
    defn = parse_definition(yaml.safe_load(text), "adhoc.yaml", text)
    run = plan_run(
        defn, params or {"environment": "testnet"}, inventory=ConfigInventory(bot.config),
        run_id="r-adhoc", initiator="UOP", now=bot.store.now(),
    )
    index = run.index_of(step_id)
    assert index is not None
    step = run.plan[index]
    state = run.steps[index].model_copy(update={"data": data or {}, "attempt": attempt})
    return StepContext(
        run=run, step=step, state=state,
        args=render(step.with_, context_for(run, step, run.updated_at)),
        now=now or bot.store.now(), attempt=attempt,
        idempotency_key=f"{run.id}:{step.id}:{attempt}", deps=bot.deps,
    )
