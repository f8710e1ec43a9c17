"""One look at an environment's nodes, judged exactly as a one-look health gate judges them.

`/parthenon health` (and anything else that shows whether a node is "ok") comes here, and the
``health`` step uses the same parts: the network guard over the nodes (`guard_nodes`: a node
refused by any replica is not asked anything; one on the wrong chain is refused now; one whose
genesis cannot be read is not ok), one ``GET /health`` per node (`HealthSampler`), and
`evaluate` with the gate's one-look conditions for the environment (`conditions_for(env,
window=False)`: status ok, peers >= min_peers, not syncing, tip within max_tip_lag of the
highest). A node is ok only if a gate over the same nodes would pass it.

One look cannot see a tip advancing (that takes a window); a node whose tip stalled while the
others go on shows as lagging once it is more than max_tip_lag blocks behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from workflows.healthgate import HealthConditions, HealthSample, HealthSampler, evaluate
from workflows.nodereplies import NodeHealth
from workflows.ports import EnvironmentView, NodeRef
from workflows.steps.health import conditions_for
from workflows.steps.nodeaccess import NodeAccess, guard_nodes

__all__ = ["EnvironmentLook", "NodeLook", "NodeState", "judge_look", "look"]


class NodeState(StrEnum):
    OK = "ok"
    FAILING = "failing"  # answers, but a gate condition fails (or it does not answer)
    REFUSED = "refused"  # on the wrong chain: the network guard sends it nothing


@dataclass(frozen=True)
class NodeLook:
    node: str
    state: NodeState
    health: NodeHealth | None
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.state is NodeState.OK


@dataclass(frozen=True)
class EnvironmentLook:
    environment: str
    nodes: tuple[NodeLook, ...]

    @property
    def ok_count(self) -> int:
        return sum(1 for node in self.nodes if node.ok)


def judge_look(
    names: Sequence[str],
    samples: Sequence[HealthSample],
    conditions: HealthConditions,
    *,
    refused: Mapping[str, str],
    unverified: Mapping[str, str],
) -> tuple[NodeLook, ...]:
    """Pure: each node's state from the guard's findings and one sample of the others."""
    judged = [name for name in names if name not in refused]
    gate = evaluate(samples, conditions, targets=judged)
    verdicts = {verdict.node: verdict for verdict in gate.nodes}
    health = {sample.node: sample.health for sample in samples}
    looks: list[NodeLook] = []
    for name in names:
        if name in refused:
            looks.append(NodeLook(name, NodeState.REFUSED, None, (refused[name],)))
            continue
        reasons: list[str] = []
        if name in unverified:
            reasons.append(f"its network cannot be verified: {unverified[name]}")
        reasons += [failure.reason for failure in verdicts[name].failures]
        state = NodeState.FAILING if reasons else NodeState.OK
        looks.append(NodeLook(name, state, health.get(name), tuple(reasons)))
    return tuple(looks)


async def look(
    access: NodeAccess, environment: EnvironmentView, nodes: Sequence[NodeRef]
) -> EnvironmentLook:
    """Guard, sample and judge `nodes` of `environment` once, as a one-look gate would."""
    report = await guard_nodes(access, list(nodes), environment)
    sampled = [node for node in nodes if node.name not in report.mismatched]
    samples = await HealthSampler(access.client).sample(sampled)
    looks = judge_look(
        [node.name for node in nodes], samples, conditions_for(environment, False),
        refused=report.mismatched, unverified=report.unverified,
    )
    return EnvironmentLook(environment.name, looks)
