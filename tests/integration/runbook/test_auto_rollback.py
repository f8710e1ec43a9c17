"""Automatic rollback on the devnets (``policy.on_gate_failure: rollback``): a promotion halted by
a wave's health gate starts its linked rollback at once, to the last release the bot recorded for
that environment, once; without such a release the offer stays and the run says why; with the
default policy (``offer``) nothing starts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.devnet import Devnet
from bot.inventory import ConfigAuthority, ConfigInventory
from bot.policies import ConfigPolicies
from tests.integration.runbook.conftest import (
    SHA,
    Bot,
    blocked_at,
    config_for,
    make_bot,
    state_of,
)
from workflows.autorollback import AutoRollback
from workflows.model import Run, RunStatus
from workflows.service import BOT_ACTOR, WorkflowService

FAST = {"canary_window": "1s", "wave_window": "1s"}
ROLLS_BACK = {"mainnet": {"on_gate_failure": "rollback"}}


@pytest.fixture
async def rolling(redis: aioredis.Redis, devnets: dict[str, Devnet]) -> AsyncIterator[Bot]:
    """The bot with mainnet's policy.on_gate_failure: rollback."""
    async for value in make_bot(redis, devnets, policy=ROLLS_BACK):
        yield value


async def rollbacks(bot: Bot) -> list[Run]:
    runs = [*await bot.service.active_runs(), *await bot.service.recent_runs(50)]
    return list({r.id: r for r in runs if r.workflow == "rollback"}.values())


async def promote_to_the_end(bot: Bot, version: str) -> Run:
    run = await bot.start("promote", version=version, git_sha=SHA, environment="mainnet", **FAST)
    await bot.approve(run.id, "security-signoff", "USEC")
    for wave in (1, 2, 3):
        await bot.approve(run.id, f"wave-{wave}.approve-mainnet", "URM1", "URM2")
    run = await bot.finished(run.id, timeout=60)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    return run


async def halt_at_wave_one(bot: Bot, version: str) -> Run:
    """A promotion whose first-wave node has lost its peers: its health gate fails."""
    bot.net("mainnet").nodes[0].faults.peers = 0
    run = await bot.start("promote", version=version, git_sha=SHA, environment="mainnet", **FAST)
    await bot.approve(run.id, "security-signoff", "USEC")
    await bot.approve(run.id, "wave-1.approve-mainnet", "URM1", "URM2")
    return run


async def test_a_failed_wave_rolls_back_to_the_last_release_at_once(rolling: Bot) -> None:
    """v1.4.2 went out; v1.5.1's first wave fails its health gate: the bot starts the rollback
    of mainnet to v1.4.2 (the release its release-record step kept) as itself, linked to the
    promotion, which ends superseded; the rollback still asks its two release managers."""
    bot = rolling
    await bot.seed_restore_drill()
    good = await promote_to_the_end(bot, "v1.4.2")
    record = await bot.store.get_record("release:latest:mainnet")
    assert (record["version"], record["run_id"]) == ("v1.4.2", good.id)

    promotion = await halt_at_wave_one(bot, "v1.5.1")
    ended = await bot.finished(promotion.id, timeout=60)
    [rollback] = await rollbacks(bot)
    assert ended.status is RunStatus.ABORTED
    assert ended.superseded_by == rollback.id
    assert (ended.reason or "").startswith(f"rolled back automatically: {rollback.id}")
    assert "main-1" in (state_of(ended, "wave-1.health").error or "")
    assert rollback.parent_run_id == promotion.id
    assert rollback.params["environment"] == "mainnet"
    assert rollback.params["version"] == "v1.4.2"  # never v1.5.1, never a guess
    assert rollback.params["wave_window"] == "1s"  # carried from the promotion
    assert rollback.initiator == BOT_ACTOR
    assert rollback.channel == "COPS"
    assert await bot.store.lock_holder("mainnet") == rollback.id

    # Its approvals still apply: two release managers, in Slack.
    waiting = await bot.at(rollback.id, "approve-mainnet")
    request = state_of(waiting, "approve-mainnet").approval
    assert request is not None
    assert (list(request.policy.groups), request.policy.quorum) == (["release-managers"], 2)

    audit = await bot.store.read_audit(promotion.id)
    [superseded] = [e for e in audit if e.type == "superseded"]
    assert superseded.detail == {"by": rollback.id, "automatic": True}
    assert superseded.actor == BOT_ACTOR
    created = (await bot.store.read_audit(rollback.id))[0]
    assert (created.type, created.actor) == ("run_created", BOT_ACTOR)
    assert created.detail["took_over_from"] == promotion.id

    # Another engine pass over the halted run (a redelivery, a second replica) starts nothing.
    await bot.store.wake(promotion.id, bot.store.now())
    await bot.engine.process(promotion.id)
    await asyncio.sleep(0.3)
    assert [r.id for r in await rollbacks(bot)] == [rollback.id]


