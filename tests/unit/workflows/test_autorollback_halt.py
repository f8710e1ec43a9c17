"""Automatic rollback, the pure parts: which halts the policy rolls back (and which not, or not
again), what the machine keeps and says when the bot declines or supersedes, and the card."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis

from bot.slack.ids import ActionId
from bot.slack.views import card_actions, run_card
from tests.unit.slack.definitions import definition
from tests.unit.workflows.runs import apply, begin, finish, go, make_run, started, step
from workflows.autorollback import AutoRollback
from workflows.errors import InvalidCommand
from workflows.model import (
    DeclineAutoRollback,
    OutcomeFailed,
    Retry,
    Run,
    RunStatus,
    Supersede,
)
from workflows.policy import DefaultPolicies, EnvironmentPolicy
from workflows.service import WorkflowService
from workflows.store import RunStore

ROLLBACK = """
name: rollback
title: Roll back
parameters:
  - {name: environment, choices: [devnet]}
  - {name: version, pattern: 'v\\d+\\.\\d+\\.\\d+'}
steps:
  - {id: ok, title: Operators agree, kind: manual}
"""


class _Nobody:
    def groups_of(self, user: str) -> list[str]:
        return []

    def may_start(self, user: str, workflow: str) -> bool:
        return False

    def may_operate(self, user: str, workflow: str) -> bool:
        return False


class _NoInventory:
    def has_environment(self, environment: str) -> bool:
        return True

    def select(self, environment: str, select: str) -> list[str]:
        return []

    def waves(self, environment: str) -> list[tuple[int, list[str]]]:
        return []


def auto(on_gate_failure: str) -> AutoRollback:
    """Over a service whose store is never reached here (``wanted`` reads only the run)."""
    policy = EnvironmentPolicy.model_validate({"on_gate_failure": on_gate_failure})
    service = WorkflowService(
        RunStore(aioredis.Redis()), {"rollback": definition(ROLLBACK)}, _NoInventory(),
        _Nobody(), policies=DefaultPolicies({"devnet": policy}))
    return AutoRollback(service)


def halted(offer: str = "rollback") -> Run:
    """A run blocked at a health gate that offers ``offer``."""
    run = started(make_run(step("gate", "health", offer_on_failure=offer), step("after")))
    run = begin(run)
    run, _ = finish(run, OutcomeFailed(error="main-1: 0 peers"))
    assert run.status is RunStatus.BLOCKED
    return run


def test_only_a_halt_the_environment_rolls_back_is_wanted() -> None:
    run = halted()
    assert auto("rollback").wanted(run) is not None
    assert auto("offer").wanted(run) is None  # the default: the button only
    assert auto("rollback").wanted(halted(offer="incident-release")) is None


def test_a_declined_halt_is_not_decided_again_until_it_halts_again() -> None:
    run = halted()
    run, effects = apply(run, DeclineAutoRollback(step_id="gate", attempt=1,
                                                  reason="no release of devnet recorded"))
    assert run.auto_rollback is not None
    assert run.auto_rollback.reason == "no release of devnet recorded"
    assert [(e.kind, e.text) for e in effects] == [
        ("auto_rollback", "Not rolled back automatically: no release of devnet recorded")]
    assert auto("rollback").wanted(run) is None
    card = json.dumps(run_card(run, known_workflows={"rollback"}).blocks)
    assert "Not rolled back automatically" in card
    assert ActionId.START_WORKFLOW in card_actions(run, {"rollback"})  # the button stays

    run = go(run, Retry(actor="U1", step_id="gate"))
    assert auto("rollback").wanted(run) is None  # not halted any more
    assert "Not rolled back automatically" not in json.dumps(run_card(run).blocks)
    with pytest.raises(InvalidCommand):
        apply(run, DeclineAutoRollback(step_id="gate", attempt=1, reason="late"))
    run = begin(run)
    run, _ = finish(run, OutcomeFailed(error="main-1: 0 peers"))
    assert auto("rollback").wanted(run) is not None  # a new halt: decided anew


def test_a_superseded_run_says_it_was_rolled_back_automatically_and_offers_nothing() -> None:
    run = halted()
    run, effects = apply(run, Supersede(by="r2", automatic=True, actor="parthenon-bot"))
    assert run.status is RunStatus.ABORTED
    assert (run.reason or "").startswith("rolled back automatically: r2")
    assert effects[0].text == run.reason
    assert auto("rollback").wanted(run) is None
    assert ActionId.START_WORKFLOW not in card_actions(run, {"rollback"})
    person = apply(halted(), Supersede(by="r3", actor="U1"))[0]
    assert (person.reason or "").startswith("superseded by r3: the rollback it offered")
