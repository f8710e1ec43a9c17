"""Workflow definitions: the runbook procedures as YAML data, validated into pydantic models.

A definition is refused at load time, with the file and the step named, when it has an unknown
step kind, a duplicate step id, a template reference to a value no earlier step captures, a goto
to a missing step, a loop (a cycle of steps) none of whose steps bounds its visits, or a skip
that needs less authority than completing the step.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from workflows.errors import DefinitionError
from workflows.patterns import compile_pattern, fullmatch

__all__ = [
    "BUILTIN_NAMES",
    "ApprovalPolicy",
    "Definition",
    "Duration",
    "Effect",
    "GroupDef",
    "InputSpec",
    "ParameterSpec",
    "SkipPolicy",
    "StepDef",
    "StepKind",
    "TargetSpec",
    "load_definition",
    "load_definitions",
    "parse_duration",
    "template_names",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.ASCII)  # ASCII digits only
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")
_ID = r"^[a-z0-9][a-z0-9-]*$"
_MAX_SECONDS = 999_999_999 * 86400.0  # timedelta's own limit

#: Names every step may use in templates without anyone capturing them.
BUILTIN_NAMES = frozenset(
    {"run_id", "workflow", "environment", "initiator", "wave", "now", "plan_hash"}
)


def parse_duration(value: object) -> object:
    """'90s', '5m', '2h', '1d', '250ms' or a number of seconds -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '5m'")
    seconds: float | None = None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        if value.startswith("P"):  # ISO 8601, as pydantic serialises timedelta
            return value
        match = _DURATION.match(value)
        if match:
            seconds = float(match.group(1)) * _UNITS[match.group(2)]
    # negative, NaN and out-of-range values are refused here, not crashed on later
    if seconds is not None and 0 <= seconds < _MAX_SECONDS:
        return timedelta(seconds=seconds)
    raise ValueError(f"not a duration: {value!r} (use e.g. '30s', '5m', '2h', '1d')")


