"""`subteam_members_changed`: a Slack user group a config group follows changed its members."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from handlers.context import HandlerContext

__all__ = ["register"]


def register(app: AsyncApp, ctx: HandlerContext) -> None:
    @app.event("subteam_members_changed")
    async def on_members_changed(ack: AsyncAck, event: dict[str, Any]) -> None:
        await ack()
        subteam = event.get("subteam_id")
        if isinstance(subteam, str):
            ctx.usergroups_changed(subteam)  # read again by bot.usergroups, after the ack
