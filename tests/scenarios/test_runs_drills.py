"""`/parthenon runs` shows the drills and when each is next due, as App Home does."""

from __future__ import annotations

import json
from datetime import UTC, timedelta

from tests.scenarios.harness import Harness, Reply
from workflows.drills import DRILLS, DrillKind, DrillRecord, add_months
from workflows.drillscheduler import DrillBook


async def answer_of(h: Harness, reply: Reply) -> str:
    """The command's answer: in the ack, or posted to its response_url after the ack."""
    if reply.json:
        return json.dumps(reply.json)
    name = f"cmd-{h.responses}"
    found = await h.standin.wait_for(lambda: [b for n, b in h.standin.responses if n == name])
    return json.dumps(found[0])


async def test_runs_lists_every_drill_with_its_next_due_date(harness: Harness) -> None:
    """A restore drill that passed ten days ago is next due three months after it; the drills
    that never ran are shown as due; each line names the workflow that starts it."""
    h = harness
    passed = h.runtime.store.now() - timedelta(days=10)
    await DrillBook(h.runtime.store).record(
        DrillRecord(kind=DrillKind.RESTORE, run_id="r-drill-1", completed_at=passed))
    body = await answer_of(h, await h.command("UOP0001", "runs"))
    assert "*Drills*" in body
    due = add_months(passed, DRILLS[DrillKind.RESTORE].months).astimezone(UTC)
    restore = next(line for line in body.split("\\n") if "Quarterly restore drill" in line)
    assert ":calendar: next due" in restore
    assert f"|{due:%Y-%m-%d}" in restore  # the date's UTC fallback text
    assert "`restore-drill`" in restore
    for spec in DRILLS.values():
        assert spec.workflow in body
    others = [line for line in body.split("\\n") if "Semi-annual incident simulation" in line]
    assert others
    assert ":warning: due since" in others[0]
