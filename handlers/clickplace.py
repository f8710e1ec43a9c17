"""Where a click may come from: a button that acts on a run is accepted only from the channel
where the run's card (and the requests in its thread) lives, which for an incident is its
incident channel, or from the clicker's own App Home (the pending approvals the bot published
there). A press from anywhere else (a copied message, a stale card in another channel) is
refused, audited on the run, and changes nothing.
"""

from __future__ import annotations

from typing import Any

from handlers.context import HandlerContext
from workflows.errors import NotAuthorized
from workflows.model import Run

__all__ = ["check_click_place", "from_app_home"]


def from_app_home(body: dict[str, Any]) -> bool:
    """A click on a view the bot published (App Home): it has no channel of its own."""
    container = body.get("container") or {}
    return isinstance(container, dict) and container.get("type") == "view"


async def check_click_place(
    ctx: HandlerContext, run_id: str, user: str, channel: str | None, body: dict[str, Any],
    step_id: str | None = None,
) -> Run | None:
    """Refuse (and audit) a click on ``run_id`` that did not come from where the run lives.
    The run read to tell (so the click need not read it again); None: from App Home, not read.
    The card's channel is looked up only for a click outside the run's own channel."""
    if channel is None and from_app_home(body):
        return None
    run = await ctx.service.get(run_id)
    if channel is not None and channel == run.channel:
        return run
    card = await ctx.service.card_of(run_id)
    places = {place for place in (card[0] if card else None, run.channel) if place}
    if channel is not None and channel in places:
        return run
    where = f"<#{card[0]}>" if card else (f"<#{run.channel}>" if run.channel else "its card")
    reason = (f"this button belongs to run {run.id}, whose card is in {where}: press it there "
              "(nothing was changed)")
    await ctx.service.audit_refused_click(run_id, user, step_id, reason, channel or "")
    raise NotAuthorized(reason)
