"""What an offered follow-up is prefilled with, and when starting one asks first."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.unit.workflows.runs import NOW
from workflows.definition import Definition, load_definitions, parse_definition
from workflows.errors import DefinitionError
from workflows.machine import transition
from workflows.model import (
    OutcomeFailed,
    OutcomeSucceeded,
    Run,
    RunStarted,
    StepBegan,
    StepFinished,
)
from workflows.offer import asks_first, failed_step, offer_params
from workflows.planner import plan_run
from workflows.testing import StaticInventory

SHIPPED = load_definitions(Path(__file__).parents[3] / "workflows" / "definitions")

# A promotion shaped like the shipped one: a testnet canary, then waves on the target.
PROMOTE = """
name: promote
title: Promote
category: release
parameters:
  - {name: version, pattern: 'v\\d+\\.\\d+\\.\\d+'}
  - {name: environment, choices: [mainnet, testnet]}
  - {name: wave_window, default: 10m, pattern: '\\d+[smh]'}
steps:
  - id: canary
    title: Watch the testnet canary
    kind: health
    targets: {environment: testnet, select: canary}
    offer_on_failure: rollback
  - group: wave
    foreach: waves
    steps:
      - {id: health, title: Wave health, kind: health, targets: {select: wave-cumulative},
         offer_on_failure: rollback, on_failure: abort}
"""

INVENTORY = StaticInventory({
    "testnet": [("test-1", "miner", True), ("test-2", "validator", False)],
    "mainnet": [("main-1", "miner", False)],
})


def parsed(text: str) -> Definition:
    return parse_definition(yaml.safe_load(text), "test.yaml")


def promotion(**params: str) -> Run:
    values = {"version": "v1.5.0", "environment": "mainnet", "wave_window": "3m", **params}
    run = plan_run(parsed(PROMOTE), values, inventory=INVENTORY, run_id="r1", initiator="U1",
                   now=NOW)
    return transition(run, RunStarted(), NOW)[0]


def finish(run: Run, *, failed: bool = False) -> Run:
    step = run.plan[run.cursor or 0]
    outcome = OutcomeFailed(error="validation errors rose") if failed else OutcomeSucceeded()
    for event in (StepBegan(step_id=step.id, attempt=1),
                  StepFinished(step_id=step.id, attempt=1, outcome=outcome)):
        run = transition(run, event, NOW)[0]
    return run


def test_a_failed_testnet_canary_of_a_mainnet_promotion_offers_a_testnet_rollback() -> None:
    """The shipped rollback gets testnet (where the canary failed) and the promotion's
    wave_window, never its version: rollback's version is the fixed build, for a person."""
    run = finish(promotion(), failed=True)
    assert run.offer == "rollback"
    assert offer_params(run, SHIPPED["rollback"]) == {"environment": "testnet",
                                                      "wave_window": "3m"}


def test_a_failed_mainnet_wave_offers_a_mainnet_rollback() -> None:
    """A wave that fails on mainnet (the run aborted there) offers rolling mainnet back."""
    run = finish(finish(promotion()), failed=True)
    assert run.terminal
    assert failed_step(run) is not None
    assert offer_params(run, SHIPPED["rollback"])["environment"] == "mainnet"


def test_the_failed_step_is_found_after_the_run_went_on_elsewhere() -> None:
    """A failure that goes to another step still names the step that failed."""
    defn = parsed("""
name: promote
title: Promote
parameters: [{name: environment, choices: [mainnet]}]
steps:
  - {id: canary, title: Canary, kind: health, targets: {environment: testnet, select: canary},
     offer_on_failure: rollback, on_failure: tell}
  - {id: waves, title: Waves, kind: manual}
  - {id: tell, title: Tell everyone, kind: manual}
""")
    run = plan_run(defn, {"environment": "mainnet"}, inventory=INVENTORY, run_id="r1",
                   initiator="U1", now=NOW)
    run = finish(transition(run, RunStarted(), NOW)[0], failed=True)
    assert run.plan[run.cursor or 0].id == "tell"
    step = failed_step(run)
    assert step is not None
    assert step.id == "canary"
    assert offer_params(run, SHIPPED["rollback"]) == {"environment": "testnet"}


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        # no offer_carries: only the environment
        ("{name: environment, choices: [testnet, mainnet]}", {"environment": "testnet"}),
        # an environment the target does not offer is left for the person to choose
        ("{name: environment, choices: [regtest]}", {}),
        # a carried value that does not fit the target's rules is not prefilled
        ("{name: environment}\n  - {name: wave_window, pattern: '\\d+h'}",
         {"environment": "testnet"}),
    ],
)
def test_only_values_that_fit_the_target_are_prefilled(target: str, expected: dict[str, str]
                                                       ) -> None:
    """Prefilled values fit the target's choices and patterns (Slack refuses a select whose
    initial option is not one of its options)."""
    carries = "[wave_window]" if "wave_window" in target else "[]"
    defn = parsed(f"""
name: rollback
title: Roll back
offer_carries: {carries}
parameters:
  - {target}
steps:
  - {{id: ok, title: Agree, kind: manual}}
""")
    assert offer_params(finish(promotion(), failed=True), defn) == expected


def test_a_target_on_a_fixed_environment_gets_no_environment() -> None:
    """A follow-up that always runs on one environment is not given another."""
    defn = parsed("""
name: drill
title: Drill
fixed_environment: testnet
environment_param: null
parameters:
  - {name: environment, required: false}
steps:
  - {id: ok, title: Agree, kind: manual}
""")
    assert offer_params(finish(promotion(), failed=True), defn) == {}


def test_offer_carries_must_name_parameters() -> None:
    """A definition that carries a parameter it does not have is refused at load time."""
    with pytest.raises(DefinitionError, match="offer_carries names no parameter: version"):
        parsed("""
name: rollback
title: Roll back
offer_carries: [version]
parameters: [{name: environment}]
steps: [{id: ok, title: Agree, kind: manual}]
""")


@pytest.mark.parametrize(
    ("workflow", "known", "offered", "asks"),
    [
        ("rollback", {"environment": "testnet"}, True, True),  # an offer: a person checks
        ("rollback", {}, False, True),  # environment and version unknown
        ("restore-drill", {}, False, True),  # the shipped drill needs environment and source
        ("restore-drill", {"environment": "testnet", "source": "s3://x"}, False, False),
        ("drill-dr-failover", {"environment": "testnet"}, False, False),  # window has a default
    ],
)
def test_when_starting_asks_first(workflow: str, known: dict[str, str], offered: bool,
                                  asks: bool) -> None:
    """An offer always opens the form; anything else only when a required value is unknown."""
    assert asks_first(SHIPPED[workflow], known, offered=offered) is asks


def test_an_offer_of_a_workflow_without_parameters_starts_at_once() -> None:
    """Nothing to check, nothing to ask."""
    defn = parsed("""
name: note
title: Note
environment_param: null
steps: [{id: ok, title: Agree, kind: manual}]
""")
    assert asks_first(defn, {}, offered=True) is False
