"""Planning: a definition + parameters + the node inventory -> a new run with a concrete plan.

Pure: the inventory is passed in behind a Protocol, time and the run id too. Bad parameters are
refused with a message that says what was wrong and what the right form is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from workflows.definition import Definition, ParameterSpec
from workflows.errors import InvalidParameters
from workflows.evidence_plan import resolve_evidence
from workflows.model import PlannedStep, Run, StepState, compute_plan_hash
from workflows.patterns import fullmatch
from workflows.policy import effective_skip, lock_environments
from workflows.release_gate import resolve_release_gates
from workflows.step_models import GroupDef, StepDef

__all__ = ["Inventory", "check_params", "plan_run", "usage"]

_WAVE_TEMPLATE = re.compile(r"\{\{\s*wave\.(index|percent|count|nodes|cumulative)\s*\}\}")
_WAVE_WHOLE = re.compile(r"^\s*\{\{\s*wave\.(index|percent|count|nodes|cumulative)\s*\}\}\s*$")


class Inventory(Protocol):
    """What planning needs to know about the nodes (implemented over the bot's config)."""

    def has_environment(self, environment: str) -> bool: ...

    def select(self, environment: str, select: str) -> list[str]:
        """Node names for all | canary | non-canary | first | role:<role>, in config order."""
        ...

    def waves(self, environment: str) -> list[tuple[int, list[str]]]:
        """(percent, the nodes this wave adds), in order; the waves together cover every node."""
        ...


def usage(defn: Definition) -> str:
    """The right form of the command, e.g. `promote <version> <git_sha> [config_checksum]`."""
    parts = []
    for spec in defn.parameters:
        label = spec.name if not spec.choices else "|".join(spec.choices)
        parts.append(f"<{label}>" if spec.required and spec.default is None else f"[{label}]")
    return " ".join([defn.name, *parts])


def check_params(defn: Definition, given: dict[str, str]) -> dict[str, str]:
    """Validate the parameters against the definition; fill defaults; refuse with the right form."""
    form = usage(defn)
    unknown = sorted(set(given) - {p.name for p in defn.parameters})
    if unknown:
        raise InvalidParameters(f"unknown parameter {', '.join(unknown)}", usage=form)
    clean: dict[str, str] = {}
    for spec in defn.parameters:
        value = given.get(spec.name)
        if value is None or value == "":
            if spec.default is not None:
                clean[spec.name] = spec.default
                continue
            if spec.required:
                raise InvalidParameters(f"missing {spec.name}", parameter=spec.name, usage=form)
            continue
        _check_value(spec, value, form)
        clean[spec.name] = value
    return clean


def _check_value(spec: ParameterSpec, value: str, form: str) -> None:
    if len(value) > spec.max_length:
        raise InvalidParameters(
            f"{spec.name} is longer than {spec.max_length} characters",
            parameter=spec.name, usage=form,
        )
    if spec.choices and value not in spec.choices:
        raise InvalidParameters(
            f"{spec.name} must be one of {', '.join(spec.choices)}, not {value!r}",
            parameter=spec.name, usage=form,
        )
    if spec.pattern and not fullmatch(spec.pattern, value):
        hint = f" ({spec.help})" if spec.help else ""
        raise InvalidParameters(f"{spec.name} {value!r} is not valid{hint}", parameter=spec.name,
                                usage=form)


def plan_run(
    defn: Definition,
    params: dict[str, str],
    *,
    inventory: Inventory,
    run_id: str,
    initiator: str,
    now: datetime,
    channel: str | None = None,
    parent_run_id: str | None = None,
    skip_approvers: Sequence[str] = ("operators",),
) -> Run:
    """A new pending run of ``defn``; the parameters are checked before anything is built.
    ``skip_approvers``: who approves skipping a check the bot makes (the environment's policy);
    every planned step carries the skip approval it needs (workflows/policy.py)."""
    clean = check_params(defn, params)
    environment = defn.fixed_environment
    if environment is None and defn.environment_param:
        environment = clean.get(defn.environment_param)
    if environment is not None and not inventory.has_environment(environment):
        raise InvalidParameters(
            f"environment {environment!r} is not in the configuration",
            parameter=None if defn.fixed_environment else defn.environment_param,
            usage=usage(defn),
        )
    plan: list[PlannedStep] = []
    top_ids = {item.id for item in defn.steps if isinstance(item, StepDef)}
    for item in defn.steps:
        if isinstance(item, GroupDef):
            plan.extend(_expand_group(item, environment, inventory, top_ids))
        elif _applies(item, environment):
            plan.append(_planned(item, environment, inventory, item.id, None, None, set(), top_ids))
    # "No rise in validation errors" checks take the environment's evidence source.
    plan = resolve_evidence(plan, getattr(inventory, "validation_errors_evidence", None))
    _drop_dangling_gotos(plan)
    # "The nodes run the release" gates run on the environment's evidence.release source.
    plan = resolve_release_gates(plan, clean, inventory)
    plan = [
        step.model_copy(update={"skip": effective_skip(
            step.kind, step.approval, step.responders, step.skip, skip_approvers)})
        for step in plan
    ]
    locks = lock_environments(
        defn.category, ((s.kind, s.effect, s.environment, s.targets) for s in plan)
    )
    plan_hash = compute_plan_hash(defn.name, defn.version, clean, environment, plan)
    # The title shows what the person typed, not the defaults they left alone or empty values.
    shown = [clean[p.name] for p in defn.parameters if p.name in params and clean.get(p.name)]
    title = f"{defn.title}: " + " ".join(shown) if shown else defn.title
    return Run(
        id=run_id,
        workflow=defn.name,
        definition_version=defn.version,
        title=title[:150],
        category=defn.category,
        params=clean,
        environment=environment,
        initiator=initiator,
        channel=channel,
        plan=plan,
        plan_hash=plan_hash,
        steps=[StepState(id=step.id) for step in plan],
        created_at=now,
        updated_at=now,
        parent_run_id=parent_run_id,
        locks=locks,
    )


def _applies(step: StepDef, environment: str | None) -> bool:
    return step.environments is None or environment in step.environments


def _expand_group(
    group: GroupDef, environment: str | None, inventory: Inventory, top_ids: set[str]
) -> list[PlannedStep]:
    if environment is None:
        raise InvalidParameters(f"group {group.group} needs an environment to plan its waves")
    waves = inventory.waves(environment)
    siblings = {step.id for step in group.steps}
    cumulative: list[str] = []
    planned: list[PlannedStep] = []
    for number, (percent, nodes) in enumerate(waves, start=1):
        cumulative = [*cumulative, *nodes]
        wave = {
            "index": number,
            "percent": percent,
            "count": len(nodes),
            "nodes": list(nodes),
            "cumulative": list(cumulative),
        }
        prefix = f"{group.group}-{number}"
        for step in group.steps:
            if _applies(step, environment):
                planned.append(
                    _planned(step, environment, inventory, f"{prefix}.{step.id}", prefix, wave,
                             siblings, top_ids)
                )
    return planned


def _planned(
    step: StepDef,
    environment: str | None,
    inventory: Inventory,
    qualified: str,
    prefix: str | None,
    wave: dict[str, Any] | None,
    siblings: set[str],
    top_ids: set[str],
) -> PlannedStep:
    step_env = environment
    targets: list[str] = []
    if step.targets is not None:
        step_env = step.targets.environment or environment
        if step_env is None or not inventory.has_environment(step_env):
            raise InvalidParameters(
                f"step {qualified} acts on environment {step_env!r}, which is not configured"
            )
        if step.targets.nodes is not None:
            available = set(inventory.select(step_env, "all"))
            missing = [n for n in step.targets.nodes if n not in available]
            if missing:
                raise InvalidParameters(
                    f"step {qualified}: no node {', '.join(missing)} in {step_env}"
                )
            targets = list(step.targets.nodes)
        elif step.targets.select in {"wave", "wave-cumulative"}:
            if wave is None:
                raise InvalidParameters(f"step {qualified}: 'wave' targets outside a wave group")
            targets = list(wave["nodes" if step.targets.select == "wave" else "cumulative"])
        else:
            targets = inventory.select(step_env, step.targets.select)
        if not targets:
            raise InvalidParameters(
                f"step {qualified}: {step_env} has no {step.targets.select} nodes to act on"
            )

    def goto(target: str) -> str:
        if target in {"next", "block", "abort"}:
            return target
        if prefix is not None and target in siblings:
            return f"{prefix}.{target}"
        return target

    with_ = _wave_substitute(step.with_, wave)
    title = step.title
    if wave is not None:  # titles stay text, whole template or not
        title = _WAVE_TEMPLATE.sub(lambda m: _wave_text(wave[m.group(1)]), title)
    return PlannedStep(
        id=qualified,
        title=title,
        description=step.description,
        runbook=step.runbook,
        kind=step.kind,
        effect=step.effect,
        environment=step_env,
        targets=targets,
        with_=with_ if isinstance(with_, dict) else {},
        capture=dict(step.capture),
        approval=step.approval,
        inputs=list(step.inputs),
        responders=step.responders,
        on_success=goto(step.on_success),
        on_failure=goto(step.on_failure),
        offer_on_failure=step.offer_on_failure,
        retries=step.retries,
        retry_delay=step.retry_delay,
        timeout=step.timeout,
        max_visits=step.max_visits,
        skip=step.skip,
        group=prefix,
        wave=wave,
    )


def _wave_substitute(value: Any, wave: dict[str, Any] | None) -> Any:
    """Resolve ``{{ wave.* }}`` at plan time; everything else is resolved when the step runs."""
    if wave is None:
        return value
    if isinstance(value, str):
        whole = _WAVE_WHOLE.match(value)
        if whole:  # like template.render: a whole template keeps the value's type (a list, an int)
            found = wave[whole.group(1)]
            return list(found) if isinstance(found, list) else found
        return _WAVE_TEMPLATE.sub(lambda m: _wave_text(wave[m.group(1)]), value)
    if isinstance(value, dict):
        return {k: _wave_substitute(v, wave) for k, v in value.items()}
    if isinstance(value, list):
        return [_wave_substitute(v, wave) for v in value]
    return value


def _wave_text(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def _drop_dangling_gotos(plan: list[PlannedStep]) -> None:
    """A goto to a step filtered out by ``environments`` falls back to blocking."""
    ids = {step.id for step in plan}
    for i, step in enumerate(plan):
        updates: dict[str, str] = {}
        if step.on_success not in {"next"} and step.on_success not in ids:
            updates["on_success"] = "next"
        if step.on_failure not in {"block", "abort"} and step.on_failure not in ids:
            updates["on_failure"] = "block"
        if updates:
            plan[i] = step.model_copy(update=updates)
