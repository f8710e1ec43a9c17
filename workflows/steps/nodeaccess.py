"""How the node-facing executors (rpc, health, webhook) reach the node layer from a step.

The engine hands every executor the same step dependencies; this module takes the config, the
node client and the network guard from them, resolves a step's target names into configured nodes,
and runs the guard over them before anything is sent. A guard refusal is reported with the
node's name, what it reports and what its environment expects.

`workflows.nodelook` (the one look `/parthenon health` takes, through `bot.nodes.look`) reaches
the nodes the same way: a `NodeAccess` over the node port, `guard_nodes` before anything is sent.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from workflows.errors import WorkflowError
from workflows.nodeerrors import NetworkMismatch, NodeError
from workflows.ports import ConfigProblem, ConfigView, EnvironmentView, NodePort, NodeRef
from workflows.steps.base import StepContext

__all__ = [
    "GuardReport",
    "NodeAccess",
    "StepSetupError",
    "guard_nodes",
    "step_config",
    "step_environment",
    "wait_until_up",
]


class StepSetupError(WorkflowError):
    """The bot cannot run a node step at all (a wiring or config problem, not a node failure)."""

    code = "step_setup"


def step_config(ctx: StepContext) -> ConfigView:
    """The config a step acts under (environments, webhooks, evidence), from its dependencies."""
    if ctx.deps.config is None:
        raise StepSetupError("this bot has no config wired into its step dependencies")
    return ctx.deps.config


def step_environment(config: ConfigView, ctx: StepContext) -> EnvironmentView:
    """The configured environment the step acts in (its own, else the run's)."""
    name = ctx.step.environment or ctx.run.environment
    if name is None:
        raise StepSetupError(f"step {ctx.step.id} has no environment to act in")
    try:
        return config.environment(name)
    except ConfigProblem as exc:
        raise StepSetupError(f"step {ctx.step.id}: {exc.message}") from None


@dataclass(frozen=True)
class NodeAccess:
    """The node layer as one step sees it: the config's nodes, reached through the node port
    (its client calls and its guard checks)."""

    config: ConfigView
    nodes: NodePort

    @property
    def client(self) -> NodePort:
        return self.nodes

    @property
    def guard(self) -> NodePort:
        return self.nodes

    @classmethod
    def of(cls, ctx: StepContext) -> NodeAccess:
        deps = ctx.deps
        if deps.config is None:
            raise StepSetupError("this bot has no config wired into its step dependencies")
        if deps.nodes is None:
            raise StepSetupError("this bot has no node client and guard wired into its step "
                                 "dependencies")
        return cls(deps.config, deps.nodes)

    def environment(self, ctx: StepContext) -> EnvironmentView:
        return step_environment(self.config, ctx)

    def targets(self, ctx: StepContext) -> list[NodeRef]:
        """The step's planned target names as configured nodes (the plan fixed the names)."""
        nodes = []
        for name in ctx.step.targets:
            try:
                nodes.append(self.config.node(name))
            except ConfigProblem:
                raise StepSetupError(
                    f"step {ctx.step.id}: node {name} is no longer in the configuration; "
                    "start a new run"
                ) from None
        if not nodes:
            raise StepSetupError(f"step {ctx.step.id} has no target nodes")
        return nodes


@dataclass
class GuardReport:
    """What the guard found for each target: refused (wrong network) or not checkable."""

    mismatched: dict[str, str] = field(default_factory=dict)
    unverified: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.mismatched and not self.unverified

    @property
    def transient(self) -> bool:
        """Only unreachable-type failures: worth trying again; a mismatch never is."""
        return not self.mismatched

    def error(self) -> str:
        parts = [f"refused: {text}" for text in self.mismatched.values()]
        parts += [
            f"cannot verify node {name}'s network, so nothing was sent to it: {text}"
            for name, text in self.unverified.items()
        ]
        return "; ".join(parts)

    def as_result(self) -> dict[str, Any]:
        return {"refused": dict(self.mismatched), "unverified": dict(self.unverified)}


async def guard_nodes(
    access: NodeAccess, nodes: list[NodeRef], environment: EnvironmentView,
    *, limit: int = 32,
) -> GuardReport:
    """Check every node's genesis against its environment (the guard caches passes)."""
    report = GuardReport()
    semaphore = asyncio.Semaphore(limit)

    async def one(node: NodeRef) -> None:
        async with semaphore:
            try:
                await access.guard.check(node, environment)
            except NetworkMismatch as exc:
                report.mismatched[node.name] = (
                    f"node {node.name} reports genesis {exc.reported} but environment "
                    f"{environment.name} ({environment.network}) expects {exc.expected}; "
                    "nothing more is sent to it"
                )
            except NodeError as exc:
                report.unverified[node.name] = exc.message

    await asyncio.gather(*(one(node) for node in nodes))
    return report


async def wait_until_up(
    access: NodeAccess, nodes: list[NodeRef], within: float, *, poll: float = 0.25
) -> list[str]:
    """Poll ``/health`` (GET: no RPC budget) until every node says ok or ``within`` seconds
    pass; returns the nodes still not up. Used after a start or restart, before acting.
    A node the guard has refused is not asked anything (the guard reports it next)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    refused = await access.guard.refused(node.name for node in nodes)
    waiting = [node for node in nodes if node.name not in refused]
    while waiting:
        up: list[str] = []
        for node in waiting:
            try:
                health = await access.client.health(node, retry=False)
            except NodeError:
                continue
            if health.ok:
                up.append(node.name)
        waiting = [node for node in waiting if node.name not in up]
        if not waiting or loop.time() >= deadline:
            break
        await asyncio.sleep(min(poll, max(0.0, deadline - loop.time())))
    return [node.name for node in waiting]
