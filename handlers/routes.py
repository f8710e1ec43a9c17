"""Every listener, registered on one app."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, home, modals, usergroups
from handlers.context import HandlerContext

__all__ = ["register_handlers"]


def register_handlers(app: AsyncApp, ctx: HandlerContext) -> None:
    commands.register(app, ctx)
    actions.register(app, ctx)
    modals.register(app, ctx)
    home.register(app, ctx)
    usergroups.register(app, ctx)
