"""The authorization matrix through the workflow service: every shipped workflow x every action
x a member of the group the action asks for, someone in no group, and the run's initiator. Only
the allowed ones change anything; every refusal leaves the run as it was and is audited."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from bot.inventory import ConfigAuthority, ConfigInventory
from bot.runtime import DEFINITIONS_DIR
from tests.security.authz import (
    ACTIONS,
    NOBODY,
    allowed,
    command_for,
    initiator_for,
    matrix_config,
    member_for,
    params_for,
    reach,
    target_of,
)
from workflows import keys
from workflows.definition import load_definitions
from workflows.errors import InvalidCommand, NotAuthorized
from workflows.service import WorkflowService
from workflows.store import RunStore

DEFINITIONS = load_definitions(DEFINITIONS_DIR)
CONFIG = matrix_config()


def service_for(redis: aioredis.Redis) -> WorkflowService:
    return WorkflowService(RunStore(redis), DEFINITIONS, ConfigInventory(CONFIG),
                           ConfigAuthority(CONFIG))


def test_every_shipped_workflow_is_in_the_matrix() -> None:
    """A new workflow definition cannot slip past the matrix: each one can be planned here."""
    assert set(DEFINITIONS) >= {"promote", "rollback", "maintenance", "backup", "startup-check"}
    for workflow in DEFINITIONS:
        assert initiator_for(CONFIG, workflow) != NOBODY


@pytest.mark.parametrize("workflow", sorted(DEFINITIONS))
async def test_starting(redis: aioredis.Redis, workflow: str) -> None:
    """Those in the workflow's start groups start a run; anyone else is refused and nothing is
    stored (a refused start has no run to audit; the Slack edge logs it)."""
    service = service_for(redis)
    starters = CONFIG.permission(workflow)[0]
    member = next(u for g in starters for u in CONFIG.groups.get(g, frozenset()))
    operator = next(iter(sorted(CONFIG.groups["operators"])))
    for actor in (NOBODY, member, operator):
        expected = any(actor in CONFIG.groups.get(g, frozenset()) for g in starters)
        before = await service.store.active_ids()
        if expected:
            run = await service.start(workflow, params_for(workflow), actor=actor)
            assert run.initiator == actor
            assert await service.store.active_ids() == [*before, run.id]
        else:
            with pytest.raises(NotAuthorized):
                await service.start(workflow, params_for(workflow), actor=actor)
            assert await service.store.active_ids() == before
    assert await redis.exists(keys.FREEZE) == 0


@pytest.mark.parametrize("action", [a for a in ACTIONS if a != "start"])
@pytest.mark.parametrize("workflow", sorted(DEFINITIONS))
async def test_acting_on_a_run(redis: aioredis.Redis, workflow: str, action: str) -> None:
    """For a run in the state the action needs: the member, the initiator and an outsider try
    it, each on a run of their own; the outcome is what the rules say, and a refusal changes
    nothing and is in the audit log with who and what."""
    service = service_for(redis)
    store = service.store
    initiator = initiator_for(CONFIG, workflow)
    problems: list[str] = []
    probe = await service.start(workflow, params_for(workflow), actor=initiator)
    case = target_of(probe, action)
    member = member_for(CONFIG, probe, action, case)
    for who, actor in (("outsider", NOBODY), ("initiator", initiator), ("member", member)):
        run = await service.start(workflow, params_for(workflow), actor=initiator)
        run = await reach(store, run, case)
        expected = allowed(CONFIG, run, action, case, actor)
        audited = len(await store.read_audit(run.id))
        refusal: Exception | None = None
        try:
            await service.command(run.id, command_for(run, action, case, actor))
        except (NotAuthorized, InvalidCommand) as exc:
            refusal = exc
        after = await store.get(run.id)
        new = await store.read_audit(run.id)
        label = f"{workflow} {action} at {case.step.id} ({case.state}) by the {who} {actor}"
        if expected:
            if refusal is not None or after.version == run.version:
                problems.append(f"{label}: refused or no change: {refusal}")
            continue
        if refusal is None:
            problems.append(f"{label}: allowed, the rules say no")
            continue
        if case.fits and who == "outsider" and not isinstance(refusal, NotAuthorized):
            problems.append(f"{label}: refused as {type(refusal).__name__}, not NotAuthorized")
        if after.model_dump() != run.model_dump():
            problems.append(f"{label}: refused but the run changed")
        entries = new[audited:]
        if [(e.type, e.actor) for e in entries] != [(f"refused_{action}", actor)]:
            problems.append(f"{label}: audit after the refusal is "
                            f"{[(e.type, e.actor) for e in entries]}")
        elif not entries[0].detail.get("reason"):
            problems.append(f"{label}: the audited refusal has no reason")
    assert not problems, "\n".join(problems)
