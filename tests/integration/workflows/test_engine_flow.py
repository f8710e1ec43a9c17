"""A run walked end to end by the engine on a real Redis, people acting through the service."""

from __future__ import annotations

import pytest

from tests.integration.workflows.conftest import status_is, wait_for, waiting_at
from workflows.engine import Engine
from workflows.errors import NotAuthorized, PromotionFrozen
from workflows.model import Approve, Confirm, RunStatus, StepStatus
from workflows.service import WorkflowService
from workflows.store import RunStore
from workflows.testing import RecordingExecutor

SUM = "a" * 64


async def test_run_goes_through_approval_confirmation_wait_and_write_step(
    engine: Engine, service: WorkflowService, store: RunStore, recorder: RecordingExecutor
) -> None:
    """Two distinct release managers approve, a responder confirms, the deploy runs once."""
    run = await service.start("smoke", {"version": "v1.4.2", "environment": "testnet"},
                              actor="U_RM1", channel="C1")
    run = await wait_for(store, run.id, waiting_at("approve"))
    with pytest.raises(NotAuthorized):
        await service.command(run.id, Approve(actor="U_RM1", step_id="approve",
                                              plan_hash=run.plan_hash))
    await service.command(run.id, Approve(actor="U_RM2", step_id="approve",
                                          plan_hash=run.plan_hash))
    assert (await store.get(run.id)).status is RunStatus.WAITING
    await service.command(run.id, Approve(actor="U_RM3", step_id="approve",
                                          plan_hash=run.plan_hash))
    run = await wait_for(store, run.id, waiting_at("checksum"))
    await service.command(run.id, Confirm(actor="U_OP", step_id="checksum",
                                          inputs={"checksum": SUM}))
    run = await wait_for(store, run.id, status_is(RunStatus.SUCCEEDED))
    assert [s.status for s in run.steps] == [StepStatus.SUCCEEDED] * 5
    assert recorder.executions[(run.id, "deploy")] == 1
    assert run.values["sbom"] == SUM
    audit = await service.audit(run.id)
    kinds = [e.type for e in audit]
    assert "refused_approve" in kinds
    assert kinds.count("approve") == 2
    ledger = await store.ledger_entry(run.id, "deploy", 1)
    assert ledger is not None
    assert ledger["outcome"] == "succeeded"


async def test_freeze_refuses_a_release_start(service: WorkflowService, store: RunStore) -> None:
    """While promotions are frozen, starting a release workflow is refused and creates nothing."""
    await service.freeze("U_OP", "incident in progress")
    with pytest.raises(PromotionFrozen):
        await service.start("smoke", {"version": "v1.4.2", "environment": "testnet"},
                            actor="U_RM1")
    assert await service.active_runs() == []
