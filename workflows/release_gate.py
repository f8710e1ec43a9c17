"""Plan time: a "the nodes run the release" gate takes its evidence from the environment.

A definition writes the gate as `kind: rpc, with: {action: version, version: "{{ version }}"}`.
The node daemon's `getinfo.version` is the constant integer 100 (docs/node-dialect.md), so the gate
is re-planned per the environment's `evidence.release` (workflows/evidence_sources.py):

- `rpc`: stays an `rpc` step; getinfo.version must equal the release (a node that answers the
  daemon's constant is refused with the fix, see workflows/steps/_rpcactions.py).
- `deploy`: becomes a `webhook` step with `action: verify-version`: what the deploy system
  reported installing on each node in an earlier deploy answer of the run, else a signed
  `verify-version` call to the same endpoint (workflows/steps/release.py).
- `person`: becomes a `manual` step for the `confirmers` groups with a required input, the version
  they saw, which must be the release (the machine refuses another).

Every re-planned step carries `with.evidence = {source, label}`; its result carries
`evidence = {source, label, by, value, ...}` for the card and the audit log. Pure.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from workflows.errors import InvalidParameters
from workflows.evidence_sources import ReleaseEvidence, ReleaseSource
from workflows.model import PlannedStep
from workflows.step_models import Effect, InputSpec, StepKind
from workflows.template import TemplateError, render

__all__ = [
    "VERIFY_VERSION",
    "ReleaseEvidencePolicy",
    "is_release_gate",
    "release_gate",
    "resolve_release_gates",
]

VERIFY_VERSION = "verify-version"
"""The deploy webhook's read-only action: which release is installed on each named node."""


@runtime_checkable
class ReleaseEvidencePolicy(Protocol):
    """Where an environment's release evidence comes from (the inventory over the bot config)."""

    def release_evidence(self, environment: str) -> ReleaseEvidence: ...


def is_release_gate(step: PlannedStep) -> bool:
    """An `rpc` step with `action: version` not yet re-planned for its evidence source."""
    return (
        step.kind is StepKind.RPC
        and step.with_.get("action") == "version"
        and "evidence" not in step.with_
    )


def resolve_release_gates(
    plan: list[PlannedStep], params: dict[str, str], inventory: object
) -> list[PlannedStep]:
    """Every release gate of the plan re-planned for its environment's evidence source.

    An inventory that knows no evidence policy (a test's static one) leaves the gates as `rpc`.
    """
    if not isinstance(inventory, ReleaseEvidencePolicy):
        return plan
    return [
        release_gate(step, inventory.release_evidence(step.environment), params)
        if is_release_gate(step) and step.environment is not None
        else step
        for step in plan
    ]


def release_gate(
    step: PlannedStep, evidence: ReleaseEvidence, params: dict[str, str]
) -> PlannedStep:
    """One release gate re-planned to run on `evidence`'s source."""
    marker = {"source": evidence.source.value, "label": evidence.label}
    version = step.with_.get("version")
    nodes = ", ".join(step.targets) or "the nodes"
    match evidence.source:
        case ReleaseSource.RPC:
            return step.model_copy(
                update={
                    "with_": {**step.with_, "evidence": marker},
                    "description": (
                        f"Bot: getinfo.version on {nodes} must be the release (evidence: "
                        f"{evidence.label}; only a daemon that reports release strings can)."
                    ),
                }
            )
        case ReleaseSource.DEPLOY:
            return step.model_copy(
                update={
                    "kind": StepKind.WEBHOOK,
                    "effect": Effect.READ,
                    "with_": {
                        "action": VERIFY_VERSION,
                        "version": version,
                        "evidence": marker,
                        # Reads the deploy system only; the nodes may still be restarting.
                        "guard": False,
                    },
                    "description": (
                        f"Deploy system: the release it installed on {nodes}, from its deploy "
                        "answer or a verify-version call (evidence: deploy system)."
                    ),
                }
            )
        case _:
            release = _param_value(step, version, params)
            return step.model_copy(
                update={
                    "kind": StepKind.MANUAL,
                    "effect": Effect.READ,
                    "responders": list(evidence.confirmers),
                    "inputs": [
                        InputSpec(
                            name="version_seen",
                            label="Version you saw installed",
                            pattern=r"\S{1,64}",
                            max_length=64,
                            release=release,
                        )
                    ],
                    "with_": {
                        "evidence": marker,
                        "version": release,
                        "instructions": (
                            f"Look at the release installed on {nodes} (the package, the "
                            f"binary, the deploy log) and type the version you saw; it must be "
                            f"{release}."
                        ),
                    },
                    "description": (
                        f"Humans ({', '.join(evidence.confirmers)}): one confirms {nodes} run "
                        f"{release}, typing the version they saw (evidence: {evidence.label})."
                    ),
                }
            )


def _param_value(step: PlannedStep, version: Any, params: dict[str, str]) -> str:
    """The release a person must confirm, known at plan time (from the run's parameters)."""
    try:
        value = render(version, dict(params))
    except TemplateError:
        value = None
    if not isinstance(value, str) or not value:
        raise InvalidParameters(
            f"step {step.id}: a release confirmed by a person needs its version from the "
            "run's parameters"
        )
    return value
