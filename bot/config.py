"""The bot's configuration: one YAML file, validated into frozen pydantic models at load.

Everything that can be wrong with the file is refused here, with a specific `ConfigError`
(code, file, field, node), so that nothing later acts on a half-valid inventory: the same node in
two environments, an unknown network, a mainnet environment pinned to another network's genesis,
a display name where a Slack id belongs, a dangling group, bad waves, or a missing secret.
Secrets are resolved at load (from an environment variable or a file) into `SecretStr` and never
appear in an error. Every field is documented in docs/configuration.md.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from yarl import URL

from bot.apiconfig import ApiConfig
from bot.evidence import (
    EvidenceConfig,
    config_problems,
    default_evidence,
    environment_problems,
)
from bot.incidentsconfig import IncidentsConfig
from bot.nodes.network import GENESIS_HASHES, Network, network_of_genesis
from bot.pagingconfig import PagingConfig
from bot.retention import RetentionConfig
from workflows.policy import EnvironmentPolicy
from workflows.ports import ConfigProblem
from workflows.userid import USER_ID_PATTERN

__all__ = [
    "BotConfig",
    "ConfigError",
    "DrillsConfig",
    "EnvironmentConfig",
    "Network",
    "NodeConfig",
    "NodeRole",
    "RpcCredentials",
    "SlackConfig",
    "WebhookConfig",
    "WorkflowPermission",
    "load_config",
    "parse_config",
]

DEFAULT_PERMISSION_GROUPS: tuple[str, ...] = ("operators",)
"""Who may start and operate a workflow when `permissions` says nothing about it."""

_NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_WORKFLOW_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_SLACK_USER = re.compile(USER_ID_PATTERN)
_SLACK_USERGROUP = re.compile(r"^S[A-Z0-9]{2,30}$")
_SLACK_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


class ConfigError(ConfigProblem):
    """The configuration was refused; `code` is stable, the text never contains a secret."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        node: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.file = file
        self.field = field
        self.node = node
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.field) if p]
        if self.node and self.node not in (self.field or ""):
            parts.append(f"node {self.node}")
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


def _refuse(code: str, message: str, **ctx: Any) -> PydanticCustomError:
    """A validation error with our own stable code; `ctx` may carry field/node for the report."""
    return PydanticCustomError(code, message, ctx or None)


# --------------------------------------------------------------------------- secrets


def _env_of(info: ValidationInfo) -> Mapping[str, str]:
    context = info.context if isinstance(info.context, dict) else {}
    env = context.get("env")
    return env if isinstance(env, Mapping) else os.environ


def _from_file(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("from_file"))


def _resolve_secret(
    data: Any, info: ValidationInfo, *, target: str, env_key: str, file_key: str, what: str
) -> Any:
    """Fill `target` from the env var or file the data names; refuse inline secrets in files."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    env_name, file_name = data.get(env_key), data.get(file_key)
    if target in data:
        if _from_file(info) or env_name or file_name:
            raise _refuse(
                "inline_secret",
                f"the {what} may not be written in the config file: use {env_key} or {file_key}",
            )
        return data
    if bool(env_name) == bool(file_name):
        raise _refuse("missing_secret", f"the {what} needs exactly one of {env_key} or {file_key}")
    if isinstance(info.context, dict) and info.context.get("secrets") is False:
        data[target] = "(not read)"  # structure only: the secret is named, never read
        return data
    if env_name:
        value = _env_of(info).get(str(env_name))
        if value is None:
            raise _refuse(
                "missing_secret", f"{env_key}: environment variable {env_name} is not set"
            )
    else:
        try:
            value = Path(str(file_name)).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise _refuse(
                "missing_secret", f"{file_key}: cannot read {file_name} ({reason})"
            ) from None
    if not value.strip():
        source = f"environment variable {env_name}" if env_name else f"file {file_name}"
        raise _refuse("missing_secret", f"the {what} from {source} is empty or only whitespace")
    data[target] = value
    return data


class RpcCredentials(BaseModel):
    """HTTP Basic credentials for a node's JSON-RPC; the password comes from an env var or file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str = Field(min_length=1)
    password_env: str | None = None
    password_file: Path | None = None
    password: SecretStr

    @model_validator(mode="before")
    @classmethod
    def _resolve(cls, data: Any, info: ValidationInfo) -> Any:
        return _resolve_secret(
            data,
            info,
            target="password",
            env_key="password_env",
            file_key="password_file",
            what="RPC password",
        )

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        if ":" in value:
            raise _refuse("invalid", "an RPC user name cannot contain ':' (HTTP Basic auth)")
        return value


