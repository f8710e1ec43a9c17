"""`parthenon-bot <command>`: one entry point; each command lives in the module named for it.

A command's module is imported only when that command runs, so `parthenon-bot devnet` needs
none of the Slack parts and a broken optional part cannot stop the others.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

__all__ = ["COMMANDS", "main", "version"]

#: command -> ("module:function", one line of help); the function takes argv, returns an exit code
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("bot.serve:run_serve", "serve Slack (HTTP, or Socket Mode with SLACK_APP_TOKEN)"),
    "demo": ("bot.console.demo:run_demo", "the whole bot locally: embedded Redis, devnet, console"),
    "devnet": ("bot.devnet.cli:run_devnet", "run simulated nodes that speak the node's RPC"),
    "check-config": ("bot.checkconfig:run_check_config", "validate the config and reach the nodes"),
    "workflows": ("bot.workflowscli:run_workflows", "list the loaded workflow definitions"),
    "runs": ("bot.runscli:run_runs", "list runs; `runs export <run-id>` writes an incident log"),
    "start": ("bot.startcli:run_start",
              "start a run through the run API (for pipelines); --wait follows it"),
    "release-node": ("bot.releasecli:run_release_node",
                     "release a node the network guard refused, after re-checking its genesis"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: parthenon-bot <command> [options]  |  parthenon-bot --version", "",
             "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def _resolve(target: str) -> Callable[[Sequence[str]], int]:
    module_name, function = target.split(":")
    module = importlib.import_module(module_name)
    runner: Callable[[Sequence[str]], int] = getattr(module, function)
    return runner


def version() -> str:
    """The installed package's version."""
    try:
        return package_version("parthenon-bot")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _dispatch(args: list[str]) -> int:
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    if args[0] in {"-V", "--version", "version"}:
        print(f"parthenon-bot {version()}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"parthenon-bot: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    return _resolve(COMMANDS[name][0])(rest)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
        return code
    except BrokenPipeError:
        # The reader went away (`parthenon-bot workflows | head`): what it read was what it
        # wanted. Point stdout at /dev/null so that the exit's flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
