"""Scenario fixtures: the whole bot serving on loopback, with the test workflow definitions."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.scenarios.harness import Harness, running_bot
from tests.unit.slack.definitions import definitions


@pytest.fixture
async def harness(redis_url: str) -> AsyncIterator[Harness]:
    async with running_bot(redis_url, definitions()) as h:
        yield h
