"""The shipped workflow definitions served by the scenario harness, with a regtest environment
added to the scenario config so that a promotion (which smoke-tests on regtest) can start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.runtime import DEFINITIONS_DIR
from tests.scenarios.harness import CONFIG, Harness, running_bot, scenario_config
from workflows.definition import load_definitions

__all__ = ["REGTEST", "running_shipped"]

REGTEST = """  regtest:
    network: regtest
    rpc_credentials: {user: parthenon, password_env: SCENARIO_RPC_PASSWORD}
    nodes:
      - {name: reg-1, rpc_url: "http://127.0.0.1:11", role: miner}
groups:"""


@asynccontextmanager
async def running_shipped(redis_url: str) -> AsyncIterator[Harness]:
    config = scenario_config(CONFIG.replace("groups:", REGTEST, 1))
    async with running_bot(redis_url, load_definitions(DEFINITIONS_DIR), config=config) as h:
        yield h
