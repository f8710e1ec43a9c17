"""Environment locks on a real Redis: one run writes to an environment at a time. Starts racing
for one environment (exactly one wins), the refusal (which run holds it, what to do, audited),
release when the run ends (same commit), a lock surviving a Redis restart, and the rollback a
halted run offers taking the lock over (the halted run ends superseded, linked)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from bot.testing.redisserver import RedisServer
from tests.integration.workflows.conftest import definition
from workflows import keys
from workflows.apply import apply
from workflows.errors import EnvironmentLocked, InvalidCommand, NotAuthorized
from workflows.model import (
    Abort,
    OutcomeFailed,
    OutcomeSucceeded,
    Resume,
    Retry,
    Run,
    RunStatus,
    StepBegan,
    StepFinished,
)
from workflows.policy import DefaultPolicies
from workflows.service import WorkflowService
from workflows.store import RunStore
from workflows.testing import StaticAuthority, StaticInventory

GROUPS = {"operators": {"U_OP", "U_OP2"}, "release-managers": {"U_RM1"}}


PROMOTE = """
name: promo
title: Promote
category: release
parameters:
  - {name: environment, choices: [testnet, mainnet]}
steps:
  - {id: regtest-deploy, title: Regtest deploy, kind: webhook,
     targets: {environment: regtest, select: first}}
  - {id: canary, title: Canary health, kind: rpc, targets: {environment: testnet, select: canary},
     offer_on_failure: back}
  - {id: deploy, title: Deploy, kind: rpc, effect: write, targets: {select: all}}
"""
ROLLBACK = """
name: back
title: Roll back
category: recovery
parameters:
  - {name: environment, choices: [testnet, mainnet]}
steps:
  - {id: confirm, title: Restore snapshots, kind: manual}
  - {id: deploy, title: Deploy the fixed build, kind: webhook, targets: {select: all}}
"""
INCIDENT = """
name: incident
title: Incident
category: incident
parameters:
  - {name: environment, choices: [testnet, mainnet]}
steps:
  - {id: restore, title: Restore, kind: webhook, targets: {select: all}}
