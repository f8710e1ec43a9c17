"""A bot step `start_workflow` starts a follow-up run, linked to the run that started it."""

from __future__ import annotations

import asyncio

import yaml

from tests.integration.workflows.conftest import (
    GROUPS,
    StaticAuthority,
    StaticInventory,
    registry,
    status_is,
    wait_for,
)
from workflows.definition import parse_definition
from workflows.engine import Engine, EngineSettings
from workflows.model import RunStatus
from workflows.service import WorkflowService
from workflows.steps.deps import StepDeps
from workflows.store import RunStore
from workflows.testing import RecordingExecutor

PARENT = """
name: parent
title: Parent
parameters: []
steps:
  - {id: follow, title: Start the follow-up, kind: bot,
     with: {action: start_workflow, workflow: child, params: {note: from-parent}}}
"""
CHILD = """
name: child
title: Child
parameters: [{name: note}]
steps:
  - {id: pause, title: Short wait, kind: wait, with: {duration: 0.1s}}
"""


async def test_a_start_workflow_step_starts_its_follow_up(store: RunStore) -> None:
    defs = {d["name"]: parse_definition(d, f"{d['name']}.yaml", "")
            for d in (yaml.safe_load(PARENT), yaml.safe_load(CHILD))}
    service = WorkflowService(store, defs, StaticInventory({}), StaticAuthority(groups=GROUPS))
    engine = Engine(store, registry(RecordingExecutor()),
                    settings=EngineSettings(worker_id="w1", poll_interval=0.02),
                    deps=StepDeps(store=store, runs=service))
    task = asyncio.create_task(engine.run_forever())
    try:
        run = await service.start("parent", {}, actor="U_OP", channel="C1")
        run = await wait_for(store, run.id, status_is(RunStatus.SUCCEEDED, RunStatus.BLOCKED,
                                                      RunStatus.FAILED))
        assert run.status is RunStatus.SUCCEEDED, run.reason
        child_id = run.values["followup_run"]
        child = await wait_for(store, child_id, status_is(RunStatus.SUCCEEDED))
        assert child.parent_run_id == run.id
        assert child.params == {"note": "from-parent"}
    finally:
        await engine.stop(deadline=2)
        await task
