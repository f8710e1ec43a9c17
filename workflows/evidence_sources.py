"""Where a gate's node facts come from: the sources an environment's `evidence` section names.

The node daemon cannot tell everything a gate needs (its `getinfo.version` is the constant 100,
it exports no validation-error metric), so each fact has a source: `ReleaseEvidence` for "the
node runs release X" (rpc | deploy | person) and `ValidationErrorsEvidence` for "no rise in
validation errors" (metric | prometheus | deploy | person | none). The planner fixes the source in
the plan (workflows/release_gate.py, workflows/evidence_plan.py); the config section that holds
them and its whole-file checks are bot/evidence.py. Pure: no I/O here.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "DEFAULT_CONFIRMERS",
    "ReleaseEvidence",
    "ReleaseSource",
    "ValidationErrorsEvidence",
    "ValidationErrorsSource",
]

DEFAULT_CONFIRMERS: tuple[str, ...] = ("operators",)
"""Who confirms a `person` source when the file names nobody."""

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError("bad_evidence", message)


class ReleaseSource(StrEnum):
    """Where "the node runs release X" comes from."""

    RPC = "rpc"
    """The node's `getinfo.version`: only for daemons that report release strings there."""
    DEPLOY = "deploy"
    """The deploy system: what its webhook reported installing, else a `verify-version` call."""
    PERSON = "person"
    """A member of `confirmers` confirms, typing the version they saw."""


class ValidationErrorsSource(StrEnum):
    """Where "no rise in validation errors over the window" comes from."""

    METRIC = "metric"
    """A counter on the node's own /metrics, named by `metric`."""
    PROMETHEUS = "prometheus"
    """An instant PromQL `query` against the top-level `prometheus_url`."""
    DEPLOY = "deploy"
    """The deploy system's log check (a `check-logs` call to the deploy webhook)."""
    PERSON = "person"
    """A member of `confirmers` confirms they read the node logs, saying what they saw."""
    NONE = "none"
    """Explicitly not checked; the card says so."""


def _source(value: Any, allowed: type[StrEnum], fact: str) -> Any:
    if isinstance(value, allowed):
        return value
    known = {member.value for member in allowed}
    if not isinstance(value, str) or value not in known:
        names = ", ".join(member.value for member in allowed)
        raise _refuse(f"unknown {fact} evidence source {value!r}: use one of {names}")
    return value


def _confirmers(value: Any) -> Any:
    if isinstance(value, str):
        raise _refuse("confirmers is a list of group names, e.g. [operators]")
    if isinstance(value, list | tuple):
        if not value:
            raise _refuse("confirmers names at least one group")
        for group in value:
            if not isinstance(group, str) or not _GROUP_NAME.match(group):
                raise _refuse(f"confirmers: {group!r} is not a group name")
    return value


class ReleaseEvidence(BaseModel):
    """`evidence.release`: where the installed release of a node comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: ReleaseSource
    confirmers: tuple[str, ...] = DEFAULT_CONFIRMERS

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        return _source(value, ReleaseSource, "release")

    @field_validator("confirmers", mode="before")
    @classmethod
    def _confirmers(cls, value: Any) -> Any:
        return _confirmers(value)

    @property
    def label(self) -> str:
        """How a card names this source: `evidence: deploy system`."""
        return _RELEASE_LABELS[self.source]


_RELEASE_LABELS = {
    ReleaseSource.RPC: "node RPC (getinfo.version)",
    ReleaseSource.DEPLOY: "deploy system",
    ReleaseSource.PERSON: "a person's confirmation",
}


class ValidationErrorsEvidence(BaseModel):
    """`evidence.validation_errors`: where the validation-error count of a node comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: ValidationErrorsSource = ValidationErrorsSource.PERSON
    metric: str | None = None
    query: str | None = Field(default=None, min_length=1, max_length=4000)
    confirmers: tuple[str, ...] = DEFAULT_CONFIRMERS

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        return _source(value, ValidationErrorsSource, "validation_errors")

    @field_validator("confirmers", mode="before")
    @classmethod
    def _confirmers(cls, value: Any) -> Any:
        return _confirmers(value)

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str | None) -> str | None:
        if value is not None and not _METRIC_NAME.match(value):
            raise _refuse(f"metric {value!r} is not a Prometheus metric name")
        return value

    @model_validator(mode="after")
    def _fields_fit_source(self) -> ValidationErrorsEvidence:
        source = self.source
        if source is ValidationErrorsSource.METRIC and self.metric is None:
            raise _refuse(
                "source metric needs metric: the name of the counter on the node's /metrics "
                "(the node daemon itself exports none: see docs/node-dialect.md)"
            )
        if source is ValidationErrorsSource.PROMETHEUS and self.query is None:
            raise _refuse("source prometheus needs query: a PromQL expression")
        if self.metric is not None and source is not ValidationErrorsSource.METRIC:
            raise _refuse(f"metric only applies to source metric (this source is {source})")
        if self.query is not None and source is not ValidationErrorsSource.PROMETHEUS:
            raise _refuse(f"query only applies to source prometheus (this source is {source})")
        return self

    @property
    def label(self) -> str:
        """How a card names this source."""
        match self.source:
            case ValidationErrorsSource.METRIC:
                return f"node /metrics ({self.metric})"
            case ValidationErrorsSource.PROMETHEUS:
                return "Prometheus query"
            case ValidationErrorsSource.DEPLOY:
                return "deploy system log check"
            case ValidationErrorsSource.PERSON:
                return "a person's confirmation"
            case _:
                return "none (not checked)"