"""


@pytest.fixture
def locking(store: RunStore) -> WorkflowService:
    inventory = StaticInventory({
        "regtest": [("reg-1", "miner", False)],
        "testnet": [("test-1", "miner", True), ("test-2", "validator", False)],
        "mainnet": [("main-1", "miner", True)],
    })
    definitions = {"promo": definition(PROMOTE), "back": definition(ROLLBACK),
                   "incident": definition(INCIDENT)}
    return WorkflowService(store, definitions, inventory, StaticAuthority(groups=GROUPS),
                           policies=DefaultPolicies(environment_locks=True))


async def holders(redis: aioredis.Redis, *environments: str) -> list[str | None]:
    found = [await redis.get(keys.lock_key(e)) for e in environments]
    return [x.decode() if x is not None else None for x in found]


async def test_the_plan_knows_every_environment_it_writes_to(locking: WorkflowService) -> None:
    """A mainnet promotion writes to regtest (the smoke deploy) and mainnet; its canary look
    only reads. An incident locks nothing: it must never wait for what it responds to."""
    run = await locking.start("promo", {"environment": "mainnet"}, actor="U_OP")
    assert run.locks == ["mainnet", "regtest"]
    incident = await locking.start("incident", {"environment": "mainnet"}, actor="U_OP")
    assert incident.locks == []
    assert incident.status is RunStatus.RUNNING


async def test_starts_racing_for_one_environment_exactly_one_wins(
    locking: WorkflowService, redis: aioredis.Redis
) -> None:
    """Ten starts at once, each its own command: one run holds the lock, nine are refused with
    the holder named, and no refused run was left behind."""
    results = await asyncio.gather(
        *(locking.start("promo", {"environment": "testnet"}, actor="U_OP", dedup_key=f"k{n}")
          for n in range(10)),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, Run)]
    refused = [r for r in results if isinstance(r, EnvironmentLocked)]
    assert len(won) == 1
    assert len(refused) == 9
    assert {e.holder for e in refused} == {won[0].id}
    assert await holders(redis, "testnet", "regtest") == [won[0].id, won[0].id]
    assert [r.id for r in await locking.active_runs()] == [won[0].id]


async def test_the_refusal_names_the_holder_and_what_to_do_and_is_audited(
    locking: WorkflowService, store: RunStore
) -> None:
    first = await locking.start("promo", {"environment": "testnet"}, actor="U_OP")
    with pytest.raises(EnvironmentLocked) as caught:
        await locking.start("back", {"environment": "testnet"}, actor="U_OP2")
    text = str(caught.value)
    assert text.startswith(f"testnet is locked by run {first.id} (Promote: testnet, started "
                           "by <@U_OP>, running)")
    assert "Nothing was started." in text
    assert f"/parthenon abort {first.id} REASON" in text
    refusals = [e for e in await store.read_audit(first.id) if e.type == "refused_start"]
    assert [(e.actor, e.detail["workflow"]) for e in refusals] == [("U_OP2", "back")]


async def test_a_lock_is_released_in_the_commit_that_ends_the_run(
    locking: WorkflowService, redis: aioredis.Redis
) -> None:
    first = await locking.start("promo", {"environment": "testnet"}, actor="U_OP")
    await locking.command(first.id, Abort(actor="U_OP", reason="wrong build"))
    assert await holders(redis, "testnet", "regtest") == [None, None]
    second = await locking.start("promo", {"environment": "testnet"}, actor="U_OP")
    assert second.status is RunStatus.RUNNING
    assert await holders(redis, "testnet") == [second.id]


async def test_a_lock_survives_a_redis_restart(
    redis_server: RedisServer, locking: WorkflowService, redis: aioredis.Redis
) -> None:
    """Locks are ordinary keys, persisted like the runs (AOF): still held after a restart."""
    first = await locking.start("promo", {"environment": "testnet"}, actor="U_OP")
    redis_server.restart()
    assert await holders(redis, "testnet") == [first.id]
    with pytest.raises(EnvironmentLocked):
        await locking.start("promo", {"environment": "testnet"}, actor="U_OP")


async def halted(locking: WorkflowService, store: RunStore) -> Run:
    """A promotion halted at its canary look (blocked, offering the rollback)."""
    run = await locking.start("promo", {"environment": "testnet"}, actor="U_OP")
    # its first step (a webhook write) succeeded: move the cursor by finishing it as a worker
    # would, then fail the canary look

    await apply(store, run.id, StepBegan(step_id="regtest-deploy", attempt=1), now=store.now)
    await apply(store, run.id, StepFinished(step_id="regtest-deploy", attempt=1,
                                           outcome=OutcomeSucceeded()), now=store.now)
    await apply(store, run.id, StepFinished(step_id="canary", attempt=1,
                                           outcome=OutcomeFailed(error="test-1: 0 peers")),
                now=store.now)
    stored = await store.get(run.id)
    assert stored.status is RunStatus.BLOCKED
    assert stored.offer == "back"
    return stored


async def test_the_offered_rollback_takes_the_lock_over(
    locking: WorkflowService, store: RunStore, redis: aioredis.Redis
) -> None:
    """The rollback a halted run offers starts on its locked environment and holds the lock;
    the halted run ends superseded, linked to it, and gives back the locks it no longer needs."""
    parent = await halted(locking, store)
    with pytest.raises(EnvironmentLocked):  # not from the offer: refused
        await locking.start("back", {"environment": "testnet"}, actor="U_OP2")
    child = await locking.start("back", {"environment": "testnet"}, actor="U_OP2",
                                parent_run_id=parent.id)
    assert child.status is RunStatus.RUNNING
    assert await holders(redis, "testnet", "regtest") == [child.id, None]
    ended = await store.get(parent.id)
    assert ended.status is RunStatus.ABORTED
    assert ended.superseded_by == child.id
    assert ended.reason is not None
    assert child.id in ended.reason
    assert child.parent_run_id == parent.id


async def test_a_halted_run_whose_lock_a_rollback_took_is_not_retried(
    locking: WorkflowService, store: RunStore, redis: aioredis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rollback took the halted run's lock over, and its start stopped (a crash, a slow
    replica) before the halted run ended: a Retry of the halted run must not send it writing
    to testnet beside the rollback; it is refused like a Resume, naming the holder."""
    parent = await halted(locking, store)

    async def crash(*args: object) -> None:
        raise RuntimeError("the start stopped before the halted run ended")

    monkeypatch.setattr(locking, "_supersede", crash)
    with pytest.raises(RuntimeError):
        await locking.start("back", {"environment": "testnet"}, actor="U_OP2",
                            parent_run_id=parent.id)
    [child] = [r for r in await locking.active_runs() if r.parent_run_id == parent.id]
    assert await holders(redis, "testnet") == [child.id]
    with pytest.raises(InvalidCommand, match=f"now locked by run {child.id}"):
        await locking.command(parent.id, Retry(actor="U_OP", step_id="canary"))
    assert (await store.get(parent.id)).status is RunStatus.BLOCKED
    assert await holders(redis, "testnet") == [child.id]


