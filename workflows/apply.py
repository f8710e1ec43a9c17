"""Read, transition, commit: how every change to an existing run is made.

The store only writes (``RunStore.commit`` checks the version and writes atomically); the pure
machine only decides (``transition``). This loop joins them for the service (people's commands,
supersede, take-over), the engine (ticks and step outcomes), the freezer and the automatic
rollback: read the run, apply the event at the time the caller's clock gives, commit; on a
version conflict read again and re-apply.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from workflows.errors import InvalidCommand, NotAuthorized, VersionConflict
from workflows.machine import transition
from workflows.model import Event, Run
from workflows.store import RunStore
from workflows.storecommit import CommitOutcome, CommitStatus, LedgerWrite

__all__ = ["apply"]


async def apply(
    store: RunStore,
    run_id: str,
    event: Event | Callable[[Run], Event],
    *,
    now: Callable[[], datetime],
    token: str | None = None,
    ledger: Callable[[Run], LedgerWrite | None] | None = None,
    dedup_key: str | None = None,
    attempts: int = 20,
    known: Run | None = None,
) -> CommitOutcome:
    """Apply ``event`` to the run; on a version conflict read again and re-apply.

    The machine's refusal (InvalidCommand, NotAuthorized) propagates unchanged and nothing
    is written. ``event`` may be a function of the current run (for events built from it).
    ``now`` is read once per attempt, for the machine. ``token`` is a worker's fencing token.
    ``known`` is the run as the caller last committed it, saving a read when it is current.
    A delivery applied before (same ``dedup_key``) comes back as DUPLICATE without a look
    of its own up front: the commit script checks the key before anything else, and a
    refusal by the machine is checked against it (a click refused only because it already
    happened). One round trip less per command, which is before Slack's ack.
    """
    for _ in range(attempts):
        old = known if known is not None else await store.get(run_id)
        known = None  # after a conflict, always read again
        ev = event(old) if callable(event) else event
        try:
            new, effects = transition(old, ev, now())
        except (InvalidCommand, NotAuthorized):
            # A concurrent delivery of the same command may have just applied it: then this
            # one is a duplicate, not a refusal.
            if dedup_key is not None and await store.delivered(run_id, dedup_key):
                return CommitOutcome(CommitStatus.DUPLICATE, None, "delivered before")
            raise
        outcome = await store.commit(
            old, new, ev, effects, token=token, ledger=ledger(old) if ledger else None,
            dedup_key=dedup_key,
        )
        if outcome.status is not CommitStatus.CONFLICT:
            return outcome
    raise VersionConflict(f"run {run_id} kept changing; gave up after {attempts} attempts")
