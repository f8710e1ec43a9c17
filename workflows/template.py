"""Safe ``{{ name.path }}`` substitution for step arguments: lookups only, never code execution."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from workflows.machine import resolve_path
from workflows.model import PlannedStep, Run

__all__ = ["TemplateError", "context_for", "render"]

_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")
_WHOLE = re.compile(r"^\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}\s*$")


class TemplateError(ValueError):
    """A template names a value that the run does not have (yet)."""

    code = "template_missing_value"


def context_for(run: Run, step: PlannedStep, now: datetime) -> dict[str, Any]:
    """Everything a step's templates may reference: parameters, captures and builtins."""
    return {
        **run.params,
        **run.values,
        "run_id": run.id,
        "workflow": run.workflow,
        "environment": step.environment or run.environment,
        "initiator": run.initiator,
        "plan_hash": run.plan_hash,
        "wave": step.wave or {},
        "now": now.isoformat(),
    }


def render(value: Any, context: dict[str, Any]) -> Any:
    """Substitute templates; a string that is one whole template keeps the value's own type."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            return _lookup(context, whole.group(1))
        return _TEMPLATE.sub(lambda m: str(_lookup(context, m.group(1))), value)
    if isinstance(value, dict):
        return {key: render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, context) for item in value]
    return value


def _lookup(context: dict[str, Any], path: str) -> Any:
    found = resolve_path(context, path)
    if found is None:
        raise TemplateError(f"no value for {{{{ {path} }}}} yet")
    return found