async def test_without_a_recorded_release_the_offer_stays_and_the_run_says_why(
    rolling: Bot,
) -> None:
    """No promotion of mainnet was ever recorded: the bot invents no version. The promotion
    stays halted with its "Start rollback" offer, says why it was not rolled back (in its
    thread, on its card, in its audit log), once, and nothing starts."""
    bot = rolling
    await bot.seed_restore_drill()
    promotion = await halt_at_wave_one(bot, "v1.5.1")
    run = await bot.wait(promotion.id, lambda r: r.auto_rollback is not None, timeout=60)
    assert blocked_at("wave-1.health")(run)
    assert run.offer == "rollback"
    note = run.auto_rollback
    assert note is not None
    assert note.step_id == "wave-1.health"
    assert "no release of mainnet has been recorded" in note.reason
    assert await rollbacks(bot) == []
    audit = await bot.store.read_audit(promotion.id)
    assert [(e.actor, e.detail["reason"]) for e in audit
            if e.type == "auto_rollback_declined"] == [(BOT_ACTOR, note.reason)]
    said = [q.notify.text for q in await bot.store.peek_outbox(promotion.id, 500)
            if q.notify.kind == "auto_rollback"]
    assert said == [f"Not rolled back automatically: {note.reason}"]  # in its thread
    # A second pass decides nothing again.
    await bot.store.wake(promotion.id, bot.store.now())
    await bot.engine.process(promotion.id)
    audit = await bot.store.read_audit(promotion.id)
    assert len([e for e in audit if e.type == "auto_rollback_declined"]) == 1
    assert await rollbacks(bot) == []


async def test_with_the_default_policy_nothing_starts_and_a_rollback_starts_once(
    bot: Bot, redis: aioredis.Redis, devnets: dict[str, Devnet]
) -> None:
    """policy.on_gate_failure left at `offer`: the halted promotion only offers the rollback.
    Two replicas running with `rollback` that both act on that halt at once (and once more,
    late, on what they had read) start one rollback between them, to the recorded release."""
    await bot.seed_restore_drill()
    await bot.store.put_record("release:latest:mainnet", {
        "workflow": "promote", "run_id": "r-earlier", "version": "v1.4.2",
        "environment": "mainnet"})
    promotion = await halt_at_wave_one(bot, "v1.5.1")
    halted = await bot.wait(promotion.id, blocked_at("wave-1.health"), timeout=60)
    await asyncio.sleep(0.5)
    halted = await bot.store.get(promotion.id)
    assert halted.status is RunStatus.BLOCKED
    assert halted.offer == "rollback"
    assert halted.auto_rollback is None
    assert await rollbacks(bot) == []

    config, _ = config_for(devnets, policy=ROLLS_BACK)
    replicas = [
        AutoRollback(WorkflowService(bot.store, bot.service.definitions, ConfigInventory(config),
                                     ConfigAuthority(config), policies=ConfigPolicies(config)))
        for _ in range(2)
    ]
    started = await asyncio.gather(*(r.after_halt(halted) for r in replicas))
    late = await replicas[1].after_halt(halted)  # what it had read: the run has ended since
    [rollback] = await rollbacks(bot)
    assert {run.id for run in [*started, late] if run is not None} == {rollback.id}
    assert rollback.params["version"] == "v1.4.2"
    ended = await bot.store.get(promotion.id)
    assert ended.superseded_by == rollback.id
    audit = await bot.store.read_audit(promotion.id)
    assert len([e for e in audit if e.type == "superseded"]) == 1


async def test_the_release_that_failed_is_never_the_one_rolled_back_to(bot: Bot) -> None:
    """The last release recorded is the failing one (a re-promotion): no version, and why; a
    record of another environment is not this one's."""
    auto = AutoRollback(bot.service)
    await bot.store.put_record("release:latest", {"version": "v1.4.0", "environment": "testnet",
                                                  "run_id": "r-t"})
    version, why = await auto.last_release("mainnet", failed="v1.5.1")
    assert version is None
    assert "no release of mainnet" in why
    await bot.store.put_record("release:latest:mainnet", {
        "version": "v1.5.1", "environment": "mainnet", "run_id": "r-m"})
    version, why = await auto.last_release("mainnet", failed="v1.5.1")
    assert version is None
    assert "v1.5.1, the release that failed" in why
    version, _ = await auto.last_release("testnet", failed="v1.5.1")
    assert version == "v1.4.0"
