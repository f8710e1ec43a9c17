"""Where each node fact a gate needs comes from: the `evidence` section of an environment.

The node daemon cannot tell everything a gate needs (`NODE_RPC.md`, "What the node can and
cannot tell about itself"): its `getinfo.version` is the constant integer 100 whatever release
is installed, and it exports no validation-error metric. So every environment says, per fact,
which source a gate trusts:

    prometheus_url: "http://prom.internal:9090"       # top level, optional
    environments:
      testnet:
        evidence:
          release: {source: deploy}             # rpc | deploy | person
          validation_errors: {source: person, confirmers: [operators]}
                                                # metric | prometheus | deploy | person | none

Defaults: `release` is `deploy` when the environment has a `deploy_webhook`, else `person`;
`validation_errors` is `person`; `confirmers` is `[operators]`. The checks that need the rest of
the file (a `deploy` source needs the environment's `deploy_webhook`, a `prometheus` source the
top-level `prometheus_url`, `confirmers` existing groups) are `environment_problems` and
`config_problems`, which bot/config.py calls from its validators. Pure: no I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "DEFAULT_CONFIRMERS",
    "EvidenceConfig",
    "ReleaseEvidence",
    "ReleaseSource",
    "ValidationErrorsEvidence",
    "ValidationErrorsSource",
    "config_problems",
    "confirmer_problems",
    "default_evidence",
    "environment_problems",
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
                "(the node daemon itself exports none: see NODE_RPC.md)"
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


class EvidenceConfig(BaseModel):
    """An environment's `evidence` section; see the module docstring for the defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    release: ReleaseEvidence = ReleaseEvidence(source=ReleaseSource.PERSON)
    validation_errors: ValidationErrorsEvidence = ValidationErrorsEvidence()


def default_evidence(data: Any, *, has_deploy_webhook: bool) -> Any:
    """The raw `evidence` value with `release` defaulted from whether a deploy webhook exists.

    Called by the environment's before-validator on the raw data; a model instance passes as is.
    """
    if isinstance(data, EvidenceConfig):
        return data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return data  # pydantic refuses it with its own message
    if data.get("release") is None:
        source = ReleaseSource.DEPLOY if has_deploy_webhook else ReleaseSource.PERSON
        data = {**data, "release": {"source": source.value}}
    return data


def environment_problems(evidence: EvidenceConfig, *, has_deploy_webhook: bool) -> list[str]:
    """What an environment's own fields cannot feed: a `deploy` source with no deploy webhook."""
    problems: list[str] = []
    if not has_deploy_webhook:
        if evidence.release.source is ReleaseSource.DEPLOY:
            problems.append(
                "evidence.release: source deploy needs the environment's deploy_webhook "
                "(set deploy_webhook, or use source person)"
            )
        if evidence.validation_errors.source is ValidationErrorsSource.DEPLOY:
            problems.append(
                "evidence.validation_errors: source deploy needs the environment's "
                "deploy_webhook (set deploy_webhook, or use source person)"
            )
    return problems


def config_problems(
    evidence: EvidenceConfig, *, prometheus_url: str | None, groups: frozenset[str] | set[str]
) -> list[tuple[str, str]]:
    """(field under `evidence`, problem) that need the whole file: Prometheus and groups.

    Confirmers written in the file must all be defined groups. The default `[operators]` is
    not refused here (a file may have no such group and never use a person source);
    `confirmer_problems` (check-config) reports a person source whose confirmers nobody is in.
    """
    problems: list[tuple[str, str]] = []
    ve = evidence.validation_errors
    if ve.source is ValidationErrorsSource.PROMETHEUS and not prometheus_url:
        problems.append(
            (
                "validation_errors",
                "source prometheus needs the top-level prometheus_url "
                '(e.g. prometheus_url: "http://prom.internal:9090")',
            )
        )
    parts: tuple[tuple[str, ReleaseEvidence | ValidationErrorsEvidence], ...] = (
        ("release", evidence.release),
        ("validation_errors", ve),
    )
    for field, part in parts:
        if "confirmers" not in part.model_fields_set:
            continue
        problems.extend(
            (f"{field}.confirmers", f"group {group} is not defined under groups")
            for group in part.confirmers
            if group not in groups
        )
    return problems


def confirmer_problems(
    environment: str, evidence: EvidenceConfig, groups: Mapping[str, frozenset[str]]
) -> list[str]:
    """A `person` source whose confirmers nobody is in: its gates could never be confirmed.

    For check-config; the load refuses only confirmers written in the file, since a default
    `[operators]` is harmless while no gate asks a person.
    """
    parts: tuple[tuple[str, ReleaseEvidence | ValidationErrorsEvidence, bool], ...] = (
        ("release", evidence.release, evidence.release.source is ReleaseSource.PERSON),
        (
            "validation_errors",
            evidence.validation_errors,
            evidence.validation_errors.source is ValidationErrorsSource.PERSON,
        ),
    )
    problems: list[str] = []
    for field, part, asks_person in parts:
        if not asks_person or any(groups.get(group) for group in part.confirmers):
            continue
        named = ", ".join(part.confirmers)
        problems.append(
            f"environments.{environment}.evidence.{field}: source person, but nobody is in "
            f"its confirmers ({named}): nobody could confirm these gates; define the group or "
            "set confirmers"
        )
    return problems
