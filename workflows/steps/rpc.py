"""The ``rpc`` step: act on nodes through their JSON-RPC, after the network guard.

``with: {action: <name>, ...}`` picks what to do (default ``call``); see docs/workflows.md:

- ``call``: ``method``, ``params``, ``expect`` (assertions on each node's result).
- ``network``: the targets are on their environment's chain (the guard's verdict, recorded).
- ``tip``: height and tip hash per node (capture it before a restart).
- ``continuity``: each node still has the block ``against`` names, and is not lower.
- ``transaction``: a new address, a payment to it, a txid back (write).
- ``auth_refused``: a call without credentials is refused with 401.
- ``version``: every target runs ``version``.
- ``stop``: stop by role in ``order``, each stop verified by looking (write).
- ``lkg``: the last known good height and hash agreed by ``min_agree`` nodes, or the operator's
  ``height``/``hash`` verified against the nodes.

``ready_within: 30s`` (any action) first polls ``/health`` until the targets are up (after a start).
The guard checks every target before any method is sent; one node on the wrong network fails
the step and nothing is sent to any target. Results are ``{nodes: {name: value}, first: value,
...}``; ``capture`` paths are read from ``result``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from workflows.errors import OutcomeUnknown
from workflows.machine import resolve_path
from workflows.model import Outcome, OutcomeFailed, OutcomeSucceeded
from workflows.ports import READ_METHODS
from workflows.step_models import Effect, StepKind
from workflows.steps._rpcactions import (
    ACTIONS,
    READ_ACTIONS,
    ActionInput,
    ActionOutput,
    is_stopped,
    seconds,
)
from workflows.steps.base import StepContext
from workflows.steps.nodeaccess import NodeAccess, StepSetupError, guard_nodes, wait_until_up

__all__ = ["PARTIAL_ACTIONS", "RPC_ACTIONS", "RpcExecutor", "captures_from"]

RPC_ACTIONS = frozenset(ACTIONS)
#: Actions that decide among the nodes that answer: an unreachable node is left out and
#: reported (a node on the wrong network still fails the step).
PARTIAL_ACTIONS = frozenset({"lkg"})
DEFAULT_CONCURRENCY = 16


def captures_from(ctx: StepContext, result: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The step's ``capture`` paths read from its result; names that found nothing, apart."""
    captures: dict[str, Any] = {}
    missing: list[str] = []
    for name, path in ctx.step.capture.items():
        value = resolve_path({"result": result}, path)
        if value is None:
            missing.append(f"{name} ({path})")
        else:
            captures[name] = value
    return captures, missing


class RpcExecutor:
    kind = StepKind.RPC

    def __init__(self, *, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.concurrency = concurrency

    async def execute(self, ctx: StepContext) -> Outcome:
        name = str(ctx.args.get("action", "call"))
        action = ACTIONS.get(name)
        if action is None:
            known = ", ".join(sorted(ACTIONS))
            return OutcomeFailed(error=f"unknown rpc action {name!r} (known: {known})")
        try:
            inp = self._input(ctx)
            ready_within = seconds(ctx.args.get("ready_within"), 0.0)
        except (StepSetupError, ValueError) as exc:
            return OutcomeFailed(error=str(exc))
        if ready_within > 0:  # just started or restarted: give the nodes time to come up
            await wait_until_up(inp.access, inp.nodes, ready_within)
        report = await guard_nodes(inp.access, inp.nodes, inp.environment)
        partial = name in PARTIAL_ACTIONS and not report.mismatched
        if not report.ok and not partial:
            return OutcomeFailed(
                error=report.error(), transient=report.transient,
                result={"action": name, "guard": report.as_result()},
            )
        if report.unverified:  # partial: decide among the nodes that could be checked
            kept = [node for node in inp.nodes if node.name not in report.unverified]
            if not kept:
                return OutcomeFailed(error=report.error(), transient=True,
                                     result={"action": name, "guard": report.as_result()})
            inp = replace(inp, nodes=kept)
        try:
            out = await action(inp)
        except ValueError as exc:
            return OutcomeFailed(error=f"step {ctx.step.id}: {exc}")
        if out.unknown and ctx.step.effect is Effect.WRITE:
            # Not a failure: a retry could pay or stop twice. The engine verifies, or the run is
            # blocked in doubt for a human to look.
            raise OutcomeUnknown(
                "no definite answer to a call with side effects: "
                + "; ".join(f"{node}: {why}" for node, why in out.unknown.items())
            )
        if report.unverified:
            out.extra.setdefault("unreachable", {}).update(report.unverified)
        return self._outcome(ctx, name, inp, out)

    async def verify(self, ctx: StepContext) -> Outcome | None:
        """Looking is safe for read actions; a stop is verified by looking at the nodes; a
        payment or an arbitrary write method cannot be established, so a human decides."""
        name = str(ctx.args.get("action", "call"))
        if name in READ_ACTIONS or (name == "call" and ctx.args.get("method") in READ_METHODS):
            return await self.execute(ctx)
        if name != "stop":
            return None
        try:
            inp = self._input(ctx)
        except (StepSetupError, ValueError):
            return None
        seen = {node.name: await is_stopped(inp, node) for node in inp.nodes}
        running = {n: why for n, (down, why) in seen.items() if not down}
        result = {"action": "stop", "verified": {n: why for n, (_, why) in seen.items()}}
        if running:
            return OutcomeFailed(
                error="after an interrupted stop, still up: "
                + "; ".join(f"{n}: {why}" for n, why in running.items()),
                transient=True, result=result,
            )
        return OutcomeSucceeded(result=result, note="verified after an interruption: all stopped")

    def _input(self, ctx: StepContext) -> ActionInput:
        access = NodeAccess.of(ctx)
        limit = int(ctx.args.get("concurrency", self.concurrency))
        if limit < 1:
            raise ValueError("concurrency must be at least 1")
        return ActionInput(ctx, access, access.environment(ctx), access.targets(ctx), limit)

    def _outcome(
        self, ctx: StepContext, name: str, inp: ActionInput, out: ActionOutput
    ) -> Outcome:
        result: dict[str, Any] = {"action": name, "nodes": out.values, **out.extra}
        first = inp.nodes[0].name
        if first in out.values:
            result["first"] = out.values[first]
        if out.problems and name != "lkg":
            result["problems"] = out.problems
            lines = "; ".join(f"{node}: {text}" for node, text in out.problems.items())
            prefix = f"{len(out.problems)} of {len(inp.nodes)} node(s) failed"
            error = f"{prefix}: {lines}"
            if out.failed:
                error = f"{error}. {out.failed}"
            return OutcomeFailed(error=error, transient=out.transient, result=result)
        if out.failed:
            return OutcomeFailed(error=out.failed, transient=out.transient, result=result)
        captures, missing = captures_from(ctx, result)
        if missing:
            return OutcomeFailed(
                error="nothing to capture for " + ", ".join(missing), result=result
            )
        return OutcomeSucceeded(result=result, captures=captures, note=out.note)
