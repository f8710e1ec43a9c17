"""`parthenon-bot workflows [--config FILE] [NAME]`: the loaded definitions and their steps.

Without NAME, one block per workflow: its usage and its steps (kind, effect, runbook section).
With NAME, also each step's description (what the bot does and what people do). With a config,
it also says what the definitions need from it that it lacks: approver and responder groups
nobody is in, environments a step targets by name, and the waves each environment would get.
The config's secrets (RPC passwords, webhook keys) are not read: each must be named, none needs
to be set.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import BotConfig, load_config
from bot.configerror import ConfigError
from bot.inventory import ConfigInventory
from bot.runtime import DEFINITIONS_DIR
from workflows.definition import Definition, load_definitions
from workflows.errors import DefinitionError
from workflows.planner import usage
from workflows.step_models import GroupDef, StepDef

__all__ = ["build_parser", "config_findings", "describe", "run_workflows"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parthenon-bot workflows",
        description="List the loaded workflow definitions with their steps.",
    )
    parser.add_argument("name", nargs="?", help="show one workflow in detail")
    parser.add_argument(
        "--config",
        default=os.environ.get("PARTHENON_BOT_CONFIG"),
        help="check the definitions against this bot config, without reading its secrets "
             "(default: $PARTHENON_BOT_CONFIG)",
    )
    parser.add_argument(
        "--definitions", type=Path, default=DEFINITIONS_DIR, help=argparse.SUPPRESS
    )
    return parser


def _step_line(number: str, step: StepDef, detail: bool, indent: str) -> list[str]:
    effect = "write" if step.effect.value == "write" else "read"
    where = ""
    if step.targets is not None:
        env = f"{step.targets.environment}:" if step.targets.environment else ""
        nodes = step.targets.nodes
        where = f" -> {env}{','.join(nodes) if nodes is not None else step.targets.select}"
    only = f" [only {', '.join(step.environments)}]" if step.environments else ""
    head = f"{indent}{number:>3}. {step.id:<24} {step.kind.value:<8} {effect:<5}"
    lines = [f"{head} {step.title}{where}{only}"]
    if step.runbook:
        lines.append(f"{indent}       runbook: {step.runbook}")
    if detail and step.description:
        lines.append(f"{indent}       {step.description}")
    return lines


def describe(defn: Definition, *, detail: bool = False) -> list[str]:
    """Text lines for one definition."""
    lines = [f"{defn.name}: {defn.title} [{defn.category}]"]
    if defn.runbook:
        lines.append(f"  runbook: {defn.runbook}")
    lines.append(f"  usage:   {usage(defn)}")
    if detail:
        if defn.description:
            lines.append(f"  {defn.description}")
        for spec in defn.parameters:
            default = f" (default {spec.default!r})" if spec.default is not None else ""
            lines.append(f"    {spec.name}: {spec.help or ''}{default}")
    number = 0
    for item in defn.steps:
        if isinstance(item, GroupDef):
            lines.append(f"       {item.group}: repeated for each wave ({item.title})")
            for index, step in enumerate(item.steps, start=1):
                lines += _step_line(f"{number + 1}.{index}", step, detail, "    ")
            number += 1
        else:
            number += 1
            lines += _step_line(str(number), item, detail, "")
    return lines


def config_findings(definitions: dict[str, Definition], config: BotConfig) -> list[str]:
    """What the definitions expect of the config that it does not provide."""
    findings: list[str] = []
    for defn in definitions.values():
        for _, step in defn.flat_steps():
            groups = set(step.responders or [])
            if step.approval is not None:
                groups |= set(step.approval.groups)
            if step.skip.approval is not None:
                groups |= set(step.skip.approval.groups)
            for group in sorted(groups):
                if not config.groups.get(group):
                    findings.append(
                        f"{defn.name}.{step.id}: group {group} is not in the config or has "
                        "nobody in it: nobody can approve or confirm this step"
                    )
            env = step.targets.environment if step.targets else None
            if env is not None and env not in config.environments:
                findings.append(
                    f"{defn.name}.{step.id}: targets environment {env}, which the config lacks; "
                    f"{defn.name} cannot be planned"
                )
    return findings


def _waves(config: BotConfig) -> list[str]:
    inventory = ConfigInventory(config)
    lines = ["waves per environment:"]
    for name in config.environments:
        parts = [f"{pct}%: {', '.join(nodes)}" for pct, nodes in inventory.waves(name)]
        lines.append(f"  {name}: " + " | ".join(parts))
    return lines


def run_workflows(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        definitions = load_definitions(args.definitions)
    except DefinitionError as exc:
        print(f"parthenon-bot workflows: {exc}", file=sys.stderr)
        return 1
    if args.name is not None and args.name not in definitions:
        known = ", ".join(sorted(definitions))
        print(f"parthenon-bot workflows: no workflow {args.name!r} (known: {known})",
              file=sys.stderr)
        return 2
    chosen = [definitions[args.name]] if args.name else list(definitions.values())
    blocks = ["\n".join(describe(defn, detail=args.name is not None)) for defn in chosen]
    print("\n\n".join(blocks))
    if args.config:
        try:
            config = load_config(args.config, secrets=False)  # never needs them
        except ConfigError as exc:
            print(f"parthenon-bot workflows: {exc}", file=sys.stderr)
            return 1
        findings = config_findings(definitions, config)
        print()
        print("\n".join(_waves(config)))
        if findings:
            print("\nthe config lacks what these steps need:")
            print("\n".join(f"  - {line}" for line in findings))
            return 1
        print(f"\nall {len(definitions)} definitions fit {args.config}")
    return 0
