"""The shared POST budget in a real Redis: limits, waits, cooldown after a 429, two processes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.devnet import Devnet
from bot.nodes import NodeClient, PostBudget, RetryPolicy
from bot.nodes.keys import budget_key, cooldown_key
from bot.testing.redisserver import free_port
from workflows.nodeerrors import BudgetUnavailable, NodeRateLimited

from .conftest import PASSWORD, config_for, posts

ROOT = Path(__file__).resolve().parents[3]


async def test_spent_budget_refuses_without_sending(
    redis: aioredis.Redis, make_client: Callable[..., NodeClient]
) -> None:
    """With the budget spent and no wait allowed, the call fails locally and nothing is sent."""
    async with Devnet("regtest", nodes=1, block_interval=0) as net:
        node = config_for(net).nodes("regtest")[0]
        budget = PostBudget(redis, limit=3, window=60.0, max_wait=0.0)
        async with make_client(budget=budget) as client:
            for _ in range(3):
                await client.call(node, "getblockcount")
            with pytest.raises(NodeRateLimited) as caught:
                await client.call(node, "getblockcount")
        assert caught.value.local is True
        assert caught.value.sent is False
        assert 59.0 < caught.value.retry_after <= 61.0
        assert "not sent" in str(caught.value)
        assert len(posts(net.nodes[0])) == 3
        assert await budget.used(node.name) == 3


async def test_budget_waits_for_a_slot_and_the_node_never_says_429(
    redis: aioredis.Redis, make_client: Callable[..., NodeClient]
) -> None:
    """Calls beyond the budget wait for the window to slide instead of meeting the node's 429.

    The margin covers the time between taking a slot and the node counting the request; on a
    loaded machine that has been over 0.1 s, so the margin here is half a second (production's
    window is a minute)."""
    async with Devnet("regtest", nodes=1, block_interval=0, rate_limit=3, rate_window=0.5) as net:
        node = config_for(net).nodes("regtest")[0]
        budget = PostBudget(redis, limit=3, window=0.5, margin=0.5, max_wait=10.0)
        async with make_client(budget=budget, retry=RetryPolicy(attempts=1)) as client:
            results = await asyncio.gather(*(client.call(node, "getblockcount") for _ in range(7)))
        assert results == [1] * 7
        assert [r.status for r in posts(net.nodes[0])] == [200] * 7


async def test_budget_is_shared_by_clients(
    redis: aioredis.Redis, make_client: Callable[..., NodeClient]
) -> None:
    """Two clients (two replicas) with their own PostBudget objects share one count per node."""
    async with Devnet("regtest", nodes=2, block_interval=0) as net:
        first, second = config_for(net).nodes("regtest")
        one = make_client(budget=PostBudget(redis, limit=4, window=60.0, max_wait=0.0))
        two = make_client(budget=PostBudget(redis, limit=4, window=60.0, max_wait=0.0))
        async with one, two:
            for client in (one, two, one, two):
                await client.call(first, "getblockcount")
            with pytest.raises(NodeRateLimited):
                await two.call(first, "getblockcount")
            await two.call(second, "getblockcount")  # another node has its own budget
        assert len(posts(net.nodes[0])) == 4


async def test_a_429_makes_every_replica_wait(
    redis: aioredis.Redis, make_client: Callable[..., NodeClient]
) -> None:
    """After a node answers 429, other replicas refuse locally until the window has passed."""
    async with Devnet("regtest", nodes=1, block_interval=0, rate_limit=2, rate_window=1.0) as net:
        node = config_for(net).nodes("regtest")[0]
        greedy = PostBudget(redis, limit=10, window=1.0, margin=0.0)
        other = PostBudget(redis, limit=10, window=1.0, margin=0.0, max_wait=0.0)
        async with make_client(budget=greedy, retry=RetryPolicy(attempts=2, total=10.0)) as client:
            await client.call(node, "getblockcount")
            await client.call(node, "getblockcount")
            third = asyncio.create_task(client.call(node, "getblockcount"))
            for _ in range(500):
                if await redis.exists(cooldown_key(node.name)):
                    break
                await asyncio.sleep(0.01)
            with pytest.raises(NodeRateLimited) as caught:
                await other.acquire(node.name)
            assert caught.value.local is True
            assert 0 < caught.value.retry_after <= 1.01
            assert await third == 1
        assert [r.status for r in posts(net.nodes[0])] == [200, 200, 429, 200]


async def test_unreachable_redis_fails_closed(make_client: Callable[..., NodeClient]) -> None:
    """If the budget cannot be consulted, the call fails and nothing reaches the node."""
    async with Devnet("regtest", nodes=1, block_interval=0) as net:
        node = config_for(net).nodes("regtest")[0]
        dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
        try:
            async with make_client(budget=PostBudget(dead)) as client:
                with pytest.raises(BudgetUnavailable) as caught:
                    await client.call(node, "getblockcount")
        finally:
            await dead.aclose()
        assert caught.value.sent is False
        assert posts(net.nodes[0]) == []


def test_budget_limit_cannot_exceed_the_node_limit(redis: aioredis.Redis) -> None:
    """A budget above the node's own 100 per window is refused at construction."""
    with pytest.raises(ValueError, match=r"1\.\.100"):
        PostBudget(redis, limit=101)


async def test_keys_are_in_one_place(redis: aioredis.Redis) -> None:
    """The budget lives under pcb:node:{name}:budget with an expiry (no key left forever)."""
    budget = PostBudget(redis, limit=5, window=2.0)
    await budget.acquire("n-1")
    assert budget_key("n-1") == "pcb:node:{n-1}:budget"
    assert 0 < await redis.pttl(budget_key("n-1")) <= 4000


async def test_two_processes_share_the_budget(redis_url: str) -> None:
    """Two bot processes hammering one node together stay within its limit: no 429, no lockout."""
    async with Devnet("regtest", nodes=1, block_interval=0, rate_limit=20, rate_window=1.0) as net:
        node = net.nodes[0]
        env = {**os.environ, "PARTHENON_TEST_RPC_PASSWORD": PASSWORD}
        args = [
            sys.executable, "-m", "tests.integration.nodes.budget_worker",
            "--redis", redis_url, "--url", node.url, "--node", node.name,
            "--calls", "30", "--limit", "18", "--window", "1.0", "--margin", "0.3",
            "--max-wait", "20",
        ]  # fmt: skip
        workers = [
            await asyncio.create_subprocess_exec(
                *args,
                cwd=ROOT,
                env=env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        try:
            for worker in workers:
                assert worker.stdout is not None
                line = await asyncio.wait_for(worker.stdout.readline(), 30)
                assert line.strip() == b"ready"
            for worker in workers:
                assert worker.stdin is not None
                worker.stdin.write(b"go\n")
                await worker.stdin.drain()
            outputs = [await asyncio.wait_for(w.communicate(), 60) for w in workers]
        finally:
            for worker in workers:
                if worker.returncode is None:
                    worker.kill()
                    await worker.wait()
        reports = [json.loads(stdout.decode().strip().splitlines()[-1]) for stdout, _ in outputs]
        assert reports == [{"ok": 30, "errors": {}}, {"ok": 30, "errors": {}}]
        statuses = [r.status for r in posts(node)]
        assert len(statuses) == 60
        assert 429 not in statuses
