"""Who a message in a run's thread mentions: the people who can act on it (pure).

- An approval or skip request (and its reminder) mentions the members of the approving groups,
  never someone the policy bars from approving (the initiator, the one who asked for the skip,
  unless the policy allows the initiator), nor anyone who approved already.
- A confirmation request mentions the step's responders, or the run's operators (the groups that
  may operate its workflow) when the step names none.
- A run that is blocked or halted (a failed step, an expired request, paused by a freeze) mentions
  its operators, and an incident's commander.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from workflows.machine import Notify
from workflows.model import Run

__all__ = ["mentioned"]

_APPROVALS = {"approval_requested", "approval_reminder", "skip_requested"}
_HALTS = {"run_blocked", "step_failed", "approval_expired", "run_held"}


def mentioned(
    run: Run,
    note: Notify,
    groups: Mapping[str, Collection[str]],
    operate_groups: Collection[str],
) -> set[str]:
    """The Slack user ids ``note`` mentions, given the config's groups and the groups that may
    operate the run's workflow."""

    def members(names: Collection[str]) -> set[str]:
        return {u for g in names for u in groups.get(g, ())}

    found = set(note.users)
    if note.kind in _APPROVALS:
        found |= members(note.groups)
        found -= _barred(run, note)
    elif note.kind == "confirmation_requested":
        found |= members(note.groups or operate_groups)
    elif note.kind in _HALTS:
        found |= members(note.groups) | members(operate_groups)
        if run.category == "incident":
            found.add(run.commander or run.initiator)
    else:
        found |= members(note.groups)
    return found


def _barred(run: Run, note: Notify) -> set[str]:
    """Who may not give the approval the note asks for."""
    index = run.index_of(note.step_id) if note.step_id else None
    request = run.steps[index].approval if index is not None else None
    if request is None:
        return {run.initiator}  # the request is settled already; never mention the initiator
    barred = {v.user for v in request.votes if v.decision == "approve"}
    if request.requested_by:
        barred.add(request.requested_by)
    if not request.policy.allow_initiator:
        barred.add(run.initiator)
    return barred
