"""`parthenon-bot release-node NODE --as USER [--config F] [--redis-url URL]`.

Releases a node the network guard refused, for every replica (the refusal is in Redis). `--as`
is the Slack user id of the operator doing it: they must be an operator of the node's
environment (bot/noderelease.py), as in Slack; the audit records them and the shell user. The
node's genesis is asked again first, within the shared POST budget; a node still on the wrong
chain stays refused. Exit 0 when released (or not refused), 1 when refused or not checkable,
2 for a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from redis.exceptions import RedisError

from bot.config import load_config
from bot.configerror import ConfigError
from bot.noderelease import ReleaseNotPermitted, release_node
from bot.nodes import NetworkGuard, NodeClient, PostBudget, ReleaseRefused, RetryPolicy
from bot.nodes.refusals import RedisRefusals
from workflows.connection import connect
from workflows.errors import RedisUrlError
from workflows.nodeerrors import NodeError

__all__ = ["run_release_node"]

CONFIG_ENV = "PARTHENON_BOT_CONFIG"


def _parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parthenon-bot release-node",
        description="Release a node the network guard refused (wrong genesis), for every "
        "replica, after asking its genesis again.",
    )
    parser.add_argument("node", help="the node's name in the configuration")
    parser.add_argument("--as", dest="user", required=True, metavar="USER_ID",
                        help="your Slack user id (an operator of the node's environment)")
    parser.add_argument("--config", type=Path, default=None,
                        help=f"the configuration file (default: ${CONFIG_ENV})")
    parser.add_argument("--redis-url", default=environ.get("REDIS_URL"),
                        help="the bot's Redis (default: $REDIS_URL)")
    return parser


async def _release(config_path: Path, redis_url: str, node: str, user: str,
                   environ: Mapping[str, str]) -> tuple[int, str]:
    config = load_config(config_path, env=environ)
    redis = connect(redis_url, attempts=1)
    try:
        # Two attempts, 20 s at most: a node that does not answer is reported, not waited for.
        retry = RetryPolicy(attempts=2, total=20.0)
        async with NodeClient(budget=PostBudget(redis), retry=retry) as client:
            guard = NetworkGuard(client, refusals=RedisRefusals(redis))
            actor = f"{user} (cli, {getpass.getuser()})"
            outcome = await release_node(config, guard, node, user=user, actor=actor)
    finally:
        await redis.aclose()
    return 0, outcome.message


def run_release_node(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, out: TextIO | None = None
) -> int:
    stream = out or sys.stdout
    environ = os.environ if env is None else env
    args = _parser(environ).parse_args(list(argv))
    path = args.config or (Path(environ[CONFIG_ENV]) if environ.get(CONFIG_ENV) else None)
    if path is None:
        print(f"release-node: give the configuration file (--config or ${CONFIG_ENV})",
              file=stream)
        return 2
    if not args.redis_url:
        print("release-node: give the bot's Redis (--redis-url or $REDIS_URL): the refusal "
              "lives there", file=stream)
        return 2
    try:
        status, message = asyncio.run(_release(path, args.redis_url, args.node, args.user,
                                               environ))
    except ConfigError as exc:
        status, message = 1, str(exc)
    except ReleaseNotPermitted as exc:
        status, message = 1, exc.message
    except ReleaseRefused as exc:
        status, message = 1, f"node {args.node} is not released: it {exc.message}"
    except NodeError as exc:
        status, message = 1, (f"node {args.node} is not released: its genesis could not be "
                              f"read ({exc.message})")
    except RedisUrlError as exc:
        status, message = 1, f"REDIS_URL: {exc.message}"
    except (RedisError, OSError) as exc:
        status, message = 1, f"Redis did not answer ({type(exc).__name__}); nothing changed"
    print(f"release-node: {message}", file=stream)
    return status