def _check_regex(value: str | None) -> str | None:
    if value is not None:
        try:
            compile_pattern(value)  # ASCII: \d is 0-9, never a look-alike digit
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def template_names(value: object) -> set[str]:
    """The root names referenced by ``{{ name }}`` templates anywhere inside ``value``."""
    found: set[str] = set()
    if isinstance(value, str):
        found.update(m.group(1).split(".")[0] for m in _TEMPLATE.finditer(value))
    elif isinstance(value, dict):
        for item in value.values():
            found |= template_names(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= template_names(item)
    return found


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StepKind(StrEnum):
    RPC = "rpc"
    HEALTH = "health"
    APPROVAL = "approval"
    MANUAL = "manual"
    WEBHOOK = "webhook"
    BOT = "bot"
    WAIT = "wait"
    EVIDENCE = "evidence"  # a fact the node cannot tell, from the environment's evidence source


class Effect(StrEnum):
    """Whether a step changes something outside the bot (then it goes through the ledger)."""

    READ = "read"
    WRITE = "write"


class ApprovalPolicy(_Model):
    """Who must approve, how many distinct people, and for how long the request stands."""

    groups: list[str] = Field(min_length=1)
    quorum: int = Field(default=1, ge=1, le=10)
    allow_initiator: bool = False
    expires_after: Duration = timedelta(hours=24)
    remind_every: Duration | None = timedelta(hours=4)
    reject_groups: list[str] | None = None  # default: the approving groups


class SkipPolicy(_Model):
    allowed: bool = True
    approval: ApprovalPolicy | None = None  # a skip that needs an approval first


class InputSpec(_Model):
    """A value a human must give when confirming a manual step (a checksum, a link, a host)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    pattern: str | None = None
    required: bool = True
    max_length: int = Field(default=500, ge=1, le=3000)
    # The value must name this release (set at plan time: the release a person must have seen
    # on the nodes; a leading 'v' aside, v1.4.2 == 1.4.2).
    release: str | None = None

    _pattern = field_validator("pattern")(_check_regex)


class TargetSpec(_Model):
    """Which nodes a step acts on, resolved into node names when the run is planned."""

    environment: str | None = None  # default: the run's environment
    select: str = "all"  # all | canary | non-canary | first | role:<role> | wave | wave-cumulative
    nodes: list[str] | None = None  # explicit node names instead of select

    @model_validator(mode="after")
    def _check_select(self) -> TargetSpec:
        fixed = {"all", "canary", "non-canary", "first", "wave", "wave-cumulative"}
        is_role = self.select.startswith("role:") and len(self.select) > len("role:")
        if self.select not in fixed and not is_role:
            raise ValueError(
                f"unknown target selection {self.select!r} "
                "(all, canary, non-canary, first, role:<role>, wave, wave-cumulative)"
            )
        return self


class ParameterSpec(_Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    help: str = ""
    required: bool = True
    default: str | None = None
    pattern: str | None = None
    choices: list[str] | None = None
    max_length: int = Field(default=200, ge=1, le=2000)
    # A watch window: never zero; canary and wave windows at least the environment's minimum.
    window: Literal["canary", "wave", "watch"] | None = None

    _pattern = field_validator("pattern")(_check_regex)

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


class StepDef(_Model):
    id: str = Field(pattern=_ID, max_length=60)
    title: str = Field(max_length=150)
    description: str = ""
    runbook: str = ""  # the runbook section the step comes from, e.g. "§1 step 2"
    kind: StepKind
    effect: Effect = Effect.READ
    targets: TargetSpec | None = None
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    capture: dict[str, str] = Field(default_factory=dict)
    approval: ApprovalPolicy | None = None
    inputs: list[InputSpec] = Field(default_factory=list)
    responders: list[str] | None = None  # groups that may confirm a manual step
    environments: list[str] | None = None  # only planned when the run's environment is listed
    on_success: str = "next"  # next | <step id>
    on_failure: str = "block"  # block | abort | <step id>
    offer_on_failure: str | None = None  # a workflow the card offers to start (e.g. rollback)
    retries: int = Field(default=0, ge=0, le=20)
    retry_delay: Duration = timedelta(seconds=5)
    timeout: Duration = timedelta(seconds=60)
    max_visits: int | None = Field(default=None, ge=1, le=1000)
    skip: SkipPolicy = SkipPolicy()

    @model_validator(mode="after")
    def _check_kind(self) -> StepDef:
        if self.kind is StepKind.APPROVAL and self.approval is None:
            raise ValueError("an approval step needs an 'approval' policy")
        if self.kind is StepKind.WEBHOOK and self.effect is not Effect.WRITE:
            object.__setattr__(self, "effect", Effect.WRITE)
        if self.kind in {StepKind.RPC, StepKind.HEALTH, StepKind.EVIDENCE} and self.targets is None:
            object.__setattr__(self, "targets", TargetSpec())
        return self


class GroupDef(_Model):
    """Steps repeated once per item of a plan-time list (today: the environment's waves)."""

    group: str = Field(pattern=_ID, max_length=30)
    title: str = ""
    foreach: Literal["waves"]
    steps: list[StepDef] = Field(min_length=1)


def _step_or_group(value: object) -> str:
    if isinstance(value, dict):
        return "group" if "group" in value else "step"
    return "group" if isinstance(value, GroupDef) else "step"


class Definition(_Model):
    name: str = Field(pattern=_ID)
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

    def flat_ids(self) -> list[str]:
        """Every step id in order, group steps as '<group>.<id>' (their template form)."""
        ids: list[str] = []
        for item in self.steps:
            if isinstance(item, GroupDef):
                ids.extend(f"{item.group}.{step.id}" for step in item.steps)
            else:
                ids.append(item.id)
        return ids

    def parameter(self, name: str) -> ParameterSpec | None:
        return next((p for p in self.parameters if p.name == name), None)

    @model_validator(mode="after")
    def _check_offer_carries(self) -> Definition:
        unknown = sorted(set(self.offer_carries) - {p.name for p in self.parameters})
        if unknown:
            raise ValueError(f"offer_carries names no parameter: {', '.join(unknown)}")
        return self


def _check_semantics(defn: Definition, source: str) -> None:
    """Cross-step checks pydantic cannot do field by field."""
    seen: set[str] = set()
    top_ids = {item.id for item in defn.steps if isinstance(item, StepDef)}
    available = {p.name for p in defn.parameters} | set(BUILTIN_NAMES)
    order: list[tuple[str, StepDef, set[str]]] = []  # (qualified id, step, sibling ids)

    for item in defn.steps:
        if isinstance(item, GroupDef):
            if item.group in seen:
                raise DefinitionError(f"{source}: duplicate step or group id {item.group!r}")
            seen.add(item.group)
            inner: set[str] = set()
            for step in item.steps:
                if step.id in inner:
                    raise DefinitionError(
                        f"{source}: step {item.group}.{step.id}: duplicate step id in group"
                    )
                inner.add(step.id)
            order.extend((f"{item.group}.{s.id}", s, inner) for s in item.steps)
        else:
            if item.id in seen:
                raise DefinitionError(f"{source}: step {item.id}: duplicate step id")
            seen.add(item.id)
            order.append((item.id, item, set()))

    for qualified, step, siblings in order:
        used = template_names(step.with_) | template_names(step.title)
        missing = sorted(used - available)
        if missing:
            raise DefinitionError(
                f"{source}: step {qualified}: references {', '.join(missing)}, which no earlier "
                "step captures and which is not a parameter"
            )
        wave_targets = step.targets is not None and step.targets.select.startswith("wave")
        if not siblings and ("wave" in used or wave_targets):
            raise DefinitionError(
                f"{source}: step {qualified}: uses the wave, which only a wave group has"
            )
        available |= set(step.capture)
        for label, target in (("on_success", step.on_success), ("on_failure", step.on_failure)):
            if target in {"next", "block", "abort"}:
                if label == "on_success" and target != "next":
                    raise DefinitionError(
                        f"{source}: step {qualified}: on_success is 'next' or a step id"
                    )
                if label == "on_failure" and target == "next":
                    raise DefinitionError(
                        f"{source}: step {qualified}: on_failure is block, abort or a step id"
                    )
                continue
            if target not in siblings and target not in top_ids:
                raise DefinitionError(
                    f"{source}: step {qualified}: {label} goes to {target!r}, which is not a step"
                )
    _check_loops(order, top_ids, source)
    # Skipping may never need less authority than completing (workflows/policy.py).
    from workflows.policy import check_skip_policy  # policy imports this module

    for qualified, step, _ in order:
        check_skip_policy(step, qualified, source)


def _check_loops(
    order: list[tuple[str, StepDef, set[str]]], top_ids: set[str], source: str
) -> None:
    """Every cycle of the step graph must contain a step with max_visits (a way out)."""
    index = {qualified: i for i, (qualified, _, _) in enumerate(order)}

    def resolve(qualified: str, target: str, siblings: set[str]) -> int | None:
        if target in siblings:
            return index[f"{qualified.split('.')[0]}.{target}"]
        if target in top_ids:
            return index[target]
        return None

    edges: list[set[int]] = []
    for i, (qualified, step, siblings) in enumerate(order):
        out: set[int] = set()
        if step.on_success == "next":
            if i + 1 < len(order):
                out.add(i + 1)
        else:
            j = resolve(qualified, step.on_success, siblings)
            if j is not None:
                out.add(j)
        if step.on_failure not in {"block", "abort"}:
            j = resolve(qualified, step.on_failure, siblings)
            if j is not None:
                out.add(j)
        edges.append(out)

    for component in _strongly_connected(edges):
        cyclic = len(component) > 1 or any(i in edges[i] for i in component)
        if cyclic and not any(order[i][1].max_visits for i in component):
            names = ", ".join(order[i][0] for i in sorted(component))
            raise DefinitionError(
                f"{source}: steps {names} form a loop with no way out: "
                "give one of them max_visits"
            )


def _strongly_connected(edges: list[set[int]]) -> list[list[int]]:
    """Tarjan's algorithm without recursion (a long definition must not overflow the stack)."""
    counter = 0
    stack: list[int] = []
    on_stack: set[int] = set()
    low: dict[int, int] = {}
    num: dict[int, int] = {}
    result: list[list[int]] = []
    for root in range(len(edges)):
        if root in num:
            continue
        work: list[tuple[int, list[int]]] = [(root, sorted(edges[root]))]
        num[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, pending = work[-1]
            if pending:
                w = pending.pop()
                if w not in num:
                    num[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, sorted(edges[w])))
                elif w in on_stack:
                    low[v] = min(low[v], num[w])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == num[v]:
                component: list[int] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                result.append(component)
    return result


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
    _check_semantics(defn, source)
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
