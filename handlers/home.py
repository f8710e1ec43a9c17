"""App Home: on `app_home_opened`, ack, then build the viewer's view from Redis and publish it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.slack.apifailure import AFTER_ACK_FAILURES, slack_failure
from bot.slack.escape import code
from bot.slack.views import HomeItem, home_view, notice
from bot.slack.views.home import RefusedNode
from handlers.context import HandlerContext
from handlers.replies import tell
from workflows.nodeerrors import NodeError

__all__ = ["publish_home", "register"]


def register(app: AsyncApp, ctx: HandlerContext) -> None:
    @app.event("app_home_opened")
    async def on_home(ack: AsyncAck, event: dict[str, Any]) -> None:
        await ack()
        user = str(event.get("user") or "")
        if event.get("tab", "home") == "home" and user:
            ctx.deferred.spawn(publish_home(ctx, user), f"home:{user}")


async def build_home(ctx: HandlerContext, user: str) -> dict[str, Any]:
    service = ctx.service
    active = await service.active_runs()  # read once: the pending requests are among them
    pending = [HomeItem(p.run, p.step, p.kind) for p in await service.pending_for(user, active)]
    recent = await service.recent_runs(20)
    now = service.now()
    drills = await ctx.drills.schedule(now) if ctx.drills is not None else []
    return home_view(ctx.viewer(user), pending, active, recent, drills, now,
                     refused=await refused_nodes(ctx))


async def refused_nodes(ctx: HandlerContext) -> list[RefusedNode]:
    """The nodes the network guard refuses, from Redis (no node is asked anything)."""
    names = [node.name for env in ctx.config.environments.values() for node in env.nodes]
    try:
        refused = await ctx.guard.refused(names)
    except NodeError as exc:  # Redis away: the home still shows the rest
        ctx.log.warning("refused nodes not shown on App Home: %s", exc.message)
        return []
    return [RefusedNode(name, ctx.config.environment_of(name).name, error.message)
            for name, error in refused.items()]


async def publish_home(ctx: HandlerContext, user: str) -> None:
    view = await build_home(ctx, user)
    try:
        await ctx.client.views_publish(user_id=user, view=view)
    except AFTER_ACK_FAILURES as exc:
        why = slack_failure(exc)
        ctx.log.warning("views.publish for %s failed: %s", user, why)
        text = (f":warning: Your App Home could not be updated (Slack answered {code(why, 80)}); "
                "open it again, or press Refresh, in a moment.")
        await tell(ctx.client, notice(text), user=user)
