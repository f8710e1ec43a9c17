"""A bot replica in its own OS process that spends POSTs on one node through the shared budget.

Prints `ready`, waits for a line on stdin (so that several workers start together), makes its
calls, prints one JSON line {"ok": n, "errors": {code: count}} and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import Counter

import redis.asyncio as aioredis
from pydantic import SecretStr

from bot.environments import NodeConfig, RpcCredentials
from bot.nodes import NodeClient, PostBudget, RetryPolicy
from workflows.nodeerrors import NodeError


async def main(args: argparse.Namespace) -> dict[str, object]:
    password = os.environ["PARTHENON_TEST_RPC_PASSWORD"]
    node = NodeConfig(
        name=args.node,
        rpc_url=args.url,
        credentials=RpcCredentials(user="parthenon", password=SecretStr(password)),
    )
    redis = aioredis.Redis.from_url(args.redis)
    budget = PostBudget(
        redis, limit=args.limit, window=args.window, margin=args.margin, max_wait=args.max_wait
    )
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    ok = 0
    errors: Counter[str] = Counter()
    semaphore = asyncio.Semaphore(args.concurrency)
    async with NodeClient(budget=budget, retry=RetryPolicy(attempts=1)) as client:

        async def one() -> None:
            nonlocal ok
            async with semaphore:
                try:
                    await client.call(node, "getblockcount")
                    ok += 1
                except NodeError as exc:
                    errors[exc.code] += 1

        await asyncio.gather(*(one() for _ in range(args.calls)))
    await redis.aclose()
    return {"ok": ok, "errors": dict(errors)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--limit", type=int, default=18)
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--margin", type=float, default=0.3)
    parser.add_argument("--max-wait", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
