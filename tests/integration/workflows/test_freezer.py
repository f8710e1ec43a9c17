"""The freezer on a real Redis: a freeze set again is a new setting (it holds again), a lift
interrupted by a crash is finished by the keeper, an incident's freeze ends with the incident,
and a promotion started while a freeze was being set holds itself."""

from __future__ import annotations

from workflows.freezer import Freezer
from workflows.freezes import Freeze, freeze_id
from workflows.machine import transition
from workflows.model import Abort, Pause, Run, RunStarted, RunStatus
from workflows.planner import plan_run
from workflows.service import WorkflowService
from workflows.store import RunStore

PARAMS = {"version": "v1.4.2", "environment": "testnet"}


async def promotion(service: WorkflowService) -> Run:
    return await service.start("smoke", PARAMS, actor="U_RM1")


async def test_a_freeze_set_again_holds_again(service: WorkflowService, store: RunStore) -> None:
    run = await promotion(service)
    first = await service.freeze_promotions("U_OP", "one")
    assert first.held == [run.id]
    await service.unfreeze_promotions("U_OP")
    assert (await store.get(run.id)).hold is None
    second = await service.freeze_promotions("U_OP", "two")
    assert second.held == [run.id]  # the same freeze id, a new setting: not a duplicate
    assert (await store.get(run.id)).hold is not None


async def test_the_keeper_finishes_a_lift_a_crash_interrupted(
    service: WorkflowService, store: RunStore
) -> None:
    run = await promotion(service)
    await service.command(run.id, Pause(actor="U_OP"))
    await service.freeze_promotions("U_OP", "crash test", environment="testnet")
    freezer = service.freezer
    [freeze] = await freezer.book.all()
    # The lift's first half (the freeze is gone, the runs not yet released), then a crash.
    assert await freezer.book.remove([freeze], "U_OP") == [freeze]
    assert (await store.get(run.id)).hold is not None
    await freezer.reconcile()  # any replica's keeper, later
    assert (await store.get(run.id)).hold is None
    assert await freezer.book.lifting() == []
    log = [(e["type"], e["actor"]) for e in await freezer.book.log()]
    assert log == [("freeze_set", "U_OP"), ("freeze_lifted", "U_OP")]


async def test_an_incidents_freeze_ends_with_it(service: WorkflowService, store: RunStore) -> None:
    freezer = Freezer(store)
    run = await promotion(service)
    incident = await promotion(service)  # any run may set a freeze that ends with it
    await freezer.freeze("U_SEC", "sev1 test", environment="testnet", run_id=incident.id)
    assert (await store.get(run.id)).hold is not None
    assert await freezer.reconcile() == []  # the incident still runs: the freeze stays
    await service.command(incident.id, Abort(actor="U_OP", reason="over"))
    lifted = await freezer.reconcile()
    assert [f.id for f in lifted] == [freeze_id("testnet", incident.id)]
    assert (await store.get(run.id)).hold is None
    assert await freezer.book.all() == []


async def test_a_promotion_started_as_a_freeze_is_set_holds_itself(
    service: WorkflowService, store: RunStore
) -> None:
    # The freeze lands after the start's own check and before the freeze's sweep sees the run
    # (simulated: the freeze is written without a sweep); the start's second look holds it.
    await service.freezer.book.add(Freeze(id=freeze_id("testnet"), environment="testnet",
                                          by="U_OP", reason="race"))
    started = await promotion_after_check(service, store)
    assert started.hold is not None
    assert started.status is not RunStatus.PAUSED  # at a read step: it goes on until a write


async def promotion_after_check(service: WorkflowService, store: RunStore) -> Run:
    """A run created past the start's freeze check (as if the freeze came just after it)."""
    now = store.now()
    pending = plan_run(service.definition("smoke"), PARAMS, inventory=service.inventory,
                       run_id="r-race", initiator="U_RM1", now=now)
    run, _ = transition(pending, RunStarted(), now)
    await store.create(run, actor="U_RM1")
    await service.freezer.hold_if_frozen(run)
    return await store.get(run.id)
