"""What an offered follow-up (a halted promotion's "Start rollback") starts with.

The halted run's parameters are not copied wholesale: one name can mean two things (promote's
``version`` is the release that failed, rollback's the fixed build to deploy). The target's
environment parameter gets the environment of the step that failed (a testnet canary: testnet,
whatever environment the promotion was headed for); other parameters are copied only when the
target lists them under ``offer_carries``. The rest is left for a person to fill in.
"""

from __future__ import annotations

from workflows.definition import Definition, ParameterSpec
from workflows.model import PlannedStep, Run, StepStatus
from workflows.patterns import fullmatch

__all__ = ["asks_first", "failed_step", "offer_params"]

_HALTED = frozenset({StepStatus.FAILED, StepStatus.BLOCKED})


def failed_step(run: Run) -> PlannedStep | None:
    """The step whose failure made the run's offer: the cursor stays on it when the run halts;
    after an ``on_failure`` goto, the one that failed last."""
    if run.offer is None:
        return None
    current = run.current
    if current is not None and current[0].offer_on_failure == run.offer:
        return current[0]
    failed = [
        (state.finished_at, index)
        for index, (step, state) in enumerate(zip(run.plan, run.steps, strict=True))
        if step.offer_on_failure == run.offer and state.status in _HALTED and state.finished_at
    ]
    return run.plan[max(failed)[1]] if failed else None


def offer_params(run: Run, target: Definition) -> dict[str, str]:
    """The values a form to start ``target`` from ``run``'s offer is prefilled with."""
    found: dict[str, str] = {}
    if target.environment_param and target.fixed_environment is None:
        step = failed_step(run)
        environment = (step.environment if step is not None else None) or run.environment
        if environment:
            found[target.environment_param] = environment
    for name in target.offer_carries:
        if run.params.get(name):
            found[name] = run.params[name]
    return {
        name: value for name, value in found.items()
        if (spec := target.parameter(name)) is not None and _fits(spec, value)
    }


def asks_first(target: Definition, known: dict[str, str], *, offered: bool) -> bool:
    """Whether starting ``target`` opens a form first: always for an offer (its values are the
    bot's guesses, for a person to check), otherwise when a required parameter is unknown."""
    if offered:
        return bool(target.parameters)
    return any(
        spec.required and spec.default is None and not known.get(spec.name)
        for spec in target.parameters
    )


def _fits(spec: ParameterSpec, value: str) -> bool:
    if len(value) > spec.max_length or (spec.choices and value not in spec.choices):
        return False
    return spec.pattern is None or fullmatch(spec.pattern, value)