class WebhookConfig(BaseModel):
    """A deploy system's endpoint; its HMAC secret comes from an env var or a file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    secret_env: str | None = None
    secret_file: Path | None = None
    secret: SecretStr
    timeout: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="before")
    @classmethod
    def _resolve(cls, data: Any, info: ValidationInfo) -> Any:
        return _resolve_secret(
            data,
            info,
            target="secret",
            env_key="secret_env",
            file_key="secret_file",
            what="webhook secret",
        )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        url = _parse_http_url(value)
        return str(url)


def _parse_http_url(value: str) -> URL:
    try:
        url = URL(value)
    except (TypeError, ValueError):
        raise _refuse("bad_url", "not a URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise _refuse("bad_url", "must be an http:// or https:// URL with a host")
    if url.user is not None or url.password is not None:
        raise _refuse("bad_url", "credentials may not be written into a URL")
    return url


# --------------------------------------------------------------------------- nodes


class NodeRole(StrEnum):
    """What a node does; maintenance stops miners first, then validators, then RPC edges."""

    MINER = "miner"
    VALIDATOR = "validator"
    RPC_EDGE = "rpc-edge"
    RPC = "rpc-edge"  # an alias: `NodeRole.RPC is NodeRole.RPC_EDGE`

    @classmethod
    def _missing_(cls, value: object) -> NodeRole | None:
        """Accept `rpc` and `edge` for the RPC edge role, and any letter case."""
        if isinstance(value, str):
            text = value.strip().lower()
            if text in ("rpc", "edge", "rpc_edge"):
                return cls.RPC_EDGE
            for member in cls:
                if member.value == text:
                    return member
        return None


class NodeConfig(BaseModel):
    """One node of an environment: where its RPC is and how to log in to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    rpc_url: str
    role: NodeRole = NodeRole.VALIDATOR
    canary: bool = False
    credentials: RpcCredentials | None = None

    @field_validator("role", mode="before")
    @classmethod
    def _role(cls, value: Any) -> Any:
        try:
            return NodeRole(value)
        except ValueError:
            raise _refuse(
                "invalid", f"unknown role {value!r}: use miner, validator or rpc-edge"
            ) from None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NODE_NAME.match(value):
            raise _refuse("bad_name", "a node name is 1-63 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("rpc_url")
    @classmethod
    def _rpc_url(cls, value: str) -> str:
        url = _parse_http_url(value)
        if url.path not in ("", "/") or url.query_string or url.fragment:
            raise _refuse(
                "bad_url",
                "an RPC URL is scheme://host:port only (JSON-RPC is POST /; "
                "/health and /metrics are found from it)",
            )
        return str(URL.build(scheme=url.scheme, host=url.host or "", port=url.port))


class EnvironmentConfig(BaseModel):
    """A set of nodes that share one network, one pinned genesis and one rollout plan."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    network: Network
    genesis_hash: str | None = None
    min_peers: int = Field(default=1, ge=0)
    waves: tuple[int, ...] = (10, 50, 100)
    max_tip_lag: int = Field(default=2, ge=0)
    deploy_webhook: WebhookConfig | None = None
    rpc_credentials: RpcCredentials | None = None
    nodes: tuple[NodeConfig, ...] = Field(min_length=1)
    evidence: EvidenceConfig = EvidenceConfig()
    operators: tuple[str, ...] | None = None  # may release a refused node: bot/noderelease.py
    policy: EnvironmentPolicy = EnvironmentPolicy()  # skip, take-over, windows: workflows/policy.py

    @model_validator(mode="before")
    @classmethod
    def _default_evidence(cls, data: Any) -> Any:
        """`evidence.release` defaults to deploy with a deploy webhook, else person."""
        if not isinstance(data, dict):
            return data
        has_webhook = data.get("deploy_webhook") is not None
        return {
            **data,
            "evidence": default_evidence(data.get("evidence"), has_deploy_webhook=has_webhook),
        }

    @model_validator(mode="before")
    @classmethod
    def _default_credentials(cls, data: Any) -> Any:
        """Nodes without their own credentials use the environment's."""
        if not isinstance(data, dict) or not isinstance(data.get("nodes"), list | tuple):
            return data
        default = data.get("rpc_credentials")
        nodes: list[Any] = []
        for node in data["nodes"]:
            if isinstance(node, dict) and node.get("credentials") is None:
                if default is None:
                    raise _refuse(
                        "missing_credentials",
                        "the node has no credentials and the environment has no rpc_credentials",
                        node=node.get("name"),
                    )
                node = {**node, "credentials": default}
            elif isinstance(node, NodeConfig) and node.credentials is None:
                if not isinstance(default, RpcCredentials):
                    raise _refuse(
                        "missing_credentials",
                        "the node has no credentials and the environment has no rpc_credentials",
                        node=node.name,
                    )
                node = node.model_copy(update={"credentials": default})
            nodes.append(node)
        return {**data, "nodes": nodes}

    @field_validator("network", mode="before")
    @classmethod
    def _network(cls, value: Any) -> Any:
        if value not in {n.value for n in Network}:
            raise _refuse(
                "unknown_network",
                f"unknown network {value!r}: use mainnet, testnet or regtest (the node daemon "
                "silently runs an unknown network as mainnet)",
            )
        return value

    @field_validator("genesis_hash")
    @classmethod
    def _genesis(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.lower()
        if not _HASH.match(value):
            raise _refuse("bad_genesis", "a genesis hash is 64 hexadecimal characters")
        return value

    @field_validator("waves")
    @classmethod
    def _waves(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise _refuse("bad_waves", "waves must list at least one percentage (ending at 100)")
        if any(not 1 <= pct <= 100 for pct in value):
            raise _refuse("bad_waves", "each wave is a percentage between 1 and 100")
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise _refuse("bad_waves", f"waves must increase strictly: {list(value)}")
        if value[-1] != 100:
            raise _refuse("bad_waves", f"the last wave must be 100 (all nodes): {list(value)}")
        return value

    @model_validator(mode="after")
    def _evidence_sources(self) -> EnvironmentConfig:
        problems = environment_problems(
            self.evidence, has_deploy_webhook=self.deploy_webhook is not None
        )
        if problems:
            raise _refuse("bad_evidence", problems[0], field=f"environments.{self.name}.evidence")
        return self

    @model_validator(mode="after")
    def _pinned_genesis(self) -> EnvironmentConfig:
        if self.genesis_hash is None:
            return self
        known = network_of_genesis(self.genesis_hash)
        if known is not None and known != self.network:
            raise _refuse(
                "genesis_mismatch",
                f"genesis_hash is the {known} genesis but the environment's network is "
                f"{self.network}",
            )
        if self.network is Network.MAINNET and known is None:
            raise _refuse(
                "genesis_mismatch",
                "a mainnet environment must pin the mainnet genesis "
                f"({GENESIS_HASHES[Network.MAINNET]}) or leave genesis_hash out",
            )
        return self

    @property
    def expected_genesis(self) -> str:
        """The genesis hash every node of this environment must report at height 1."""
        return self.genesis_hash or GENESIS_HASHES[self.network]


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
            raise _refuse(
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
                    raise _refuse("invalid", f"group {name} must be a list of Slack user ids or "
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
                raise _refuse(
                    "bad_name",
                    f"group name {group!r}: lower-case letters, digits, '-' or '_'",
                    field=f"groups.{group}",
                )
            if not isinstance(members, list | tuple | set | frozenset):
                raise _refuse(
                    "invalid",
                    f"group {group} must be a list of Slack user ids",
                    field=f"groups.{group}",
                )
            for member in members:
                if not isinstance(member, str) or not _SLACK_USER.match(member):
                    raise _refuse(
                        "not_a_slack_id",
                        f"{member!r} in group {group} is not a Slack user id (U... or W...); "
                        "display names change and can be reused, ids cannot",
                        field=f"groups.{group}",
                    )
        return value

    @field_validator("prometheus_url")
    @classmethod
    def _prometheus_url(cls, value: str | None) -> str | None:
        return None if value is None else str(_parse_http_url(value))

    @field_validator("permissions")
    @classmethod
    def _workflow_names(cls, value: dict[str, WorkflowPermission]) -> dict[str, WorkflowPermission]:
        for workflow in value:
            if not _WORKFLOW_NAME.match(workflow):
                raise _refuse(
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
                raise _refuse(
                    "invalid",
                    f"environment {env_key} says its name is {env.name}",
                    field=f"environments.{env_key}.name",
                )
            for node in env.nodes:
                field = f"environments.{env_key}.nodes.{node.name}"
                if node.name in names:
                    where = names[node.name]
                    raise _refuse(
                        "duplicate_node",
                        f"node name {node.name} is already used in environment {where}",
                        field=field,
                        node=node.name,
                    )
                names[node.name] = env_key
                if node.rpc_url in urls:
                    other_env, other = urls[node.rpc_url]
                    raise _refuse(
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
                        raise _refuse(
                            "unknown_group",
                            f"group {group} is not defined under groups",
                            field=f"permissions.{workflow}.{kind}",
                        )
        for env_key, env in self.environments.items():
            for kind in ("skip_approvers", "takeover_approvers"):
                for group in getattr(env.policy, kind) or ():
                    if group not in self.groups:
                        raise _refuse(
                            "unknown_group",
                            f"group {group} is not defined under groups",
                            field=f"environments.{env_key}.policy.{kind}",
                        )
        for env_key, env in self.environments.items():
            for group in env.operators or ():
                if group not in self.groups:
                    raise _refuse(
                        "unknown_group",
                        f"group {group} is not defined under groups",
                        field=f"environments.{env_key}.operators",
                    )
        for group in self.slack.incident_responders:
            if group not in self.groups:
                raise _refuse(
                    "unknown_group",
                    f"group {group} is not defined under groups",
                    field="slack.incident_responders",
                )
        for group in self.incidents.invite or ():
            if group not in self.groups:
                raise _refuse("unknown_group", f"group {group} is not defined under groups",
                              field="incidents.invite")
        for env_key, env in self.environments.items():
            problems = config_problems(
                env.evidence, prometheus_url=self.prometheus_url, groups=set(self.groups)
            )
            if problems:
                where, message = problems[0]
                code = "unknown_group" if where.endswith("confirmers") else "bad_evidence"
                raise _refuse(code, message, field=f"environments.{env_key}.evidence.{where}")
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


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key written twice in one mapping (YAML keeps the last)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise ConfigError(
                "duplicate_key", f"key {key!r} is written twice in one mapping (line {line})"
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_config(
    text: str, *, source: str = "<config>", env: Mapping[str, str] | None = None,
    secrets: bool = True,
) -> BotConfig:
    """Validate YAML text into a `BotConfig`; `env` stands in for os.environ (tests).
    ``secrets=False`` checks the structure only: every secret must be named (an env var or a
    file) but none is read, for commands that never use them (`parthenon-bot workflows`)."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except ConfigError as exc:
        exc.file = source
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError("yaml", f"not valid YAML{where}", file=source) from None
    if not isinstance(data, dict):
        raise ConfigError("invalid", "the file must be a YAML mapping", file=source)
    context = {"env": env if env is not None else os.environ, "from_file": True,
               "secrets": secrets}
    try:
        return BotConfig.model_validate(data, context=context)
    except ValidationError as exc:
        raise _config_error(exc, data, source) from None


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


_PYDANTIC_CODES = {"extra_forbidden": "unknown_field", "missing": "missing_field"}


def error_code(kind: str) -> str:
    """The stable code of a validation error's type: ours as they are, pydantic's mapped."""
    return kind if kind in _OWN_CODES else _PYDANTIC_CODES.get(kind, "invalid")


def _config_error(exc: ValidationError, data: dict[str, Any], source: str) -> ConfigError:
    """The first problem as a ConfigError; the rest are counted (never echoes input values)."""
    errors = exc.errors(include_input=False, include_url=False)
    locs = [tuple(err["loc"]) for err in errors]
    first = errors[0]
    # Not counted: the same message again (one missing secret shared by several nodes) and
    # knock-on errors of a parent (a node refused leaves its list too short).
    others = {
        err["msg"]
        for err, loc in zip(errors, locs, strict=True)
        if err["msg"] != first["msg"]
        and not any(len(o) > len(loc) and o[: len(loc)] == loc for o in locs)
    }
    ctx = first.get("ctx") or {}
    loc = list(first["loc"])
    node = ctx.get("node") or _node_at(data, loc)
    field = ctx.get("field") or _field_path(data, loc)
    code = error_code(first["type"])
    message = first["msg"]
    if others:
        message += f" (and {len(others)} more problem{'s' if len(others) > 1 else ''})"
    return ConfigError(code, message, file=source, field=field or None, node=node)


_OWN_CODES = frozenset(
    {
        "bad_evidence",
        "bad_genesis",
        "bad_name",
        "bad_url",
        "bad_waves",
        "duplicate_node",
        "duplicate_rpc_url",
        "genesis_mismatch",
        "inline_secret",
        "invalid",
        "missing_credentials",
        "missing_secret",
        "not_a_slack_id",
        "unknown_group",
        "unknown_network",
    }
)


def _node_at(data: dict[str, Any], loc: list[Any]) -> str | None:
    """The name of the node a location points into, if it does."""
    try:
        i = loc.index("nodes")
        node = data["environments"][loc[i - 1]]["nodes"][loc[i + 1]]
    except (ValueError, IndexError, KeyError, TypeError):
        return None
    name = node.get("name") if isinstance(node, dict) else None
    return name if isinstance(name, str) else None


def _field_path(data: dict[str, Any], loc: list[Any]) -> str:
    """Dotted path with node indexes shown as node names (`nodes.test-1.rpc_url`)."""
    parts = [str(p) for p in loc]
    name = _node_at(data, loc)
    if name is not None:
        i = loc.index("nodes")
        parts[i + 1] = name
    return ".".join(parts)
