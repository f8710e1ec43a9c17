"""Which workflow gates a node cannot feed, from its probed capabilities (bot/nodes/capabilities).

For every step of every workflow definition that needs a node fact, and every environment the
step can run in, the environment's configured evidence source must be one the node can feed:

- a release gate (``action: version``) with ``evidence.release: rpc`` needs a node whose
  ``getinfo.version`` is a release string (parthenond's is the constant 100);
- a validation-error gate (``kind: evidence``, ``fact: validation_errors``) with
  ``evidence.validation_errors: metric`` needs the named counter on the node's ``/metrics``
  (parthenond exports none);
- a health gate (``kind: health``) needs the ``/health`` fields every gate reads.

Each problem names the workflow, the step (the gate), the environment, the nodes and the fix.
Pure: the probing is done by the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from bot.config import BotConfig
from bot.nodes import NodeClient, RetryPolicy, Timeouts
from bot.nodes.capabilities import (
    HEALTH_FIELDS_NEEDED,
    NodeCapabilities,
    VersionKind,
    probe_all,
)
from workflows.definition import Definition
from workflows.evidence_sources import ReleaseSource, ValidationErrorsSource
from workflows.step_models import StepDef, StepKind

__all__ = [
    "GateProblem",
    "capability_problems",
    "gate_environments",
    "log_capabilities",
    "probe_config",
]

log = logging.getLogger("parthenon.capabilities")


@dataclass(frozen=True)
class GateProblem:
    subject: str  # "workflow promote, step regtest-version"
    message: str
    code: str

    def text(self) -> str:
        return f"{self.subject}: {self.message}"


def gate_environments(config: BotConfig, definition: Definition, step: StepDef) -> list[str]:
    """The configured environments the step can act in."""
    if step.targets is not None and step.targets.environment:
        fixed: str | None = step.targets.environment
    else:
        fixed = definition.fixed_environment
    if fixed is not None:
        return [fixed] if fixed in config.environments else []
    param = definition.parameter(definition.environment_param or "")
    if param is not None and param.choices:
        return [name for name in param.choices if name in config.environments]
    return list(config.environments)


def capability_problems(
    config: BotConfig,
    definitions: Mapping[str, Definition],
    caps: Sequence[NodeCapabilities],
) -> list[GateProblem]:
    """One problem per (workflow step, environment) whose evidence the nodes cannot feed."""
    by_env: dict[str, list[NodeCapabilities]] = {}
    for cap in caps:
        if cap.reachable:  # an unreachable node is reported by the node check itself
            by_env.setdefault(cap.environment, []).append(cap)
    problems: list[GateProblem] = []
    for name, definition in sorted(definitions.items()):
        for step_id, step in definition.flat_steps():
            for env_name in gate_environments(config, definition, step):
                found = _problem(config, env_name, step, by_env.get(env_name, []))
                if found is not None:
                    message, code = found
                    subject = f"workflow {name}, step {step_id} ({step.title})"
                    problems.append(GateProblem(subject, message, code))
    return problems


def _problem(
    config: BotConfig, env_name: str, step: StepDef, caps: list[NodeCapabilities]
) -> tuple[str, str] | None:
    evidence = config.environments[env_name].evidence
    where = f"environments.{env_name}.evidence"
    if step.with_.get("action") == "version" and evidence.release.source is ReleaseSource.RPC:
        bad = [c for c in caps if c.version_kind is not VersionKind.RELEASE]
        if bad:
            seen = ", ".join(f"{c.node} ({c.version_text()})" for c in bad)
            fix = ("deploy" if config.environments[env_name].deploy_webhook is not None
                   else "person (or deploy, with a deploy_webhook)")
            return (
                f"environment {env_name}: evidence.release is rpc, but getinfo.version is not a "
                f"release on {seen}; the node cannot say which release it runs. Fix: set "
                f"{where}.release.source to {fix}", "evidence_unfed")
    if (step.kind is StepKind.EVIDENCE and step.with_.get("fact") == "validation_errors"
            and evidence.validation_errors.source is ValidationErrorsSource.METRIC):
        metric = evidence.validation_errors.metric or ""
        bad = [c for c in caps if metric not in (c.metric_families or ())]
        if bad:
            nodes = ", ".join(c.node for c in bad)
            return (
                f"environment {env_name}: evidence.validation_errors is metric {metric}, but "
                f"/metrics of {nodes} has no such family (parthenond exports none). Fix: set "
                f"{where}.validation_errors.source to person (the operators read the logs), "
                "deploy, prometheus (with a query) or none", "evidence_unfed")
    if step.kind is StepKind.HEALTH:
        bad = [c for c in caps
               if not set(HEALTH_FIELDS_NEEDED) <= set(c.health_fields or ())]
        if bad:
            missing = {c.node: sorted(set(HEALTH_FIELDS_NEEDED) - set(c.health_fields or ()))
                       for c in bad}
            said = "; ".join(f"{n} lacks {', '.join(m)}" for n, m in missing.items())
            return (
                f"environment {env_name}: the health gate reads /health "
                f"{', '.join(HEALTH_FIELDS_NEEDED)}, but {said}. Fix: point the nodes' rpc_url "
                "at the node daemon (its /health has them)", "health_unfed")
    return None


async def probe_config(
    config: BotConfig, seconds: float, *, refused: Collection[str] = ()
) -> list[NodeCapabilities]:
    """Probe every node of the config once (check-config: one getinfo POST per node); the
    nodes in `refused` (on the wrong chain) are sent nothing."""
    timeouts = Timeouts(call=seconds, connect=min(seconds, 3.0), health=seconds)
    async with NodeClient(timeouts=timeouts, retry=RetryPolicy(attempts=1)) as client:
        pairs = [(env, node) for env in config.environments.values() for node in env.nodes]
        return await probe_all(client, pairs, refused=refused)


async def log_capabilities(
    config: BotConfig, definitions: Mapping[str, Definition], client: NodeClient,
    *, refused: Collection[str] = (),
) -> list[NodeCapabilities]:
    """`serve` at start: probe every node once (within the client's POST budget; a node the
    network guard refuses is not probed), log one structured line per node and a warning per
    gate its evidence source cannot be fed by."""
    pairs = [(env, node) for env in config.environments.values() for node in env.nodes]
    caps = await probe_all(client, pairs, refused=refused)
    for cap in caps:
        health = ", ".join(cap.health_fields) if cap.health_fields is not None else "unreadable"
        families = (f"{len(cap.metric_families)} families" if cap.metric_families is not None
                    else "unreadable")
        problems = f"; could not probe: {'; '.join(cap.problems)}" if cap.problems else ""
        log.info("node %s (%s) capabilities: getinfo.version %s; /health %s; /metrics %s%s",
                 cap.node, cap.environment, cap.version_text(), health, families, problems,
                 extra={"event": "node_capabilities", **cap.as_log()})
    for problem in capability_problems(config, definitions, caps):
        log.warning("gate cannot be fed: %s", problem.text(),
                    extra={"event": "gate_unfed", "code": problem.code})
    return caps
