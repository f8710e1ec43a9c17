"""The config's `environments:`: each a set of nodes on one network, with one pinned genesis and
one rollout plan, and how the bot logs in to their RPC and calls their deploy webhook.

Refused here, per environment: an unknown network (the node daemon silently runs one as
mainnet), a mainnet environment pinned to another network's genesis, bad waves, a node without
credentials, a node name or an RPC URL that is not one. What needs the whole file (the same node
in two environments, groups that exist) is checked by `BotConfig` (bot/config.py).
"""

from __future__ import annotations

import itertools
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from yarl import URL

from bot.configerror import refuse
from bot.evidence import EvidenceConfig, default_evidence, environment_problems
from bot.nodes.network import GENESIS_HASHES, Network, network_of_genesis
from bot.secrets import resolve_secret
from workflows.policy import EnvironmentPolicy

__all__ = [
    "EnvironmentConfig",
    "NodeConfig",
    "NodeRole",
    "RpcCredentials",
    "WebhookConfig",
    "parse_http_url",
]

_NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


# --------------------------------------------------------------------------- credentials


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
        return resolve_secret(data, info, target="password", what="RPC password")

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        if ":" in value:
            raise refuse("invalid", "an RPC user name cannot contain ':' (HTTP Basic auth)")
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
        return resolve_secret(data, info, target="secret", what="webhook secret")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        url = parse_http_url(value)
        return str(url)


def parse_http_url(value: str) -> URL:
    """An http:// or https:// URL with a host and no credentials in it, or a `bad_url` refusal."""
    try:
        url = URL(value)
    except (TypeError, ValueError):
        raise refuse("bad_url", "not a URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise refuse("bad_url", "must be an http:// or https:// URL with a host")
    if url.user is not None or url.password is not None:
        raise refuse("bad_url", "credentials may not be written into a URL")
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
            raise refuse(
                "invalid", f"unknown role {value!r}: use miner, validator or rpc-edge"
            ) from None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NODE_NAME.match(value):
            raise refuse("bad_name", "a node name is 1-63 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("rpc_url")
    @classmethod
    def _rpc_url(cls, value: str) -> str:
        url = parse_http_url(value)
        if url.path not in ("", "/") or url.query_string or url.fragment:
            raise refuse(
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
                    raise refuse(
                        "missing_credentials",
                        "the node has no credentials and the environment has no rpc_credentials",
                        node=node.get("name"),
                    )
                node = {**node, "credentials": default}
            elif isinstance(node, NodeConfig) and node.credentials is None:
                if not isinstance(default, RpcCredentials):
                    raise refuse(
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
            raise refuse(
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
            raise refuse("bad_genesis", "a genesis hash is 64 hexadecimal characters")
        return value

    @field_validator("waves")
    @classmethod
    def _waves(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise refuse("bad_waves", "waves must list at least one percentage (ending at 100)")
        if any(not 1 <= pct <= 100 for pct in value):
            raise refuse("bad_waves", "each wave is a percentage between 1 and 100")
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise refuse("bad_waves", f"waves must increase strictly: {list(value)}")
        if value[-1] != 100:
            raise refuse("bad_waves", f"the last wave must be 100 (all nodes): {list(value)}")
        return value

    @model_validator(mode="after")
    def _evidence_sources(self) -> EnvironmentConfig:
        problems = environment_problems(
            self.evidence, has_deploy_webhook=self.deploy_webhook is not None
        )
        if problems:
            raise refuse("bad_evidence", problems[0], field=f"environments.{self.name}.evidence")
        return self

    @model_validator(mode="after")
    def _pinned_genesis(self) -> EnvironmentConfig:
        if self.genesis_hash is None:
            return self
        known = network_of_genesis(self.genesis_hash)
        if known is not None and known != self.network:
            raise refuse(
                "genesis_mismatch",
                f"genesis_hash is the {known} genesis but the environment's network is "
                f"{self.network}",
            )
        if self.network is Network.MAINNET and known is None:
            raise refuse(
                "genesis_mismatch",
                "a mainnet environment must pin the mainnet genesis "
                f"({GENESIS_HASHES[Network.MAINNET]}) or leave genesis_hash out",
            )
        return self

    @property
    def expected_genesis(self) -> str:
        """The genesis hash every node of this environment must report at height 1."""
        return self.genesis_hash or GENESIS_HASHES[self.network]
