"""Typed shapes of what nodes answer, as the bot's node client hands them to the steps."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from workflows.nodeerrors import NodeError

__all__ = ["NodeHealth", "NodeResult", "StopOutcome", "StopResult", "Tip"]

_T = TypeVar("_T")


class NodeHealth(BaseModel):
    """`GET /health`. `syncing` stays true while the node has no peers; `peer_count` counts
    every inbound connection ever accepted, so it only says the node was reachable by peers."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    status: str
    best_height: int = Field(ge=0)
    peer_count: int = Field(ge=0)
    syncing: bool
    sync_progress: float | None = None
    rpc_port: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Tip(NamedTuple):
    height: int
    hash: str


class StopOutcome(StrEnum):
    """What verification found after a `stop`, never what the `stop` call alone suggested."""

    STOPPED = "stopped"  # the RPC server is gone (refused) or /health says "stopped"
    STILL_RUNNING = "still_running"  # /health still said "ok" when verification gave up
    UNKNOWN = "unknown"  # the node answered nothing we could read (timeouts, 5xx, garbage)


class StopResult(BaseModel):
    """The outcome of `NodeClient.stop`, with the evidence a human needs to judge it."""

    model_config = ConfigDict(frozen=True)

    node: str
    outcome: StopOutcome
    sent: bool  # False only when we know the stop request never reached the node
    reply: str | None = None  # the node's answer to `stop`, if it answered
    stop_error: str | None = None  # the error code of the `stop` call, if it failed
    evidence: str  # what the last verification probe saw, in words


@dataclass(frozen=True)
class NodeResult(Generic[_T]):
    """One node's share of a fan-out: a value, or the NodeError it failed with."""

    node: str
    value: _T | None = None
    error: NodeError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None
