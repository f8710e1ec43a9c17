"""The environment's policy at start is the environment the run is planned for, also when the
environment comes from the definition's default (a start that leaves it out): its minimum watch
windows and its skip approvers, not the defaults of no environment."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from workflows.definition import Definition, parse_definition
from workflows.errors import InvalidParameters
from workflows.policy import DefaultPolicies, EnvironmentPolicy
from workflows.service import WorkflowService
from workflows.store import RunStore
from workflows.testing import StaticAuthority, StaticInventory

CHECK = """
name: check
title: Check
category: operations
parameters:
  - {name: environment, choices: [testnet, mainnet], default: mainnet}
  - {name: canary_window, default: 90m, pattern: '\\d+(ms|s|m|h)', window: canary}
steps:
  - {id: look, title: Look at the nodes, kind: manual}
"""


def parsed(text: str) -> Definition:
    return parse_definition(yaml.safe_load(text), "t.yaml", text)


@pytest.fixture
def service(store: RunStore) -> WorkflowService:
    inventory = StaticInventory({"testnet": [("test-1", "miner", True)],
                                 "mainnet": [("main-1", "miner", True)]})
    policies = DefaultPolicies({"mainnet": EnvironmentPolicy(
        min_canary_window=timedelta(hours=2))})
    return WorkflowService(store, {"check": parsed(CHECK)}, inventory,
                           StaticAuthority(groups={"operators": {"U_OP"}}), policies=policies)


async def test_the_default_environment_s_minimum_window_applies(
    service: WorkflowService,
) -> None:
    with pytest.raises(InvalidParameters, match="shorter than mainnet's minimum of 2h"):
        await service.start("check", {}, actor="U_OP")
    run = await service.start("check", {"canary_window": "2h"}, actor="U_OP")
    assert run.environment == "mainnet"


async def test_the_default_environment_s_skip_approvers_apply(service: WorkflowService) -> None:
    run = await service.start("check", {"canary_window": "2h"}, actor="U_OP")
    approval = run.plan[0].skip.approval
    assert approval is not None
    assert approval.groups == ["security"]  # mainnet's (the default environment), not operators
    named = await service.start("check", {"environment": "testnet"}, actor="U_OP")
    skip = named.plan[0].skip.approval
    assert skip is not None
    assert skip.groups == ["operators"]
