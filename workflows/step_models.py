"""The steps of a workflow definition: a step (``StepDef``) and a group of steps repeated per
wave (``GroupDef``), and what they are made of: the step kind, its effect, approval and skip
policies, the inputs a person gives, the target nodes, durations ('90s', '5m').

``workflows.definition`` holds the definition these make up and loads it from YAML.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from workflows.patterns import compile_pattern

__all__ = [
    "ID_PATTERN",
    "ApprovalPolicy",
    "Duration",
    "Effect",
    "FrozenModel",
    "GroupDef",
    "InputSpec",
    "SkipPolicy",
    "StepDef",
    "StepKind",
    "TargetSpec",
    "check_regex",
    "parse_duration",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.ASCII)  # ASCII digits only
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
#: A step, group or workflow id.
ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
_MAX_SECONDS = 999_999_999 * 86400.0  # timedelta's own limit


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


def check_regex(value: str | None) -> str | None:
    if value is not None:
        try:
            compile_pattern(value)  # ASCII: \d is 0-9, never a look-alike digit
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class FrozenModel(BaseModel):
    """A part of a definition: unknown keys refused, immutable, set by field name or alias."""

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


class ApprovalPolicy(FrozenModel):
    """Who must approve, how many distinct people, and for how long the request stands."""

    groups: list[str] = Field(min_length=1)
    quorum: int = Field(default=1, ge=1, le=10)
    allow_initiator: bool = False
    expires_after: Duration = timedelta(hours=24)
    remind_every: Duration | None = timedelta(hours=4)
    reject_groups: list[str] | None = None  # default: the approving groups


class SkipPolicy(FrozenModel):
    allowed: bool = True
    approval: ApprovalPolicy | None = None  # a skip that needs an approval first


class InputSpec(FrozenModel):
    """A value a human must give when confirming a manual step (a checksum, a link, a host)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    pattern: str | None = None
    required: bool = True
    max_length: int = Field(default=500, ge=1, le=3000)
    # The value must name this release (set at plan time: the release a person must have seen
    # on the nodes; a leading 'v' aside, v1.4.2 == 1.4.2).
    release: str | None = None

    _pattern = field_validator("pattern")(check_regex)


class TargetSpec(FrozenModel):
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


class StepDef(FrozenModel):
    id: str = Field(pattern=ID_PATTERN, max_length=60)
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


class GroupDef(FrozenModel):
    """Steps repeated once per item of a plan-time list (today: the environment's waves)."""

    group: str = Field(pattern=ID_PATTERN, max_length=30)
    title: str = ""
    foreach: Literal["waves"]
    steps: list[StepDef] = Field(min_length=1)
