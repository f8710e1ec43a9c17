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

__all__ = ["everyone", "members_of", "mentioned"]

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
    found = set(note.users)
    if note.kind in _APPROVALS:
        found |= members_of(groups, note.groups)
        found -= _barred(run, note)
    elif note.kind == "confirmation_requested":
        found |= members_of(groups, note.groups or operate_groups)
    elif note.kind in _HALTS:
        found |= members_of(groups, note.groups) | members_of(groups, operate_groups)
        if run.category == "incident":
            found.add(run.commander or run.initiator)
    else:
        found |= members_of(groups, note.groups)
    return found


def members_of(groups: Mapping[str, Collection[str]], names: Collection[str]) -> set[str]:
    """The members of the named groups (a group the config does not define has none)."""
    return {u for g in names for u in groups.get(g, ())}


def everyone(groups: Mapping[str, Collection[str]]) -> frozenset[str]:
    """Everyone in a configured group now (a group may follow a Slack user group): the people
    a message may mention by id."""
    return frozenset(u for members in groups.values() for u in members)


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