async def test_a_start_from_an_offer_is_checked_against_the_offer(
    locking: WorkflowService, store: RunStore
) -> None:
    """A form or button naming a run that offers another workflow starts nothing (audited)."""
    parent = await halted(locking, store)
    with pytest.raises(InvalidCommand, match=f"run {parent.id} offers no promo run"):
        await locking.start("promo", {"environment": "mainnet"}, actor="U_OP",
                            parent_run_id=parent.id)
    assert [e.detail["workflow"] for e in await store.read_audit(parent.id)
            if e.type == "refused_start"] == ["promo"]
    assert len(await store.refused_starts()) == 1


async def test_an_explicit_take_over_pauses_the_holder_and_frees_its_lock(
    locking: WorkflowService, store: RunStore, redis: aioredis.Redis
) -> None:
    """Only the environment's takeover approvers (default: the operators off mainnet) may take
    a lock over; the holder is paused first, its locks freed for a rollback; resuming it is
    refused while the rollback holds testnet, and takes the locks back once it has ended."""
    holder = await locking.start("promo", {"environment": "testnet"}, actor="U_OP")
    with pytest.raises(NotAuthorized, match=r"policy\.takeover_approvers"):
        await locking.take_over(holder.id, "U_RM1", "canary looks bad")
    assert ("refused_takeover", "U_RM1") in [
        (e.type, e.actor) for e in await store.read_audit(holder.id)]
    assert await holders(redis, "testnet") == [holder.id]

    taken = await locking.take_over(holder.id, "U_OP2", "canary looks bad")
    assert taken.status is RunStatus.PAUSED
    assert await holders(redis, "testnet", "regtest") == [None, None]
    rollback = await locking.start("back", {"environment": "testnet"}, actor="U_OP2")
    assert await holders(redis, "testnet") == [rollback.id]

    with pytest.raises(InvalidCommand, match=f"now locked by run {rollback.id}"):
        await locking.command(holder.id, Resume(actor="U_OP"))
    assert (await store.get(holder.id)).status is RunStatus.PAUSED
    await locking.command(rollback.id, Abort(actor="U_OP2", reason="done by hand"))
    resumed = await locking.command(holder.id, Resume(actor="U_OP"))
    assert resumed.status is not RunStatus.PAUSED
    assert await holders(redis, "testnet", "regtest") == [holder.id, holder.id]


async def test_a_resume_refused_by_a_freeze_leaves_the_taken_over_locks_free(
    locking: WorkflowService, store: RunStore, redis: aioredis.Redis
) -> None:
    """A taken-over run's Resume that the machine refuses (promotions frozen) does not take the
    freed locks back: the environment stays free for the run that needs it."""
    holder = await locking.start("promo", {"environment": "testnet"}, actor="U_OP")
    await locking.take_over(holder.id, "U_OP2", "canary looks bad")
    await locking.freeze_promotions("U_OP", "release incident")
    with pytest.raises((InvalidCommand, NotAuthorized)):
        await locking.command(holder.id, Resume(actor="U_OP"))
    assert (await store.get(holder.id)).status is RunStatus.PAUSED
    assert await holders(redis, "testnet", "regtest") == [None, None]
