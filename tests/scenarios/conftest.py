"""Scenario fixtures: the whole bot serving on loopback, with the test workflow definitions;
a devnet testnet for the scenarios that talk to nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.devnet import Devnet
from tests.scenarios.harness import Harness, running_bot
from tests.unit.slack.definitions import definitions


@pytest.fixture
async def harness(redis_url: str) -> AsyncIterator[Harness]:
    async with running_bot(redis_url, definitions()) as h:
        yield h


@pytest.fixture
async def testnet() -> AsyncIterator[Devnet]:
    """A devnet testnet of three nodes (one canary), a block every 0.1 s."""
    async with Devnet("testnet", nodes=3, block_interval=0.1, canaries=1) as net:
        yield net
