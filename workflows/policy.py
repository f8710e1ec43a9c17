"""The policy core (pure): who may approve a skip, which environments a run locks, and the
minimum watch windows. No Redis, no Slack: the config supplies an ``EnvironmentPolicy`` per
environment (``environments.<env>.policy``), the planner and the service apply it.

Skip authority: skipping a step needs at least the authority that could complete it.
- A step only some groups may approve (``approval``) or confirm (``responders``) is skipped only
  with an approval by those groups, with at least the step's own quorum.
- Every other step (a check the bot makes: bot, rpc, health, webhook, wait; or a manual step any
  operator may confirm) is skipped only with an approval by the environment's
  ``skip_approvers`` (default: ``security`` on mainnet, the run's operate groups elsewhere),
  unless the definition names its own skip approvers.
- Never by the one who asks, whatever the policy says.

Locks: a run holds the lock of every environment its plan writes to nodes in (an ``rpc`` or
``webhook`` step with ``effect: write`` and target nodes), from start to end. Incidents take no
lock: an incident must never be blocked by the promotion it responds to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workflows.definition import ParameterSpec
from workflows.errors import DefinitionError, InvalidParameters
from workflows.step_models import (
    ApprovalPolicy,
    Duration,
    Effect,
    SkipPolicy,
    StepDef,
    StepKind,
    parse_duration,
)

__all__ = [
    "DEFAULT_CANARY_WINDOW",
    "DEFAULT_WAVE_WINDOW",
    "DefaultPolicies",
    "EnvironmentPolicy",
    "PolicySource",
    "check_skip_policy",
    "check_windows",
    "completion_groups",
    "default_skip_approvers",
    "effective_skip",
    "format_duration",
    "lock_environments",
]

DEFAULT_CANARY_WINDOW = timedelta(hours=1)  # runbook §1: monitor the canaries for 1-2 hours
DEFAULT_WAVE_WINDOW = timedelta(minutes=10)
MAINNET = "mainnet"


class EnvironmentPolicy(BaseModel):
    """``environments.<env>.policy`` in the config (every field optional)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: who approves skipping a check the bot makes (None: security on mainnet, else operators)
    skip_approvers: tuple[str, ...] | None = Field(default=None, min_length=1)
    #: whose member may take this environment's lock over from the run holding it, pausing
    #: that run first (None: as skip_approvers)
    takeover_approvers: tuple[str, ...] | None = Field(default=None, min_length=1)
    min_canary_window: Duration = DEFAULT_CANARY_WINDOW
    min_wave_window: Duration = DEFAULT_WAVE_WINDOW
    #: what a health gate that halts a run here does with the rollback the run offers:
    #: ``offer`` (a "Start rollback…" button for a person) or ``rollback`` (the bot starts it
    #: at once, to the last release recorded here; its approvals still apply)
    on_gate_failure: Literal["offer", "rollback"] = "offer"

    @field_validator("min_canary_window", "min_wave_window")
    @classmethod
    def _not_zero(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("a minimum window of zero would let a run watch nothing")
        return value


class PolicySource(Protocol):
    """What the service needs to know of the policies (implemented over the config)."""

    #: whether runs hold their environments' locks (the bot: always; see DefaultPolicies)
    environment_locks: bool

    def policy(self, environment: str | None) -> EnvironmentPolicy: ...

    def skip_approvers(self, environment: str | None, workflow: str) -> list[str]:
        """The groups that approve skipping a check the bot makes on this environment."""
        ...

    def takeover_approvers(self, environment: str, workflow: str) -> list[str]:
        """The groups whose member may take this environment's lock over from a run of
        ``workflow`` (default: as skip_approvers)."""
        ...


def default_skip_approvers(
    policy: EnvironmentPolicy, *, mainnet: bool, operate_groups: Sequence[str]
) -> list[str]:
    if policy.skip_approvers is not None:
        return list(policy.skip_approvers)
    return ["security"] if mainnet else list(operate_groups)


class DefaultPolicies:
    """The runbook's defaults, for a service built without a config (tests, benches): an
    environment named ``mainnet`` is mainnet; the operate group is ``operators``."""

    def __init__(
        self, policies: dict[str, EnvironmentPolicy] | None = None, *,
        environment_locks: bool = False,
    ) -> None:
        self._policies = policies or {}
        # A service built without a config (the engine's own tests and benches, which run many
        # runs of one test workflow side by side) takes no locks unless asked; the bot's
        # services are built over its config (bot.policies.ConfigPolicies) and always do.
        self.environment_locks = environment_locks

    def policy(self, environment: str | None) -> EnvironmentPolicy:
        return self._policies.get(environment or "", EnvironmentPolicy())

    def skip_approvers(self, environment: str | None, workflow: str) -> list[str]:
        return default_skip_approvers(
            self.policy(environment), mainnet=environment == MAINNET, operate_groups=["operators"]
        )

    def takeover_approvers(self, environment: str, workflow: str) -> list[str]:
        policy = self.policy(environment)
        if policy.takeover_approvers is not None:
            return list(policy.takeover_approvers)
        return self.skip_approvers(environment, workflow)


# --- skip authority ----------------------------------------------------------------------------


def completion_groups(
    kind: StepKind, approval: ApprovalPolicy | None, responders: Sequence[str] | None
) -> tuple[list[str], int] | None:
    """(groups, quorum) of the people who alone can complete the step, or None when no group
    is named (a check the bot makes, or a manual step any operator of the run may confirm)."""
    if kind is StepKind.APPROVAL and approval is not None:
        return list(approval.groups), approval.quorum
    if responders:
        return list(responders), 1
    return None


def effective_skip(
    kind: StepKind,
    approval: ApprovalPolicy | None,
    responders: Sequence[str] | None,
    skip: SkipPolicy,
    skip_approvers: Sequence[str],
) -> SkipPolicy:
    """The skip policy a planned step carries: never a skip without an approval."""
    if not skip.allowed:
        return SkipPolicy(allowed=False)
    own = skip.approval
    completes = completion_groups(kind, approval, responders)
    if own is not None:
        # the loader made sure it is no easier than completing; the asker never approves
        return SkipPolicy(approval=own.model_copy(update={"allow_initiator": False}))
    if completes is not None:
        groups, quorum = completes
        expires = approval.expires_after if approval is not None else timedelta(hours=24)
        return SkipPolicy(
            approval=ApprovalPolicy(groups=groups, quorum=quorum, expires_after=expires)
        )
    return SkipPolicy(approval=ApprovalPolicy(groups=list(skip_approvers) or ["operators"]))


def check_skip_policy(step: StepDef, qualified: str, source: str) -> None:
    """Refuse a definition whose skip is easier than completing the step (file, step named)."""
    own = step.skip.approval
    if own is None or not step.skip.allowed:
        return
    where = f"{source}: step {qualified}: skip.approval"
    if own.allow_initiator:
        raise DefinitionError(
            f"{where}: allow_initiator may not be true: the one who asks never approves a skip"
        )
    completes = completion_groups(step.kind, step.approval, step.responders)
    if completes is None:
        return
    groups, quorum = completes
    extra = sorted(set(own.groups) - set(groups))
    if extra:
        raise DefinitionError(
            f"{where}: names {', '.join(extra)}, who may not complete the step "
            f"(only {', '.join(groups)} may): skipping may not need less authority than "
            "completing"
        )
    if own.quorum < quorum:
        raise DefinitionError(
            f"{where}: quorum {own.quorum} is less than the {quorum} the step needs to complete: "
            "skipping may not need less authority than completing"
        )


# --- locks -------------------------------------------------------------------------------------


def lock_environments(
    category: str, steps: Iterable[tuple[StepKind, Effect, str | None, Sequence[str]]]
) -> list[str]:
    """The environments a run writes to nodes in, sorted: (kind, effect, environment, targets)
    per planned step. Incidents lock nothing (they must never wait for what they respond to)."""
    if category == "incident":
        return []
    found = {
        environment
        for kind, effect, environment, targets in steps
        if environment
        and effect is Effect.WRITE
        and kind in {StepKind.RPC, StepKind.WEBHOOK}
        and targets
    }
    return sorted(found)


# --- minimum windows ---------------------------------------------------------------------------

def format_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds >= 1:
        return f"{seconds:g}s"
    return f"{round(seconds * 1000)}ms"


def check_windows(
    specs: Iterable[ParameterSpec],
    params: dict[str, str],
    policy: EnvironmentPolicy,
    environment: str | None,
    usage: str,
) -> None:
    """Refuse a watch window of zero or below the environment's minimum, on its parameter."""
    for spec in specs:
        if spec.window is None or not params.get(spec.name):
            continue
        value = params[spec.name]
        try:
            parsed = parse_duration(value)
        except ValueError:
            raise InvalidParameters(
                f"{spec.name} {value!r} is not a duration (e.g. 90s, 10m, 2h)",
                parameter=spec.name, usage=usage,
            ) from None
        if not isinstance(parsed, timedelta):
            raise InvalidParameters(f"{spec.name} {value!r} is not a duration",
                                    parameter=spec.name, usage=usage)
        minimum: timedelta | None = None
        if spec.window == "canary":
            minimum = policy.min_canary_window
        elif spec.window == "wave":
            minimum = policy.min_wave_window
        field = f"policy.min_{spec.window}_window"
        where = f"{environment}'s" if environment else "the"
        if parsed <= timedelta(0):
            floor = f" ({where} minimum is {format_duration(minimum)}, {field})" if minimum else ""
            raise InvalidParameters(
                f"{spec.name} may not be zero: a watch window must watch{floor}",
                parameter=spec.name, usage=usage,
            )
        if minimum is not None and parsed < minimum:
            raise InvalidParameters(
                f"{spec.name} {value} is shorter than {where} minimum of "
                f"{format_duration(minimum)} ({field})",
                parameter=spec.name, usage=usage,
            )
