"""The bot's configuration: one YAML file, validated into frozen pydantic models at load.

Everything that can be wrong with the file is refused at load, with a specific `ConfigError`
(code, file, field, node), so that nothing later acts on a half-valid inventory: the same node in
two environments, an unknown network, a mainnet environment pinned to another network's genesis,
a display name where a Slack id belongs, a dangling group, bad waves, or a missing secret.
Secrets are resolved at load (from an environment variable or a file) into `SecretStr` and never
appear in an error. Every field is documented in docs/configuration.md.

Here: the whole file (`BotConfig`: groups, permissions, Slack, the checks across environments,
the look-ups) and how it is loaded (`load_config`, `parse_config`). Its parts: the environments
and their nodes (bot/environments.py), secret references (bot/secrets.py), `ConfigError` and its
stable codes (bot/configerror.py), reading the YAML and naming the place of a problem
(bot/configload.py), and the blocks with modules of their own (bot/evidence.py,
bot/incidentsconfig.py, bot/pagingconfig.py, bot/apiconfig.py, bot/retention.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.apiconfig import ApiConfig
from bot.configerror import ConfigError, refuse
from bot.configload import config_error, read_mapping
from bot.environments import EnvironmentConfig, NodeConfig, NodeRole, parse_http_url
from bot.evidence import config_problems
from bot.incidentsconfig import IncidentsConfig
from bot.pagingconfig import PagingConfig
from bot.retention import RetentionConfig
from workflows.userid import USER_ID_PATTERN

__all__ = [
    "BotConfig",
    "DrillsConfig",
    "SlackConfig",
    "WorkflowPermission",
    "load_config",
    "parse_config",
]

DEFAULT_PERMISSION_GROUPS: tuple[str, ...] = ("operators",)
"""Who may start and operate a workflow when `permissions` says nothing about it."""

_GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_WORKFLOW_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_SLACK_USER = re.compile(USER_ID_PATTERN)
_SLACK_USERGROUP = re.compile(r"^S[A-Z0-9]{2,30}$")
_SLACK_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,}$")


# --------------------------------------------------------------------------- people


class WorkflowPermission(BaseModel):
    """Which groups may start a workflow, and which may operate a run of it (buttons)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: tuple[str, ...] | None = None
    operate: tuple[str, ...] | None = None


class SlackConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ops_channel: str | None = None
    incident_responders: tuple[str, ...] = ()

    @field_validator("ops_channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not _SLACK_CHANNEL.match(value):
            raise refuse(
                "not_a_slack_id",
                f"{value!r} is not a Slack channel id (C... or G...), channel names change",
            )
        return value


class DrillsConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    restore_drill_slo_days: int = Field(default=90, ge=1, le=3660)


class BotConfig(BaseModel):
    """The whole configuration; look-ups raise `ConfigError` for names that do not exist."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environments: dict[str, EnvironmentConfig] = Field(min_length=1)
    groups: dict[str, frozenset[str]] = Field(default_factory=dict)
    # group -> the Slack user group it follows; its members in ``groups`` are kept up to date by
    # bot.usergroups (the one place that changes ``groups`` after load)
    slack_usergroups: dict[str, str] = Field(default_factory=dict)
    permissions: dict[str, WorkflowPermission] = Field(default_factory=dict)
    slack: SlackConfig = SlackConfig()
    drills: DrillsConfig = DrillsConfig()
    retention: RetentionConfig = RetentionConfig()
    incidents: IncidentsConfig = IncidentsConfig()  # private channels, severity (its module)
    prometheus_url: str | None = None
    definitions_dir: Path | None = None  # a team's own workflows (workflows.catalog)
    api: ApiConfig = ApiConfig()  # the run API's bearer tokens (bot.apiconfig)
    paging: PagingConfig | None = None  # where incidents page the on-call (bot.pager)

    @model_validator(mode="before")
    @classmethod
    def _usergroups(cls, data: Any) -> Any:
        """A group written as ``{slack_usergroup: S...}`` follows that Slack user group: it starts
        empty (nobody can act for it until its members are read) and bot.usergroups fills it."""
        if not isinstance(data, dict) or not isinstance(data.get("groups"), dict):
            return data
        groups: dict[str, Any] = {}
        followed: dict[str, str] = {}
        for name, members in data["groups"].items():
            if isinstance(members, dict):
                ref = members.get("slack_usergroup")
                if set(members) != {"slack_usergroup"} or not isinstance(ref, str) \
                        or not _SLACK_USERGROUP.match(ref):
                    raise refuse("invalid", f"group {name} must be a list of Slack user ids or "
                                  "{slack_usergroup: S...} (a Slack user group's id)",
                                  field=f"groups.{name}")
                followed[str(name)] = ref
                members = []
            groups[name] = members
        return {**data, "groups": groups, "slack_usergroups": followed}

    @model_validator(mode="before")
    @classmethod
    def _names(cls, data: Any) -> Any:
        """Each environment knows its own name (the key it is written under)."""
        if not isinstance(data, dict) or not isinstance(data.get("environments"), dict):
            return data
        envs = {}
        for key, env in data["environments"].items():
            if isinstance(env, dict) and "name" not in env:
                env = {**env, "name": key}
            envs[key] = env
        return {**data, "environments": envs}

    @field_validator("groups", mode="before")
    @classmethod
    def _groups(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        for group, members in value.items():
            if not isinstance(group, str) or not _GROUP_NAME.match(group):
                raise refuse(
                    "bad_name",
                    f"group name {group!r}: lower-case letters, digits, '-' or '_'",
                    field=f"groups.{group}",
                )
            if not isinstance(members, list | tuple | set | frozenset):
                raise refuse(
                    "invalid",
                    f"group {group} must be a list of Slack user ids",
                    field=f"groups.{group}",
                )
            for member in members:
                if not isinstance(member, str) or not _SLACK_USER.match(member):
                    raise refuse(
                        "not_a_slack_id",
                        f"{member!r} in group {group} is not a Slack user id (U... or W...); "
                        "display names change and can be reused, ids cannot",
                        field=f"groups.{group}",
                    )
        return value

    @field_validator("prometheus_url")
    @classmethod
    def _prometheus_url(cls, value: str | None) -> str | None:
        return None if value is None else str(parse_http_url(value))

    @field_validator("permissions")
    @classmethod
    def _workflow_names(cls, value: dict[str, WorkflowPermission]) -> dict[str, WorkflowPermission]:
        for workflow in value:
            if not _WORKFLOW_NAME.match(workflow):
                raise refuse(
                    "bad_name",
                    f"workflow name {workflow!r}: lower-case letters, digits, '-' or '_'",
                    field=f"permissions.{workflow}",
                )
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> BotConfig:
        names: dict[str, str] = {}
        urls: dict[str, tuple[str, str]] = {}
        for env_key, env in self.environments.items():
            if env.name != env_key:
                raise refuse(
                    "invalid",
                    f"environment {env_key} says its name is {env.name}",
                    field=f"environments.{env_key}.name",
                )
            for node in env.nodes:
                field = f"environments.{env_key}.nodes.{node.name}"
                if node.name in names:
                    where = names[node.name]
                    raise refuse(
                        "duplicate_node",
                        f"node name {node.name} is already used in environment {where}",
                        field=field,
                        node=node.name,
                    )
                names[node.name] = env_key
                if node.rpc_url in urls:
                    other_env, other = urls[node.rpc_url]
                    raise refuse(
                        "duplicate_rpc_url",
                        f"rpc_url {node.rpc_url} is already node {other} in environment "
                        f"{other_env}",
                        field=f"{field}.rpc_url",
                        node=node.name,
                    )
                urls[node.rpc_url] = (env_key, node.name)
        for workflow, permission in self.permissions.items():
            for kind in ("start", "operate"):
                for group in getattr(permission, kind) or ():
                    if group not in self.groups:
                        raise refuse(
                            "unknown_group",
                            f"group {group} is not defined under groups",
                            field=f"permissions.{workflow}.{kind}",
                        )
        for env_key, env in self.environments.items():
            for kind in ("skip_approvers", "takeover_approvers"):
                for group in getattr(env.policy, kind) or ():
                    if group not in self.groups:
                        raise refuse(
                            "unknown_group",
                            f"group {group} is not defined under groups",
                            field=f"environments.{env_key}.policy.{kind}",
                        )
        for env_key, env in self.environments.items():
            for group in env.operators or ():
                if group not in self.groups:
                    raise refuse(
                        "unknown_group",
                        f"group {group} is not defined under groups",
                        field=f"environments.{env_key}.operators",
                    )
        for group in self.slack.incident_responders:
            if group not in self.groups:
                raise refuse(
                    "unknown_group",
                    f"group {group} is not defined under groups",
                    field="slack.incident_responders",
                )
        for group in self.incidents.invite or ():
            if group not in self.groups:
                raise refuse("unknown_group", f"group {group} is not defined under groups",
                              field="incidents.invite")
        for env_key, env in self.environments.items():
            problems = config_problems(
                env.evidence, prometheus_url=self.prometheus_url, groups=set(self.groups)
            )
            if problems:
                where, message = problems[0]
                code = "unknown_group" if where.endswith("confirmers") else "bad_evidence"
                raise refuse(code, message, field=f"environments.{env_key}.evidence.{where}")
        return self

    # ----------------------------------------------------------------- look-ups

    def environment(self, name: str) -> EnvironmentConfig:
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments))
            raise ConfigError(
                "unknown_environment", f"no environment {name!r} (known: {known})"
            ) from None

    def node(self, name: str) -> NodeConfig:
        return self._node_index()[name][1]

    def environment_of(self, node_name: str) -> EnvironmentConfig:
        """The environment a node belongs to (each node is in exactly one)."""
        return self.environments[self._node_index()[node_name][0]]

    def _node_index(self) -> _NodeIndex:
        return _NodeIndex(self)

    def nodes(
        self, environment: str, *, role: NodeRole | None = None, canary: bool | None = None
    ) -> list[NodeConfig]:
        """The environment's nodes in file order, optionally only one role or (non-)canaries."""
        return [
            node
            for node in self.environment(environment).nodes
            if (role is None or node.role is role) and (canary is None or node.canary is canary)
        ]

    def waves(self, environment: str) -> list[list[NodeConfig]]:
        """The environment's nodes split into rollout waves.

        The percentages are cumulative: after wave i, ceil(pct_i * n / 100) nodes have the
        release. Each returned wave lists only the nodes new in it, canaries first, then file
        order. A percentage that adds no node (few nodes) is dropped, so no wave is empty, and
        the waves together are every node exactly once.
        """
        env = self.environment(environment)
        ordered = sorted(env.nodes, key=lambda node: not node.canary)
        total, done = len(ordered), 0
        waves: list[list[NodeConfig]] = []
        for pct in env.waves:
            upto = -(-pct * total // 100)
            if upto > done:
                waves.append(ordered[done:upto])
                done = upto
        return waves

    def members(self, group: str) -> set[str]:
        try:
            return set(self.groups[group])
        except KeyError:
            raise ConfigError("unknown_group", f"no group {group!r}") from None

    def permission(self, workflow: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(start groups, operate groups) for a workflow: its own entry, then `default`."""
        own = self.permissions.get(workflow, WorkflowPermission())
        default = self.permissions.get("default", WorkflowPermission())
        start = own.start if own.start is not None else default.start
        operate = own.operate if own.operate is not None else default.operate
        return (
            start if start is not None else DEFAULT_PERMISSION_GROUPS,
            operate if operate is not None else DEFAULT_PERMISSION_GROUPS,
        )

    def may_start(self, user: str, workflow: str) -> bool:
        return self._in_any(user, self.permission(workflow)[0])

    def may_operate(self, user: str, workflow: str) -> bool:
        return self._in_any(user, self.permission(workflow)[1])

    def _in_any(self, user: str, groups: tuple[str, ...]) -> bool:
        # A built-in default may name a group the file does not define: nobody is in it.
        return any(user in self.groups.get(group, frozenset()) for group in groups)


class _NodeIndex:
    """node name -> (environment name, node); rebuilt on demand, configs are small."""

    def __init__(self, config: BotConfig) -> None:
        self._by_name = {
            node.name: (env_name, node)
            for env_name, env in config.environments.items()
            for node in env.nodes
        }

    def __getitem__(self, name: str) -> tuple[str, NodeConfig]:
        try:
            return self._by_name[name]
        except KeyError:
            raise ConfigError("unknown_node", f"no node {name!r} in any environment") from None


# --------------------------------------------------------------------------- loading


def parse_config(
    text: str, *, source: str = "<config>", env: Mapping[str, str] | None = None,
    secrets: bool = True,
) -> BotConfig:
    """Validate YAML text into a `BotConfig`; `env` stands in for os.environ (tests).
    ``secrets=False`` checks the structure only: every secret must be named (an env var or a
    file) but none is read, for commands that never use them (`parthenon-bot workflows`)."""
    data = read_mapping(text, source)
    context = {"env": env if env is not None else os.environ, "from_file": True,
               "secrets": secrets}
    try:
        return BotConfig.model_validate(data, context=context)
    except ValidationError as exc:
        raise config_error(exc, data, source) from None


def load_config(
    path: str | Path, *, env: Mapping[str, str] | None = None, secrets: bool = True
) -> BotConfig:
    """Read and validate the configuration file at `path`."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError("unreadable", f"cannot read the file ({reason})", file=source) from None
    config = parse_config(text, source=source, env=env, secrets=secrets)
    extra = config.definitions_dir
    if extra is not None and not extra.is_absolute():  # relative to the config file, not the cwd
        config = config.model_copy(update={"definitions_dir": Path(path).parent / extra})
    return config
