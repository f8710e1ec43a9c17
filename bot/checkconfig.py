"""`parthenon-bot check-config [FILE] [--config FILE]`: everything that can be checked before
serving, each problem with its own message, exit 1 when there is any.

1. The configuration file validates (`bot.config.load_config`; secrets resolved, never shown).
2. Every workflow definition loads, one file at a time so that each bad file is named, and the
   groups and environments the definitions name exist in the configuration.
3. Each node answers `GET /health`, and its genesis (`getblock [1]`) is its environment's chain
   (the network guard); a refused RPC login is reported as such.
4. When SLACK_BOT_TOKEN is set: the token has the right shape and Slack's `auth.test` (at
   SLACK_API_URL) accepts it; HTTP mode also needs SLACK_SIGNING_SECRET.
5. When REDIS_URL is set: the URL is one the bot can use and Redis answers a PING.

Warnings (a node that answers but is syncing, a workflow that names an environment this
deployment does not have) are printed but do not fail the check.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from redis.exceptions import RedisError
from slack_sdk.web.async_client import AsyncWebClient

from bot.capcheck import capability_problems, probe_config
from bot.config import BotConfig, load_config
from bot.configerror import ConfigError
from bot.environments import EnvironmentConfig, NodeConfig
from bot.evidence import confirmer_problems
from bot.nodes import NetworkGuard, NodeClient, RetryPolicy, Timeouts
from bot.nodes.capabilities import table as capability_table
from bot.policycheck import all_config_problems, policy_problems
from bot.probes import SlackAuthCheck
from workflows.catalog import shipped_directory
from workflows.connection import connect, parse_redis_url
from workflows.definition import Definition, load_definition
from workflows.errors import DefinitionError, RedisUrlError
from workflows.nodeerrors import NetworkMismatch, NodeAuthError, NodeError

__all__ = ["CheckOptions", "Finding", "Level", "Report", "check_config", "run_check_config"]

CONFIG_ENV = "PARTHENON_BOT_CONFIG"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    level: Level
    subject: str  # "config", "definition promote.yaml", "node test-1", "slack", "redis"
    message: str
    code: str = ""

    def line(self) -> str:
        code = f" [{self.code}]" if self.code and self.level is not Level.OK else ""
        return f"{self.level.value:<4}  {self.subject}: {self.message}{code}"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    table: list[str] = field(default_factory=list)  # the nodes' capability table

    def add(self, level: Level, subject: str, message: str, code: str = "") -> None:
        self.findings.append(Finding(level, subject, message, code))

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.level is Level.FAIL]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level is Level.WARN]


@dataclass(frozen=True)
class CheckOptions:
    config: Path | None
    definitions: Path | None = None  # a team's own directory, added to the shipped ones
    offline: bool = False  # skip everything that needs the network (nodes, Slack, Redis)
    timeout: float = 5.0


async def check_config(options: CheckOptions, env: Mapping[str, str]) -> Report:
    """Run every check; the report holds one finding per thing checked."""
    report = Report()
    config = _check_file(options, env, report)
    extra = options.definitions or (config.definitions_dir if config is not None else None)
    definitions = _check_definitions(shipped_directory(), report)
    if extra is not None:
        definitions = {**definitions, **_check_definitions(extra, report)}
    if config is not None and definitions:
        _cross_check(config, definitions, report)
    if options.offline:
        return report
    if config is not None:
        wrong_chain = await _check_nodes(config, options.timeout, report)
        await _check_capabilities(config, definitions, options.timeout, report, wrong_chain)
    await _check_slack(env, options.timeout, report)
    await _check_redis(env, options.timeout, report)
    return report


# --- the file and the definitions ------------------------------------------------------------


def _check_file(options: CheckOptions, env: Mapping[str, str], report: Report) -> BotConfig | None:
    path = options.config
    if path is None:
        report.add(Level.FAIL, "config",
                   f"no configuration file given (pass FILE or --config, or set {CONFIG_ENV})",
                   "no_config")
        return None
    try:
        config = load_config(path, env=env)
    except ConfigError as exc:
        # every problem on its own line, with its field (never "and N more")
        each = all_config_problems(path, env)
        if not each:
            report.add(Level.FAIL, "config", str(exc), exc.code)
        for problem in each:
            report.add(Level.FAIL, "config", f"{path}: {problem.text()}", problem.code)
        return None
    nodes = sum(len(e.nodes) for e in config.environments.values())
    report.add(Level.OK, "config",
               f"{path}: {len(config.environments)} environments, {nodes} nodes, "
               f"{len(config.groups)} groups")
    return config


def _check_definitions(directory: Path, report: Report) -> dict[str, Definition]:
    if not directory.is_dir():
        report.add(Level.FAIL, "definitions", f"{directory} is not a directory", "no_definitions")
        return {}
    files = sorted(directory.glob("*.yaml"))
    if not files:
        report.add(Level.FAIL, "definitions", f"no *.yaml workflow definitions in {directory}",
                   "no_definitions")
        return {}
    found: dict[str, Definition] = {}
    where: dict[str, str] = {}
    for path in files:
        try:
            definition = load_definition(path)
        except DefinitionError as exc:
            report.add(Level.FAIL, f"definition {path.name}", exc.message, exc.code)
            continue
        if definition.name in found:
            report.add(Level.FAIL, f"definition {path.name}",
                       f"workflow {definition.name!r} is defined again (first in "
                       f"{where[definition.name]})",
                       "duplicate_workflow")
            continue
        found[definition.name] = definition
        where[definition.name] = path.name
    if found:
        report.add(Level.OK, "definitions", f"{len(found)} workflows load: {', '.join(found)}")
    return found


def _cross_check(config: BotConfig, definitions: dict[str, Definition], report: Report) -> None:
    """Names the definitions use that this configuration does not have."""
    for name, definition in definitions.items():
        subject = f"workflow {name}"
        environments: set[str] = set()
        if definition.fixed_environment:
            environments.add(definition.fixed_environment)
        for _, step in definition.flat_steps():
            groups = set(step.responders or [])
            for policy in (step.approval, step.skip.approval):
                if policy is not None:
                    groups |= set(policy.groups) | set(policy.reject_groups or [])
            for group in sorted(groups - set(config.groups)):
                report.add(Level.FAIL, subject,
                           f"step {step.id} names group {group!r}, which the config does not "
                           "define: nobody could approve or confirm it", "unknown_group")
            if step.targets is not None and step.targets.environment:
                environments.add(step.targets.environment)
            if step.offer_on_failure and step.offer_on_failure not in definitions:
                report.add(Level.WARN, subject,
                           f"step {step.id} offers workflow {step.offer_on_failure!r}, which is "
                           "not defined", "unknown_workflow")
        for environment in sorted(environments - set(config.environments)):
            report.add(Level.WARN, subject,
                       f"uses environment {environment!r}, which this config does not have: "
                       "runs of it will be refused", "unknown_environment")
    for problem in policy_problems(config, definitions):
        report.add(Level.FAIL, problem.subject, problem.text(), problem.code)
    for env_name, env in config.environments.items():
        for text in confirmer_problems(env_name, env.evidence, config.groups):
            report.add(Level.FAIL, "config", text, "no_confirmers")
    for workflow in sorted(set(config.permissions) - set(definitions) - {"default"}):
        report.add(Level.WARN, "config",
                   f"permissions name workflow {workflow!r}, which no definition defines",
                   "unknown_workflow")


# --- the nodes -------------------------------------------------------------------------------


async def _check_nodes(config: BotConfig, seconds: float, report: Report) -> set[str]:
    """One finding per node; returns the names of the nodes found on the wrong chain."""
    timeouts = Timeouts(call=seconds, connect=min(seconds, 3.0), health=seconds)
    async with NodeClient(timeouts=timeouts, retry=RetryPolicy(attempts=1)) as client:
        guard = NetworkGuard(client)
        pairs = [(env, node) for env in config.environments.values() for node in env.nodes]
        results = await asyncio.gather(*(_check_node(client, guard, e, n) for e, n in pairs))
    wrong_chain: set[str] = set()
    for (_, node), findings in zip(pairs, results, strict=True):
        report.findings.extend(findings)
        if any(f.code == NetworkMismatch.code for f in findings):
            wrong_chain.add(node.name)
    return wrong_chain


async def _check_node(
    client: NodeClient, guard: NetworkGuard, environment: EnvironmentConfig, node: NodeConfig
) -> list[Finding]:
    subject = f"node {node.name} ({environment.name})"
    try:
        health = await client.health(node, retry=False)
    except NodeError as exc:
        return [Finding(Level.FAIL, subject, f"/health at {node.rpc_url}: {exc.message}",
                        exc.code)]
    findings = []
    if not health.ok or health.syncing:
        state = "syncing" if health.ok else repr(health.status)
        findings.append(Finding(Level.WARN, subject, f"/health answers but says {state}",
                                "node_not_ok"))
    try:
        await guard.check(node, environment)
    except NetworkMismatch as exc:
        findings.append(Finding(Level.FAIL, subject, exc.message, exc.code))
        return findings
    except NodeAuthError as exc:
        findings.append(Finding(
            Level.FAIL, subject,
            f"the RPC login was refused ({exc.message}); check its credentials", exc.code))
        return findings
    except NodeError as exc:
        findings.append(Finding(Level.FAIL, subject, f"genesis check: {exc.message}", exc.code))
        return findings
    findings.append(Finding(
        Level.OK, subject,
        f"/health ok at height {health.best_height}; on the {environment.network} chain"))
    return findings


async def _check_capabilities(
    config: BotConfig, definitions: dict[str, Definition], seconds: float, report: Report,
    wrong_chain: set[str],
) -> None:
    """The capability table, and a FAIL for each gate whose evidence a node cannot feed. A node
    found on the wrong chain just above is not probed (the guard sends it nothing more)."""
    caps = await probe_config(config, seconds, refused=wrong_chain)
    report.table.extend(capability_table(caps))
    for problem in capability_problems(config, definitions, caps):
        report.add(Level.FAIL, problem.subject, problem.message, problem.code)


# --- Slack and Redis -------------------------------------------------------------------------


async def _check_slack(env: Mapping[str, str], seconds: float, report: Report) -> None:
    blank = [name for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")
             if name in env and not env[name].strip()]
    for name in blank:  # serve refuses these at start-up; say so before it does
        report.add(Level.FAIL, "slack", f"{name} is set but empty or only whitespace",
                   "blank_secret")
    if blank:
        return
    token = env.get("SLACK_BOT_TOKEN", "")
    if not token:
        report.add(Level.WARN, "slack", "SLACK_BOT_TOKEN is not set: Slack auth not checked",
                   "no_token")
        return
    if not token.startswith("xoxb-"):
        report.add(Level.FAIL, "slack", "SLACK_BOT_TOKEN is not a bot token (xoxb-...)",
                   "bad_token")
        return
    app_token = env.get("SLACK_APP_TOKEN", "")
    if app_token and not app_token.startswith("xapp-"):
        report.add(Level.FAIL, "slack", "SLACK_APP_TOKEN is not an app-level token (xapp-...)",
                   "bad_token")
    if not app_token and not env.get("SLACK_SIGNING_SECRET"):
        report.add(Level.FAIL, "slack",
                   "HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)",
                   "no_signing_secret")
    base = env.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
    base = base if base.endswith("/") else base + "/"
    client = AsyncWebClient(token=token, base_url=base, timeout=int(max(1, seconds)))
    ok, detail = await SlackAuthCheck(client, timeout=seconds).check()
    if ok:
        report.add(Level.OK, "slack", f"auth.test accepted the bot token ({base})")
    else:
        report.add(Level.FAIL, "slack", f"{detail} ({base})", "slack_auth")


async def _check_redis(env: Mapping[str, str], seconds: float, report: Report) -> None:
    url = env.get("REDIS_URL", "")
    if not url:
        report.add(Level.WARN, "redis", "REDIS_URL is not set: Redis not checked", "no_redis_url")
        return
    try:
        target = parse_redis_url(url)
    except RedisUrlError as exc:
        report.add(Level.FAIL, "redis", f"REDIS_URL: {exc.message}", exc.code)
        return
    client = connect(url, attempts=1)
    try:
        async with asyncio.timeout(seconds):
            await client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        report.add(Level.FAIL, "redis",
                   f"no answer from the {target.kind} at REDIS_URL ({type(exc).__name__})",
                   "redis_unreachable")
    else:
        report.add(Level.OK, "redis", f"the {target.kind} at REDIS_URL answers")
    finally:
        await client.aclose()


# --- the command -----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parthenon-bot check-config",
        description="Validate the config and every workflow definition; reach each node, "
        "Slack and Redis. Exit status 1 when anything is wrong.",
    )
    parser.add_argument("file", nargs="?", type=Path, help="the configuration file")
    parser.add_argument("--config", type=Path, help=f"the configuration file (or {CONFIG_ENV})")
    parser.add_argument("--definitions", type=Path, metavar="DIR",
                        help="a directory of your own workflow definitions, added to the shipped "
                             "ones (default: the config's definitions_dir)")
    parser.add_argument("--offline", action="store_true",
                        help="check files only: no nodes, no Slack, no Redis")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds per node, Slack or Redis check (default 5)")
    return parser


def run_check_config(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, out: TextIO | None = None
) -> int:
    """The `check-config` command: prints one line per check, returns 0, 1 (problems) or 2."""
    stream = out or sys.stdout
    args = _parser().parse_args(list(argv))
    environ = os.environ if env is None else env
    if args.file is not None and args.config is not None and args.file != args.config:
        print("check-config: give the configuration file once (FILE or --config)", file=stream)
        return 2
    path = args.config or args.file or (Path(environ[CONFIG_ENV]) if environ.get(CONFIG_ENV)
                                        else None)
    options = CheckOptions(path, args.definitions, args.offline, args.timeout)
    report = asyncio.run(check_config(options, environ))
    for finding in report.findings:
        print(finding.line(), file=stream)
    if report.table:
        print("node capabilities (getinfo once, GET /health, GET /metrics):", file=stream)
        for line in report.table:
            print(f"  {line}", file=stream)
    problems, warnings = len(report.problems), len(report.warnings)
    if problems:
        print(f"{problems} problem{'s' if problems != 1 else ''}, {warnings} warning"
              f"{'s' if warnings != 1 else ''}", file=stream)
        return 1
    print(f"all checks passed ({warnings} warning{'s' if warnings != 1 else ''})", file=stream)
    return 0
