"""No secret in any captured log line: a real engine, a real node client and careless call
sites, with logging set up the way serve sets it up."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging

import pytest
import redis.asyncio as aioredis
import yaml
from pydantic import BaseModel, SecretStr

from bot.devnet import Devnet
from bot.nodes import NodeClient, RetryPolicy
from bot.observability import setup_logging
from tests.integration.nodes.conftest import config_for
from tests.integration.workflows.conftest import GROUPS, definition, status_is, wait_for
from workflows.definition import parse_definition
from workflows.engine import Engine, EngineSettings
from workflows.model import Outcome, RunStatus
from workflows.nodeerrors import NodeServerError
from workflows.service import WorkflowService
from workflows.step_models import StepKind
from workflows.steps.base import ExecutorRegistry, StepContext
from workflows.steps.bot import BotExecutor
from workflows.steps.deps import StepDeps
from workflows.steps.people import ApprovalExecutor, ManualExecutor
from workflows.steps.wait import WaitExecutor
from workflows.store import RunStore
from workflows.testing import StaticAuthority, StaticInventory

RPC_PASSWORD = "rpc-secret-91ab"
TOKEN = "xoxb-logs-0001-secret"
SIGNING = "signing-logs-secret-2"
HOOK = "hook-logs-secret-3"


class Settings(BaseModel):
    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr
    redis_url: str


class LeakyExecutor:
    """An rpc executor whose failure message carries the password (a careless bug)."""

    kind = StepKind.RPC

    async def execute(self, ctx: StepContext) -> Outcome:
        raise RuntimeError(f"login user=parthenon password={RPC_PASSWORD} refused")

    async def verify(self, ctx: StepContext) -> Outcome | None:
        return None


ONE_STEP = """
name: leak
title: Leaky
environment_param: null
fixed_environment: testnet
steps:
  - {id: call, title: Call, kind: rpc}
"""


async def test_no_secret_reaches_any_log_line(
    redis: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Engine tracebacks, node client retries and call sites that log headers, URLs and tokens
    all come out redacted, in our JSON lines and in every other handler's records."""
    stream = io.StringIO()
    async with Devnet("testnet", nodes=1, block_interval=0, rpc_password=RPC_PASSWORD) as net:
        config = config_for(net, env={"PARTHENON_RPC_PASSWORD_TESTNET": RPC_PASSWORD,
                                      "PARTHENON_DEPLOY_SECRET": HOOK})
        settings = Settings(slack_bot_token=SecretStr(TOKEN),
                            slack_signing_secret=SecretStr(SIGNING),
                            redis_url="redis://:redis-logs-secret-4@127.0.0.1:1/0")
        setup = setup_logging(settings, config, stream=stream, level="DEBUG")
        try:
            with caplog.at_level(logging.DEBUG):
                store = RunStore(redis)
                leak = parse_definition(yaml.safe_load(ONE_STEP), "leak.yaml", ONE_STEP)
                service = WorkflowService(
                    store, {"leak": leak, "smoke": definition()},
                    StaticInventory({"testnet": [("test-1", "miner", True)]}),
                    StaticAuthority(groups=GROUPS),
                )
                engine = Engine(store, ExecutorRegistry([
                    ApprovalExecutor(), ManualExecutor(), WaitExecutor(), BotExecutor(),
                    LeakyExecutor(),
                ]), settings=EngineSettings(worker_id="logs", poll_interval=0.02),
                    deps=StepDeps(store=store))
                task = asyncio.create_task(engine.run_forever())
                try:
                    run = await service.start("leak", {}, actor="U_RM1")
                    await wait_for(store, run.id,
                                   status_is(RunStatus.BLOCKED, RunStatus.FAILED))
                finally:
                    await engine.stop(deadline=2)
                    await task
                node = config.nodes("testnet")[0]
                net.node(node.name).faults.http_5xx = True
                async with NodeClient(retry=RetryPolicy(attempts=2, backoff_initial=0.01,
                                                        backoff_max=0.02)) as client:
                    with pytest.raises(NodeServerError):
                        await client.call(node, "getblockcount", [])
                pair = base64.b64encode(f"parthenon:{RPC_PASSWORD}".encode()).decode()
                careless = logging.getLogger("parthenon.careless")
                careless.info("sending headers %s", {"Authorization": f"Basic {pair}"})
                careless.info("slack client token=%s signing=%s", TOKEN, SIGNING)
                careless.warning("redis at %s", settings.redis_url)
                careless.error("webhook secret %s", HOOK, extra={"node": node.name})
        finally:
            setup.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 6
    for line in lines:
        json.loads(line)
    assert any("executor raised" in line for line in lines)
    assert any("attempt 1 failed" in line for line in lines)
    captured = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    for secret in (RPC_PASSWORD, pair, TOKEN, SIGNING, HOOK, "redis-logs-secret-4"):
        assert not [line for line in lines if secret in line], secret
        assert not [text for text in captured if secret in text], secret
