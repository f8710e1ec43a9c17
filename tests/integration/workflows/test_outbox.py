"""The run's outbox (notifications for its Slack thread): read without removing, acknowledged
after posting, so delivery is at least once and an acknowledgement never removes anything else."""

from __future__ import annotations

from tests.integration.workflows.conftest import wait_for, waiting_at
from workflows.engine import Engine
from workflows.model import Pause, Resume
from workflows.service import WorkflowService
from workflows.store import RunStore


async def _queued(store: RunStore, run_id: str) -> list[str]:
    return [q.notify.kind for q in await store.peek_outbox(run_id)]


async def test_peek_leaves_notifications_until_they_are_acknowledged(
    store: RunStore, service: WorkflowService, engine: Engine
) -> None:
    """Peeking twice sees the same notifications; acknowledging the first removes only it."""
    run = await service.start("smoke", {"version": "v1.0.0", "environment": "testnet"},
                              actor="U_OP")
    await wait_for(store, run.id, waiting_at("approve"))
    assert await _queued(store, run.id) == ["approval_requested"]
    await service.command(run.id, Pause(actor="U_OP"))
    first = await store.peek_outbox(run.id)
    assert [q.notify.kind for q in first] == ["approval_requested", "run_paused"]
    assert await store.peek_outbox(run.id) == first
    assert await store.ack_outbox(run.id, first[:1]) == 1
    assert await _queued(store, run.id) == ["run_paused"]


async def test_a_late_acknowledgement_removes_nothing_queued_after(
    store: RunStore, service: WorkflowService, engine: Engine
) -> None:
    """When another notifier already posted and acknowledged a notification, acknowledging it
    again removes nothing, in particular not the notification queued after it."""
    run = await service.start("smoke", {"version": "v1.0.0", "environment": "testnet"},
                              actor="U_OP")
    await wait_for(store, run.id, waiting_at("approve"))
    seen = await store.peek_outbox(run.id)
    assert await store.ack_outbox(run.id, seen) == 1  # the other notifier
    await service.command(run.id, Pause(actor="U_OP"))
    await service.command(run.id, Resume(actor="U_OP"))
    assert await store.ack_outbox(run.id, seen) == 0  # the late one
    assert await _queued(store, run.id) == ["run_paused", "run_resumed"]
    assert await store.ack_outbox(run.id, []) == 0
