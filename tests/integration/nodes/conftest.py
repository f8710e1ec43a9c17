"""Fixtures for the node layer over real HTTP: a devnet, a config pointing at it, a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.config import BotConfig
from bot.devnet import Devnet, DevnetNode, RequestRecord
from bot.environments import NodeConfig
from bot.nodes import NodeClient, RetryPolicy, Timeouts

PASSWORD = "devnet-password"
ENV = {
    "PARTHENON_RPC_PASSWORD_TESTNET": PASSWORD,
    "PARTHENON_RPC_PASSWORD_MAINNET": PASSWORD,
    "PARTHENON_RPC_PASSWORD_REGTEST": PASSWORD,
    "PARTHENON_DEPLOY_SECRET": "deploy-secret",
}

FAST_RETRY = RetryPolicy(
    attempts=3, total=20.0, backoff_initial=0.01, backoff_max=0.05, rate_window=1.0
)
FAST_TIMEOUTS = Timeouts(
    call=2.0, connect=1.0, health=2.0, stop=1.0, stop_verify=2.0, stop_poll=0.05
)


def config_for(*devnets: Devnet, env: dict[str, str] | None = None, **options: Any) -> BotConfig:
    """A bot config with one environment per devnet, validated like a loaded file."""
    environments = {}
    for net in devnets:
        entry = net.config_entry()
        entry.update(options)
        environments[net.network] = entry
    return BotConfig.model_validate(
        {"environments": environments}, context={"env": ENV if env is None else env}
    )


def posts(node: DevnetNode, since: int = 0) -> list[RequestRecord]:
    """The JSON-RPC requests a devnet node saw (from index `since` of its log)."""
    return [r for r in node.request_log[since:] if r.http_method == "POST" and r.path == "/"]


@pytest.fixture
async def devnet() -> AsyncIterator[Devnet]:
    """Three testnet nodes whose chain grows only when a test mines."""
    net = Devnet("testnet", nodes=3, block_interval=0)
    await net.start()
    yield net
    await net.stop()


@pytest.fixture
def config(devnet: Devnet) -> BotConfig:
    return config_for(devnet)


@pytest.fixture
def nodes(config: BotConfig) -> list[NodeConfig]:
    return config.nodes("testnet")


@pytest.fixture
async def client() -> AsyncIterator[NodeClient]:
    async with NodeClient(retry=FAST_RETRY, timeouts=FAST_TIMEOUTS) as node_client:
        yield node_client


@pytest.fixture
def make_client() -> Callable[..., NodeClient]:
    """Build extra clients with overrides; they are closed by the test's own `async with`."""

    def build(**kwargs: Any) -> NodeClient:
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("timeouts", FAST_TIMEOUTS)
        return NodeClient(**kwargs)

    return build
