"""Where each node fact a gate needs comes from: the `evidence` section of an environment.

The node daemon cannot tell everything a gate needs (`docs/node-dialect.md`, "What the node can and
cannot tell about itself"): its `getinfo.version` is the constant integer 100 whatever release is
installed, and it exports no validation-error metric. So every environment says, per fact, which
source a gate trusts:

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
`config_problems`, which bot/environments.py and bot/config.py call from their validators. Pure:
no I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from workflows.evidence_sources import (
    ReleaseEvidence,
    ReleaseSource,
    ValidationErrorsEvidence,
    ValidationErrorsSource,
)

__all__ = [
    "EvidenceConfig",
    "config_problems",
    "confirmer_problems",
    "default_evidence",
    "environment_problems",
]


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
