"""Builders for runs and step contexts in the step unit tests (input data, not mocks)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from typing import Any

import yaml

from workflows.definition import parse_definition
from workflows.model import Run
from workflows.planner import plan_run
from workflows.steps.base import StepContext
from workflows.steps.deps import StepDeps
from workflows.testing import StaticInventory

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

#: A bot config with mainnet, testnet and regtest, for planning the shipped definitions.
SAMPLE = textwrap.dedent(
    """
    environments:
      mainnet:
        network: mainnet
        min_peers: 3
        rpc_credentials: {user: bot, password_env: PCB_PW}
        deploy_webhook: {url: "https://deploy.example/hooks/parthenon", secret_env: PCB_HOOK}
        nodes:
          - {name: main-miner-1, rpc_url: "http://10.0.0.1:8332", role: miner, canary: true}
          - {name: main-val-1, rpc_url: "http://10.0.0.2:8332", role: validator}
          - {name: main-val-2, rpc_url: "http://10.0.0.3:8332", role: validator}
          - {name: main-val-3, rpc_url: "http://10.0.0.4:8332", role: validator}
          - {name: main-edge-1, rpc_url: "http://10.0.0.5:8332", role: rpc-edge}
      testnet:
        network: testnet
        rpc_credentials: {user: bot, password_env: PCB_PW}
        nodes:
          - {name: test-1, rpc_url: "http://10.1.0.1:18332", role: miner, canary: true}
          - {name: test-2, rpc_url: "http://10.1.0.2:18332", role: validator}
          - {name: test-3, rpc_url: "http://10.1.0.3:18332", role: rpc-edge}
      regtest:
        network: regtest
        rpc_credentials: {user: bot, password_env: PCB_PW}
        nodes:
          - {name: reg-1, rpc_url: "http://127.0.0.1:18443", role: miner}
    groups:
      operators: [UOP1, UOP2]
      release-managers: [URM1, URM2]
      security: [USEC1]
    """
)
INVENTORY = StaticInventory(
    {
        "testnet": [("t1", "miner", True), ("t2", "validator", False), ("t3", "rpc-edge", False)],
    }
)


def run_of(text: str, params: dict[str, str] | None = None, run_id: str = "r1") -> Run:
    defn = parse_definition(yaml.safe_load(text), "test.yaml", text)
    return plan_run(
        defn, params or {"environment": "testnet"}, inventory=INVENTORY, run_id=run_id,
        initiator="U1", now=NOW,
    )


def context_of(
    run: Run, step_id: str, args: dict[str, Any] | None = None, attempt: int = 1,
    deps: StepDeps | None = None,
) -> StepContext:
    index = run.index_of(step_id)
    assert index is not None
    step = run.plan[index]
    return StepContext(
        run=run,
        step=step,
        state=run.steps[index],
        args=step.with_ if args is None else args,
        now=NOW,
        attempt=attempt,
        idempotency_key=f"{run.id}:{step.id}:{attempt}",
        deps=deps or StepDeps(),
    )
