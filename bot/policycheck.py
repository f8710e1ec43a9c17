"""`check-config`'s policy checks: configurations that load but cannot work.

- every problem of a file that does not load, each with its field (none behind "and N more");
- a quorum larger than the distinct members of its groups, minus the initiator when the one who
  starts the workflow may be among them (computed from the definitions, per environment: mainnet
  waves need 2 release managers other than the initiator);
- a promotion whose target environment, or an environment its canary steps act on, has no
  canary node;
- a workflow step, a permission, a policy or the incident responders naming a group that is
  missing or has no members.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from bot.config import BotConfig
from bot.configerror import ConfigError, error_code
from bot.configload import field_path, knock_on, read_mapping
from workflows.definition import Definition
from workflows.step_models import ApprovalPolicy

__all__ = ["PolicyProblem", "all_config_problems", "policy_problems"]


@dataclass(frozen=True)
class PolicyProblem:
    subject: str  # "config", "workflow promote"
    field: str  # where to fix it: "groups.release-managers", "environments.mainnet.nodes"
    message: str
    code: str

    def text(self) -> str:
        return f"{self.field}: {self.message}"


def all_config_problems(path: Path, env: Mapping[str, str] | None = None) -> list[PolicyProblem]:
    """Every validation problem of a config file that does not load, one per field."""
    try:
        data = read_mapping(Path(path).read_text(encoding="utf-8"), str(path))
    except (OSError, ConfigError):  # not read, not YAML, a key twice, not a mapping
        return []
    context = {"env": env if env is not None else os.environ, "from_file": True}
    try:
        BotConfig.model_validate(data, context=context)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        locs = [tuple(err["loc"]) for err in errors]
        by_message: dict[str, tuple[list[str], str]] = {}
        for err, loc in zip(errors, locs, strict=True):
            if knock_on(loc, locs):
                continue
            ctx = err.get("ctx") or {}
            field = str(ctx.get("field") or field_path(data, list(err["loc"])))
            fields, _ = by_message.setdefault(str(err["msg"]), ([], error_code(err["type"])))
            if field not in fields:
                fields.append(field)
        # one line per problem; one missing secret shared by several fields is one problem
        return [PolicyProblem("config", ", ".join(fields), message, code)
                for message, (fields, code) in by_message.items()]
    return []


def _environments(defn: Definition, config: BotConfig) -> list[str]:
    """The configured environments a run of ``defn`` can be started on."""
    if defn.fixed_environment:
        return [defn.fixed_environment] if defn.fixed_environment in config.environments else []
    spec = defn.parameter(defn.environment_param or "")
    if spec is None:
        return []
    names = spec.choices if spec.choices else list(config.environments)
    return [name for name in names if name in config.environments]


def policy_problems(config: BotConfig, definitions: dict[str, Definition]) -> list[PolicyProblem]:
    found: list[PolicyProblem] = []
    found += _empty_groups(config, definitions)
    for name, defn in sorted(definitions.items()):
        found += _quorums(config, name, defn)
        if defn.category == "release":
            found += _canaries(config, name, defn)
    return found


def _empty_groups(config: BotConfig, definitions: dict[str, Definition]) -> list[PolicyProblem]:
    """Groups named somewhere that have nobody in them: nobody could act."""
    named: list[tuple[str, str, str]] = []  # (group, field, subject)
    for workflow, permission in sorted(config.permissions.items()):
        for kind in ("start", "operate"):
            for group in getattr(permission, kind) or ():
                named.append((group, f"permissions.{workflow}.{kind}", "config"))
    for env_name, env in sorted(config.environments.items()):
        for kind in ("skip_approvers", "takeover_approvers"):
            for group in getattr(env.policy, kind) or ():
                named.append((group, f"environments.{env_name}.policy.{kind}", "config"))
    for group in config.slack.incident_responders:
        named.append((group, "slack.incident_responders", "config"))
    for name, defn in sorted(definitions.items()):
        for qualified, step in defn.flat_steps():
            groups = set(step.responders or [])
            for policy in (step.approval, step.skip.approval):
                if policy is not None:
                    groups |= set(policy.groups)
            named += [(g, f"step {qualified}", f"workflow {name}") for g in sorted(groups)]
    return [
        PolicyProblem(subject, field, f"names group {group!r}, which has no members: nobody "
                      "could act", "empty_group")
        for group, field, subject in named
        if group in config.groups and not config.groups[group]
        and group not in config.slack_usergroups  # read from Slack at run time, not here
    ]


def _quorums(config: BotConfig, name: str, defn: Definition) -> list[PolicyProblem]:
    found: list[PolicyProblem] = []
    starters = {u for g in config.permission(name)[0] for u in config.groups.get(g, ())}
    for environment in _environments(defn, config):
        for qualified, step in defn.flat_steps():
            if step.environments is not None and environment not in step.environments:
                continue
            policies = (("approval", step.approval), ("skip.approval", step.skip.approval))
            for label, policy in policies:
                if policy is None:
                    continue
                problem = _quorum_problem(config, policy, starters)
                if problem:
                    field = "groups." + ",".join(policy.groups)
                    found.append(PolicyProblem(
                        f"workflow {name}", field,
                        f"step {qualified} on {environment}: {label} needs {problem}",
                        "quorum_unreachable"))
    return found


def _quorum_problem(config: BotConfig, policy: ApprovalPolicy, starters: set[str]) -> str:
    if any(g in config.slack_usergroups for g in policy.groups):
        return ""  # members of a Slack user group are known at run time, not from the file
    if any(g not in config.groups for g in policy.groups):
        return ""  # a group the config lacks is its own problem (unknown_group), said once
    members = {u for g in policy.groups for u in config.groups.get(g, ())}
    initiator_counts = not policy.allow_initiator and bool(members & starters)
    available = len(members) - (1 if initiator_counts else 0)
    if available >= policy.quorum:
        return ""
    others = " other than the initiator" if initiator_counts else ""
    count = max(available, 0)
    return (f"{policy.quorum} distinct approvers from {', '.join(policy.groups)}, which has "
            f"{count} member{'s' if count != 1 else ''}{others}")


def _canaries(config: BotConfig, name: str, defn: Definition) -> list[PolicyProblem]:
    found: list[PolicyProblem] = []
    seen: set[str] = set()
    for environment in _environments(defn, config):
        acted_on = {environment}
        for _, step in defn.flat_steps():
            if step.targets is not None and step.targets.select == "canary":
                acted_on.add(step.targets.environment or environment)
        for env in sorted(acted_on - seen):
            seen.add(env)
            if env in config.environments and not config.nodes(env, canary=True):
                why = ("a promotion's target" if env == environment
                       else f"the canary of a promotion to {environment}")
                found.append(PolicyProblem(
                    f"workflow {name}", f"environments.{env}.nodes",
                    f"{env} is {why} and has no canary node (mark one `canary: true`)",
                    "no_canary"))
    return found
