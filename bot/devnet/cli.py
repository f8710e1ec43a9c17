"""`parthenon-bot devnet`: run a devnet in the foreground until SIGINT or SIGTERM.

Prints one line per node (name and URL), the deploy receiver's URL and the control API's URL,
then `ready`. `bot/cli.py` dispatches the `devnet` subcommand to `run_devnet`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence

from bot.devnet.control import ControlServer
from bot.devnet.dialect import Dialect
from bot.devnet.errors import DevnetError
from bot.devnet.genesis import NETWORKS
from bot.devnet.network import DEFAULT_DEPLOY_SECRET, Devnet

__all__ = ["build_parser", "run_devnet"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parthenon-bot devnet",
        description="Run simulated ParthenonChain nodes that speak the real daemon's RPC.",
    )
    parser.add_argument("--network", choices=NETWORKS, default="testnet")
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--host", default="127.0.0.1", choices=("127.0.0.1", "::1"))
    parser.add_argument(
        "--port-base",
        type=int,
        default=None,
        help="node N listens on port-base + N - 1 (default: free ports)",
    )
    parser.add_argument("--rpc-user", default="parthenon")
    parser.add_argument(
        "--rpc-password",
        default=None,
        help="default: $PARTHENON_RPC_PASSWORD_<NETWORK> or devnet-password",
    )
    parser.add_argument("--block-interval", type=float, default=5.0)
    parser.add_argument("--canaries", type=int, default=1)
    parser.add_argument(
        "--version",
        dest="node_version",
        default="1.0.0",
        help="the release installed on every node at start (the deploy receiver reports it)",
    )
    parser.add_argument(
        "--dialect",
        choices=[d.value for d in Dialect],
        default=Dialect.DAEMON.value,
        help="daemon: the real node daemon (getinfo.version is the constant 100; default); "
        "future: a model of a future daemon (release strings in getinfo.version, extra metrics)",
    )
    parser.add_argument(
        "--write-config",
        metavar="FILE",
        default=None,
        help="write (or merge into) a bot config YAML for these nodes",
    )
    parser.add_argument(
        "--environment",
        default=None,
        help="environment name in the written config (default: the network)",
    )
    parser.add_argument(
        "--control-port", type=int, default=0, help="port of the control API (default: a free port)"
    )
    parser.add_argument("--deploy-port", type=int, default=None)
    return parser


def run_devnet(argv: Sequence[str]) -> int:
    """Parse `argv` (the words after `devnet`), run until a signal, return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return asyncio.run(_run(args))
    except DevnetError as exc:
        print(f"devnet: {exc}", file=sys.stderr, flush=True)
        return 1


async def _run(args: argparse.Namespace) -> int:
    password = args.rpc_password or os.environ.get(
        f"PARTHENON_RPC_PASSWORD_{args.network.upper()}", "devnet-password"
    )
    secret = os.environ.get("PARTHENON_DEPLOY_SECRET", DEFAULT_DEPLOY_SECRET)
    devnet = Devnet(
        network=args.network,
        nodes=args.nodes,
        host=args.host,
        port_base=args.port_base,
        rpc_user=args.rpc_user,
        rpc_password=password,
        block_interval=args.block_interval,
        canaries=args.canaries,
        version=args.node_version,
        deploy_secret=secret,
        deploy_port=args.deploy_port,
        dialect=args.dialect,
    )
    control = ControlServer(devnet, host=args.host, port=args.control_port)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, done.set)
    try:
        await devnet.start()
        await control.start()
        print(
            f"devnet {devnet.network}: {len(devnet.nodes)} nodes, "
            f"genesis {devnet.genesis_hash}, rpc user {devnet.rpc_user}",
            flush=True,
        )
        for node in devnet.nodes:
            print(
                f"node {node.name} {node.url} role={node.role} canary={str(node.canary).lower()}",
                flush=True,
            )
        print(f"deploy {devnet.deploy.url}", flush=True)
        print(f"control {control.url}", flush=True)
        if args.write_config:
            path = devnet.write_config(args.write_config, environment=args.environment)
            print(f"config {path}", flush=True)
        print("ready", flush=True)
        await done.wait()
    finally:
        await control.stop()
        await devnet.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_devnet(sys.argv[1:]))
