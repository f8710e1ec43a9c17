"""`/parthenon health <environment>`: every node judged as the health gates judge it.

The answer comes from `bot.nodes.look.look_at_environment` (over `workflows.nodelook.look`),
the same guard, sampler, conditions and evaluation a one-look ``health`` gate uses: a node is ok
here only if such a gate passes it. A node the network guard refused (in Redis, by any replica)
is shown as refused and not asked.
"""

from __future__ import annotations

from bot.nodes.look import look_at_environment
from bot.slack.views import NodeRow, health_table
from handlers.context import HandlerContext
from handlers.payloads import CommandPayload
from handlers.replies import tell
from workflows.nodelook import EnvironmentLook, NodeLook

__all__ = ["health_report", "health_rows"]


def health_rows(seen: EnvironmentLook) -> list[NodeRow]:
    return [_row(node) for node in seen.nodes]


def _row(node: NodeLook) -> NodeRow:
    health = node.health
    return NodeRow(
        node.node,
        status=node.state.value,
        height=health.best_height if health else None,
        peers=health.peer_count if health else None,
        syncing=health.syncing if health else None,
        reasons=node.reasons,
    )


async def health_report(ctx: HandlerContext, p: CommandPayload, environment: str) -> None:
    env = ctx.config.environment(environment)
    seen = await look_at_environment(ctx.config, ctx.nodes, ctx.guard, env)
    source = (
        f"Judged as a health gate judges, in one look: on the {env.network} chain (genesis), "
        f"/health status ok, at least {env.min_peers} peer(s), not syncing, tip within "
        f"{env.max_tip_lag} block(s) of the highest. A refused node is not asked anything; "
        "`/parthenon release-node <node>` releases it once it is fixed."
    )
    await tell(ctx.client, health_table(environment, health_rows(seen), source=source),
               user=p.user_id, channel=p.channel_id, response_url=p.response_url)
