"""The executor interface: one executor per step kind, looked up in a registry by the engine.

An executor performs or checks one step and returns an ``Outcome``; it never writes the run. A
write step that was begun and never finished (a crash) is handed to ``verify``: it returns the
outcome it can establish by looking (is the node already on the new version?), or None when it
cannot tell, and then the run is blocked for a human. Nothing is re-run blindly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from workflows.model import Outcome, PlannedStep, Run, StepState
from workflows.step_models import StepKind
from workflows.steps.deps import StepDeps

__all__ = ["ExecutorRegistry", "StepContext", "StepExecutor"]


@dataclass(frozen=True)
class StepContext:
    """What an executor sees: the run as committed, its step, arguments rendered, the time."""

    run: Run
    step: PlannedStep
    state: StepState
    args: dict[str, Any]
    now: datetime
    attempt: int
    idempotency_key: str  # stable for this step attempt: "<run>:<step>:<attempt>"
    deps: StepDeps = field(default_factory=StepDeps)


@runtime_checkable
class StepExecutor(Protocol):
    kind: StepKind

    async def execute(self, ctx: StepContext) -> Outcome: ...

    async def verify(self, ctx: StepContext) -> Outcome | None: ...


class ExecutorRegistry:
    """Executors by step kind; a kind without an executor fails its steps with a clear error."""

    def __init__(self, executors: list[StepExecutor] | None = None) -> None:
        self._by_kind: dict[StepKind, StepExecutor] = {}
        for executor in executors or []:
            self.register(executor)

    def register(self, executor: StepExecutor) -> None:
        self._by_kind[executor.kind] = executor

    def get(self, kind: StepKind) -> StepExecutor | None:
        return self._by_kind.get(kind)

    def kinds(self) -> set[StepKind]:
        return set(self._by_kind)
