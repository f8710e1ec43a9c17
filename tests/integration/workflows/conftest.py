"""Fixtures for engine tests: a store on our own Redis, a service with fixed groups and nodes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis
import yaml

from workflows.definition import Definition, parse_definition
from workflows.engine import Engine, EngineSettings
from workflows.model import Run, RunStatus
from workflows.service import WorkflowService
from workflows.steps.base import ExecutorRegistry
from workflows.steps.bot import BotExecutor
from workflows.steps.deps import StepDeps
from workflows.steps.people import ApprovalExecutor, ManualExecutor
from workflows.steps.wait import WaitExecutor
from workflows.store import RunStore
from workflows.testing import RecordingExecutor, StaticAuthority, StaticInventory

GROUPS = {
    "release-managers": {"U_RM1", "U_RM2", "U_RM3"},
    "security": {"U_SEC"},
    "operators": {"U_OP", "U_RM1"},
}

PROMOTE_LIKE = """
name: smoke
title: Smoke workflow
category: release
parameters:
  - {name: version, pattern: 'v\\d+\\.\\d+\\.\\d+'}
  - {name: environment, choices: [testnet]}
steps:
  - {id: gate, title: No freeze, kind: bot, with: {action: require_no_freeze}}
  - id: approve
    title: Two release managers approve
    kind: approval
    approval: {groups: [release-managers], quorum: 2}
  - id: checksum
    title: SBOM checksum confirmed
    kind: manual
    inputs: [{name: checksum, label: SBOM checksum, pattern: '[0-9a-f]{64}'}]
    capture: {sbom: inputs.checksum}
  - {id: pause, title: Short wait, kind: wait, with: {duration: 0.2s}}
  - {id: deploy, title: 'Deploy {{ version }}', kind: rpc, effect: write,
     with: {version: '{{ version }}', sbom: '{{ sbom }}'}}
"""


def definition(text: str = PROMOTE_LIKE) -> Definition:
    return parse_definition(yaml.safe_load(text), "test.yaml", text)


def registry(recorder: RecordingExecutor) -> ExecutorRegistry:
    return ExecutorRegistry(
        [ApprovalExecutor(), ManualExecutor(), WaitExecutor(), BotExecutor(), recorder]
    )


@pytest.fixture
def recorder() -> RecordingExecutor:
    return RecordingExecutor()


@pytest.fixture
def store(redis: aioredis.Redis) -> RunStore:
    return RunStore(redis)


@pytest.fixture
def service(store: RunStore) -> WorkflowService:
    inventory = StaticInventory(
        {"testnet": [("test-1", "miner", True), ("test-2", "validator", False)]}
    )
    authority = StaticAuthority(groups=GROUPS)
    return WorkflowService(store, {"smoke": definition()}, inventory, authority)


@pytest.fixture
async def engine(
    store: RunStore, service: WorkflowService, recorder: RecordingExecutor
) -> AsyncIterator[Engine]:
    eng = Engine(
        store,
        registry(recorder),
        settings=EngineSettings(worker_id="w1", poll_interval=0.02),
        deps=StepDeps(store=store, runs=service),
    )
    task = asyncio.create_task(eng.run_forever())
    yield eng
    await eng.stop(deadline=2)
    await task


async def wait_for(
    store: RunStore, run_id: str, predicate: Callable[[Run], bool], timeout: float = 10.0
) -> Run:
    """Poll the stored run until ``predicate`` holds (the engine works in the background)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        run = await store.get(run_id)
        if predicate(run):
            return run
        if loop.time() > deadline:
            raise AssertionError(f"run never reached the expected state: {run.status} {run.reason}")
        await asyncio.sleep(0.02)


def waiting_at(step_id: str) -> Callable[[Run], bool]:
    def check(run: Run) -> bool:
        current = run.current
        return run.status is RunStatus.WAITING and current is not None and current[0].id == step_id

    return check


def status_is(*statuses: RunStatus) -> Callable[[Run], bool]:
    return lambda run: run.status in statuses

