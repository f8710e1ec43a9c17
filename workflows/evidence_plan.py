"""Plan time: each "no rise in validation errors" check takes the source its environment names.

Pure. A definition says *where* the check belongs: a window ``health`` step followed by an
``evidence`` step with ``with: {fact: validation_errors, window_of: <the health step>}``. The
environment's ``evidence.validation_errors`` (``workflows/evidence_sources.py``) says *how*:

- ``metric``: the window health step samples that counter on the node's /metrics with its looks
  (``validation_metric`` is added to its arguments) and fails at the first rise; the evidence
  step is dropped (the health window is the evidence).
- ``prometheus`` / ``deploy`` / ``none``: the evidence step carries the source (and the query);
- ``person``: likewise, the step waits for a member of ``confirmers``.

Every evidence step that stays gets ``confirmers`` as its responders and a required text input,
because any source that cannot answer at run time falls back to asking those people. The source
is fixed in the plan (and so in the plan hash approvals bind to): changing the config later does
not change what a run in flight trusts.
"""

from __future__ import annotations

from collections.abc import Callable

from workflows.evidence_sources import ValidationErrorsEvidence, ValidationErrorsSource
from workflows.model import PlannedStep
from workflows.step_models import InputSpec, StepKind

__all__ = ["LOGS_INPUT", "EvidenceLookup", "resolve_evidence"]

EvidenceLookup = Callable[[str], ValidationErrorsEvidence]
"""The validation-errors evidence of an environment, by name."""

LOGS_INPUT = InputSpec(
    name="logs_seen",
    label="What the node logs show about validation / chain errors over the window",
    max_length=1000,
)


def resolve_evidence(
    plan: list[PlannedStep], lookup: EvidenceLookup | None
) -> list[PlannedStep]:
    """The plan with evidence steps resolved (or dropped) and window health steps fed."""
    resolved: list[PlannedStep] = []
    ids = {step.id for step in plan}
    for step in plan:
        env = step.environment
        evidence = lookup(env) if lookup is not None and env else ValidationErrorsEvidence()
        if step.kind is StepKind.HEALTH and "window" in step.with_:
            if evidence.source is ValidationErrorsSource.METRIC and evidence.metric:
                step = step.model_copy(
                    update={"with_": {**step.with_, "validation_metric": evidence.metric}}
                )  # (its card names the source once it passed: result.evidence)
        elif step.kind is StepKind.EVIDENCE:
            if evidence.source is ValidationErrorsSource.METRIC:
                continue  # the window health step samples the metric itself
            args = {
                **step.with_,
                "source": evidence.source.value,
                # What the card says before the step has run (the label of the source).
                "evidence": {"source": evidence.source.value, "label": evidence.label},
            }
            if evidence.query is not None:
                args["query"] = evidence.query
            watched = args.get("window_of")
            if isinstance(watched, str) and step.group and f"{step.group}.{watched}" in ids:
                args["window_of"] = f"{step.group}.{watched}"
            step = step.model_copy(
                update={
                    "with_": args,
                    "responders": list(evidence.confirmers),
                    "inputs": [LOGS_INPUT],
                }
            )
        resolved.append(step)
    return resolved
