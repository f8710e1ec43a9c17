"""The release gate on `deploy` evidence: which release the deploy system says each node runs.

The step (`kind: webhook, with: {action: verify-version, version: ...}`, planned by
workflows/release_gate.py) trusts, per target node, in this order:

1. what the deploy system answered to an earlier `deploy` of this run: `installed: {node: release}`
   in its response (the latest deploy answer naming the node);
2. else a signed `verify-version` call to the same endpoint, for the nodes still unknown, whose
   answer carries the same `installed` map.

Every target must run the release (a leading 'v' aside). A node the deploy system does not
report fails the step naming the node and what to fix; nothing passes without a report. The result
carries `evidence = {source: deploy, label, by: "deploy system", value: {node: release}}` and,
per node, where its release came from.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from workflows.model import Outcome, OutcomeFailed, OutcomeSucceeded, StepStatus
from workflows.release_gate import VERIFY_VERSION
from workflows.step_models import StepKind
from workflows.steps.base import StepContext
from workflows.steps.checks import same_version

__all__ = ["Ask", "NoAnswer", "reported_by_deploys", "verify_release"]


class NoAnswer(Exception):
    """The deploy endpoint gave no usable answer (unreachable, 5xx, timeout)."""


Ask = Callable[[list[str]], Awaitable[tuple[int, Any]]]
"""Send `verify-version` for these nodes; (HTTP status, decoded reply), or raise NoAnswer."""


def reported_by_deploys(ctx: StepContext) -> dict[str, tuple[str, str]]:
    """node -> (release, step id) from the run's earlier successful deploy answers, latest wins."""
    found: dict[str, tuple[str, str]] = {}
    for step, state in zip(ctx.run.plan, ctx.run.steps, strict=True):
        if step.id == ctx.step.id:
            break
        if (
            step.kind is not StepKind.WEBHOOK
            or step.with_.get("action") != "deploy"
            or state.status is not StepStatus.SUCCEEDED
            or not isinstance(state.result, dict)
        ):
            continue
        for node, release in _installed(state.result.get("response")).items():
            found[node] = (release, step.id)
    return found


def _installed(reply: Any) -> dict[str, str]:
    installed = reply.get("installed") if isinstance(reply, dict) else None
    if not isinstance(installed, dict):
        return {}
    return {
        str(node): str(release)
        for node, release in installed.items()
        if isinstance(release, str | int) and not isinstance(release, bool)
    }


async def verify_release(ctx: StepContext, ask: Ask) -> Outcome:
    """Judge every target node's installed release on the deploy system's word."""
    expected = ctx.args.get("version")
    if not isinstance(expected, str) or not expected:
        return OutcomeFailed(error=f"step {ctx.step.id}: a version check needs 'version'")
    targets = list(ctx.step.targets)
    if not targets:  # nothing to judge is no evidence, never a pass
        return OutcomeFailed(error=f"step {ctx.step.id} has no target nodes")
    known = {n: v for n, v in reported_by_deploys(ctx).items() if n in targets}
    missing = [node for node in targets if node not in known]
    if missing:
        try:
            status, reply = await ask(missing)
        except NoAnswer as exc:
            return OutcomeFailed(
                error=f"the deploy system did not answer {VERIFY_VERSION} for "
                f"{', '.join(missing)} ({exc})",
                transient=True,
            )
        if not 200 <= status < 300:
            return OutcomeFailed(
                error=f"the deploy system refused {VERIFY_VERSION} with HTTP {status}: "
                f"{_short(reply)}",
                result={"status": status, "response": reply},
            )
        for node, release in _installed(reply).items():
            if node in missing:
                known[node] = (release, VERIFY_VERSION)
    nodes = {node: {"version": v, "from": source} for node, (v, source) in known.items()}
    problems: dict[str, str] = {}
    for node in targets:
        if node not in known:
            problems[node] = (
                "the deploy system did not report its installed release (its answers have no "
                f"installed.{node}: see the deploy webhook contract, or set "
                "evidence.release: person)"
            )
        elif not same_version(known[node][0], expected):
            problems[node] = f"the deploy system reports {known[node][0]} installed, not {expected}"
    marker = ctx.args.get("evidence")
    evidence = {
        **(marker if isinstance(marker, dict) else {"source": "deploy"}),
        "by": "deploy system",
        "value": {node: v for node, (v, _) in known.items()},
    }
    result: dict[str, Any] = {"action": VERIFY_VERSION, "nodes": nodes, "evidence": evidence}
    if problems:
        result["problems"] = problems
        lines = "; ".join(f"{node}: {text}" for node, text in problems.items())
        return OutcomeFailed(
            error=f"{len(problems)} of {len(targets)} node(s) failed: {lines}", result=result
        )
    sources = sorted({source for _, source in known.values()})
    evidence["summary"] = (
        f"deploy system reports {expected} on {', '.join(targets)} ({', '.join(sources)})"
    )
    return OutcomeSucceeded(result=result, note=evidence["summary"])


def _short(reply: Any) -> str:
    if isinstance(reply, dict) and "error" in reply:
        return str(reply["error"])[:300]
    return str(reply)[:300]
