"""`/parthenon release-node NODE`: an operator of the node's environment releases a node the
network guard refused, after the guard has asked its genesis again (bot/noderelease.py).

The permission and the node name are checked before the ack (a refusal is the ack's answer);
the genesis is asked after it, and the outcome is told to the person who asked.
"""

from __future__ import annotations

from bot.noderelease import ReleaseNotPermitted, check_may_release, release_node
from bot.nodes import ReleaseRefused
from bot.slack.errors import NotPermitted
from bot.slack.escape import code, inline
from bot.slack.views import Message, notice
from handlers.context import HandlerContext
from handlers.payloads import CommandPayload
from handlers.replies import tell
from workflows.nodeerrors import NodeError

__all__ = ["answer_release"]


def answer_release(ctx: HandlerContext, p: CommandPayload, node: str) -> Message:
    """The ack's answer; the release itself runs after the ack."""
    try:
        environment = check_may_release(ctx.config, p.user_id, node)  # ConfigError if unknown
    except ReleaseNotPermitted as exc:
        raise NotPermitted(exc.message) from None
    ctx.deferred.spawn(_release(ctx, p, node), f"release-node:{node}")
    return notice(f":mag: Asking node {code(node, 70)} ({code(environment.name, 60)}) for its "
                  "genesis before releasing it…")


async def _release(ctx: HandlerContext, p: CommandPayload, node: str) -> None:
    try:
        outcome = await release_node(ctx.config, ctx.guard, node, user=p.user_id)
    except ReleaseNotPermitted as exc:  # the config cannot change in between; kept for safety
        text = f":no_entry_sign: {inline(exc.message, 500)}"
    except ReleaseRefused as exc:
        text = f":no_entry: Node {code(node, 70)} is not released: it {inline(exc.message, 700)}"
    except NodeError as exc:
        text = (f":warning: Node {code(node, 70)} is not released: its genesis could not be read "
                f"({inline(exc.message, 500)}). Try again once it answers.")
    else:
        icon = ":unlock:" if outcome.released else ":information_source:"
        text = f"{icon} {inline(outcome.message[0].upper() + outcome.message[1:], 600)}."
    await tell(ctx.client, notice(text), user=p.user_id, channel=p.channel_id,
               response_url=p.response_url)
