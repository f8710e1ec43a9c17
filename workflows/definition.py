"""Workflow definitions: the runbook procedures as YAML data, validated into pydantic models.

A definition is refused at load time, with the file and the step named, when it has an unknown
step kind, a duplicate step id, a template reference to a value no earlier step captures, a goto
to a missing step, a loop (a cycle of steps) none of whose steps bounds its visits, or a skip
that needs less authority than completing the step.

Its steps are ``workflows.step_models``; the checks across steps are
``workflows.definition_checks``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from workflows.definition_checks import check_semantics
from workflows.errors import DefinitionError
from workflows.patterns import fullmatch
from workflows.step_models import ID_PATTERN, FrozenModel, GroupDef, StepDef, check_regex

__all__ = [
    "Definition",
    "ParameterSpec",
    "load_definition",
    "load_definitions",
    "parse_definition",
]


class ParameterSpec(FrozenModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    help: str = ""
    required: bool = True
    default: str | None = None
    pattern: str | None = None
    choices: list[str] | None = None
    max_length: int = Field(default=200, ge=1, le=2000)
    # A watch window: never zero; canary and wave windows at least the environment's minimum.
    window: Literal["canary", "wave", "watch"] | None = None

    _pattern = field_validator("pattern")(check_regex)

    @model_validator(mode="after")
    def _check_default(self) -> ParameterSpec:
        """A default is used unchecked at plan time, so it must fit its own rules."""
        value = self.default
        if value is None:
            return self
        if len(value) > self.max_length or (self.choices and value not in self.choices):
            raise ValueError(f"the default {value!r} is too long or not one of the choices")
        if self.pattern and not fullmatch(self.pattern, value):
            raise ValueError(f"the default {value!r} does not match the pattern")
        return self


def _step_or_group(value: object) -> str:
    if isinstance(value, dict):
        return "group" if "group" in value else "step"
    return "group" if isinstance(value, GroupDef) else "step"


class Definition(FrozenModel):
    name: str = Field(pattern=ID_PATTERN)
    title: str
    description: str = ""
    runbook: str = ""
    category: Literal["release", "operations", "incident", "recovery", "drill", "test"] = (
        "operations"
    )
    parameters: list[ParameterSpec] = Field(default_factory=list)
    environment_param: str | None = "environment"
    fixed_environment: str | None = None  # e.g. a drill that always runs on one environment
    # Parameters an offer to start this workflow (a halted run's "Start rollback") copies from
    # the halted run when it has one of that name: only names that mean the same in both.
    offer_carries: list[str] = Field(default_factory=list)
    # Tagged by the 'group' key, so an error inside a group is reported once, where it is.
    steps: list[
        Annotated[
            Annotated[StepDef, Tag("step")] | Annotated[GroupDef, Tag("group")],
            Discriminator(_step_or_group),
        ]
    ] = Field(min_length=1)
    version: str = ""  # filled with a hash of the source text when loaded

    def flat_steps(self) -> list[tuple[str, StepDef]]:
        """Every step in order with its id, group steps as '<group>.<id>' (their template form)."""
        found: list[tuple[str, StepDef]] = []
        for item in self.steps:
            if isinstance(item, GroupDef):
                found.extend((f"{item.group}.{step.id}", step) for step in item.steps)
            else:
                found.append((item.id, item))
        return found

    def flat_ids(self) -> list[str]:
        """Every step id in order, group steps as '<group>.<id>' (their template form)."""
        return [step_id for step_id, _ in self.flat_steps()]

    def parameter(self, name: str) -> ParameterSpec | None:
        return next((p for p in self.parameters if p.name == name), None)

    @model_validator(mode="after")
    def _check_offer_carries(self) -> Definition:
        unknown = sorted(set(self.offer_carries) - {p.name for p in self.parameters})
        if unknown:
            raise ValueError(f"offer_carries names no parameter: {', '.join(unknown)}")
        return self


def _describe(exc: ValidationError, source: str, raw: object) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc)
        step_id = _step_id_at(raw, loc)
        prefix = f"step {step_id}: " if step_id else ""
        parts.append(f"{prefix}{where}: {err['msg']}")
    return f"{source}: " + "; ".join(parts)


def _step_id_at(raw: object, loc: list[int | str]) -> str | None:
    if not isinstance(raw, dict) or len(loc) < 2 or loc[0] != "steps":
        return None
    steps = raw.get("steps")
    if not isinstance(steps, list) or not isinstance(loc[1], int) or loc[1] >= len(steps):
        return None
    step = steps[loc[1]]
    if not isinstance(step, dict):
        return None
    name = str(step.get("id") or step.get("group") or loc[1])
    inner = step.get("steps")
    if loc[2:4] == ["group", "steps"] and len(loc) > 4 and isinstance(inner, list):
        at = loc[4]
        if isinstance(at, int) and at < len(inner) and isinstance(inner[at], dict):
            return f"{name}.{inner[at].get('id') or at}"
    return name


def load_definition(path: Path) -> Definition:
    """Read and validate one definition file; any problem is a DefinitionError naming it."""
    source = path.name
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError(f"{source}: cannot read: {exc}") from exc
    return parse_definition(raw, source, text)


def parse_definition(raw: object, source: str, text: str | None = None) -> Definition:
    if not isinstance(raw, dict):
        raise DefinitionError(f"{source}: a definition is a mapping with name, title and steps")
    try:
        defn = Definition.model_validate(raw)
    except ValidationError as exc:
        raise DefinitionError(_describe(exc, source, raw)) from exc
    check_semantics(defn, source)
    digest = hashlib.sha256((text or repr(raw)).encode()).hexdigest()[:12]
    return defn.model_copy(update={"version": defn.version or digest})


def load_definitions(directory: Path) -> dict[str, Definition]:
    """Every ``*.yaml`` in ``directory`` by workflow name; duplicates are refused."""
    found: dict[str, Definition] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        defn = load_definition(path)
        if defn.name in found:
            raise DefinitionError(f"{path.name}: workflow {defn.name!r} is defined twice")
        found[defn.name] = defn
    return found
