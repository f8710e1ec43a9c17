"""What the ops channel is told about the promotion freeze (pure): who froze or lifted it, why,
where, and which running promotions it paused, resumed, or left paused."""

from __future__ import annotations

from collections.abc import Collection

from bot.slack.escape import code, inline, mention, trusted_mentions
from bot.slack.views._blocks import Message, section
from workflows.announcements import Announcement

__all__ = ["freeze_announcement"]

_BOT = "parthenon-bot"


def _runs(ids: list[str]) -> str:
    return ", ".join(code(r, 40) for r in ids[:30]) + (" …" if len(ids) > 30 else "")


def _who(actor: str) -> str:
    return "the bot" if actor == _BOT else mention(actor)


def freeze_announcement(item: Announcement, people: Collection[str] = ()) -> Message:
    where = inline(item.scope, 80)
    why = trusted_mentions(item.reason, people, 800) if item.reason else ""
    lines: list[str]
    if item.kind == "freeze_lifted":
        lines = [f":sunny: *The promotion freeze on {where} is lifted* by {_who(item.actor)}"
                 + (f" ({why})" if why else "") + "."]
        if item.resumed:
            lines.append(f"Resumed: {_runs(item.resumed)}.")
        if item.still_paused:
            lines.append(f"Still paused (paused by hand; `/parthenon resume <run-id>`): "
                         f"{_runs(item.still_paused)}.")
        text = f"The promotion freeze on {item.scope} is lifted"
    else:
        lead = ("Promotions were already frozen" if item.kind == "freeze_already_on"
                else "Promotions are frozen")
        lines = [f":ice_cube: *{lead} on {where}* by {_who(item.actor)}: {why}"]
        if item.held:
            lines.append(f"Running promotions that pause before their next write step (a step "
                         f"in flight finishes first): {_runs(item.held)}.")
        else:
            lines.append("No running promotion writes there.")
        lines.append("New promotions there are refused until `/parthenon unfreeze`"
                     + (" or the incident ends." if item.run_id else "."))
        text = f"{lead} on {item.scope}"
    return Message(text=text, blocks=[section("\n".join(lines))])
