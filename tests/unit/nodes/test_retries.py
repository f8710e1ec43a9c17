"""The retry loop of node calls: what is repeated, and the line it logs."""

from __future__ import annotations

import logging

import pytest

from bot.nodes.retries import Retries, RetryPolicy
from workflows.nodeerrors import NodeTimeout


async def test_a_retried_read_logs_as_the_node_client(caplog: pytest.LogCaptureFixture) -> None:
    """A transient failure of a read is tried again, and the line says so under the node
    client's logger (`bot.nodes.rpc`), as it did before the retries had a module of their own."""
    attempts: list[int] = []

    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise NodeTimeout("node-a", "no complete answer within 1 s", method="getblockcount")
        return "ok"

    retries = Retries(RetryPolicy(attempts=2, backoff_initial=0.0, backoff_max=0.0))
    with caplog.at_level(logging.INFO):
        assert await retries.run(True, True, flaky) == "ok"
    assert len(attempts) == 2
    [record] = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert record.name == "bot.nodes.rpc"
    assert "attempt 1 failed" in record.getMessage()
