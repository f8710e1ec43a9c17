"""The ephemeral answers to `/parthenon freeze` and `unfreeze` (the ops channel is told too, by
the notifier: ``bot.slack.views.freeze``)."""

from __future__ import annotations

from bot.slack.escape import code, inline, mention
from workflows.freezer import FreezeResult, LiftResult
from workflows.freezes import Freeze

__all__ = ["freezes_text", "froze_answer", "unfroze_answer"]


def _runs(ids: list[str]) -> str:
    return ", ".join(code(r, 40) for r in ids[:20]) + (" …" if len(ids) > 20 else "")


def froze_answer(result: FreezeResult) -> str:
    where = inline(result.freeze.scope, 80)
    if result.created:
        lead = f":ice_cube: Promotions to {where} are frozen."
    else:
        lead = (f":ice_cube: Promotions to {where} were already frozen by "
                f"{mention(result.freeze.by)}: {inline(result.freeze.reason, 500)}.")
    held = (f" Pausing before their next write step: {_runs(result.held)}."
            if result.held else "")
    return f"{lead}{held} Said in the ops channel; `/parthenon unfreeze` lifts it."


def unfroze_answer(result: LiftResult, environment: str | None) -> str:
    if not result.lifted:
        where = f" on {code(environment, 60)}" if environment else ""
        return f"There was no promotion freeze{where}."
    scopes = ", ".join(sorted({inline(f.scope, 80) for f in result.lifted}))
    lines = [f":sunny: The promotion freeze on {scopes} is lifted."]
    if result.resumed:
        lines.append(f"Resumed: {_runs(result.resumed)}.")
    if result.still_paused:
        lines.append(f"Still paused (paused by hand; resume them yourself): "
                     f"{_runs(result.still_paused)}.")
    return " ".join(lines)


def freezes_text(freezes: list[Freeze]) -> str:
    """The freezes on, for `/parthenon status`: where, by whom, why, until when."""
    lines = []
    for freeze in freezes[:10]:
        until = " (until the incident ends)" if freeze.ends_with_run else ""
        lines.append(f":ice_cube: Promotions to {inline(freeze.scope, 80)} are frozen by "
                     f"{mention(freeze.by)}: {inline(freeze.reason, 300)}{until}")
    return "\n".join(lines)
