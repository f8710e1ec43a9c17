"""Small real implementations of the service's protocols, for tests and benchmarks that run the
engine without a bot config: a fixed inventory and fixed groups, plus a recording executor."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from workflows.model import Outcome, OutcomeSucceeded
from workflows.step_models import StepKind
from workflows.steps.base import StepContext

__all__ = ["RecordingExecutor", "StaticAuthority", "StaticInventory"]


@dataclass
class StaticInventory:
    """environments -> ordered (name, role, canary) tuples; waves by percent of the node count."""

    nodes: dict[str, list[tuple[str, str, bool]]] = field(default_factory=dict)
    wave_percents: tuple[int, ...] = (10, 50, 100)

    def has_environment(self, environment: str) -> bool:
        return environment in self.nodes

    def select(self, environment: str, select: str) -> list[str]:
        found = self.nodes.get(environment, [])
        if select == "all":
            return [n for n, _, _ in found]
        if select == "canary":
            return [n for n, _, c in found if c]
        if select == "non-canary":
            return [n for n, _, c in found if not c]
        if select == "first":
            return [n for n, _, _ in found[:1]]
        if select.startswith("role:"):
            return [n for n, r, _ in found if r == select.removeprefix("role:")]
        return []

    def waves(self, environment: str) -> list[tuple[int, list[str]]]:
        names = self.select(environment, "all")
        waves: list[tuple[int, list[str]]] = []
        done = 0
        for percent in self.wave_percents:
            upto = max(done + 1, -(-len(names) * percent // 100)) if names else 0
            upto = min(upto, len(names))
            if upto > done:
                waves.append((percent, names[done:upto]))
                done = upto
        return waves


@dataclass
class StaticAuthority:
    groups: dict[str, set[str]] = field(default_factory=dict)
    starters: set[str] = field(default_factory=set)  # group names that may start anything
    operators: set[str] = field(default_factory=lambda: {"operators"})

    def groups_of(self, user: str) -> list[str]:
        return sorted(g for g, members in self.groups.items() if user in members)

    def may_start(self, user: str, workflow: str) -> bool:
        return bool(set(self.groups_of(user)) & (self.starters or set(self.groups)))

    def may_operate(self, user: str, workflow: str) -> bool:
        return bool(set(self.groups_of(user)) & self.operators)


class RecordingExecutor:
    """Counts every execution per (run, step, attempt); optionally slow, to be killed mid-step."""

    def __init__(self, kind: StepKind = StepKind.RPC, delay: float = 0.0) -> None:
        self.kind = kind
        self.delay = delay
        self.executions: Counter[tuple[str, str]] = Counter()

    async def execute(self, ctx: StepContext) -> Outcome:
        self.executions[(ctx.run.id, ctx.step.id)] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return OutcomeSucceeded(result={"attempt": ctx.attempt})

    async def verify(self, ctx: StepContext) -> Outcome | None:
        return None
