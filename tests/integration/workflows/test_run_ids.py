"""Run ids are random and short: a start whose id is already another run's draws a new one
rather than answering with that other run (which, archived later, would share its file)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from tests.integration.workflows.conftest import GROUPS, definition
from workflows.service import WorkflowService
from workflows.store import RunStore
from workflows.testing import StaticAuthority, StaticInventory

PARAMS = {"version": "v1.2.3", "environment": "testnet"}


def ids(*values: str) -> Iterator[str]:
    yield from values


async def test_a_start_whose_random_id_is_taken_draws_another(store: RunStore) -> None:
    drawn = ids("r20260301-aaaaaa", "r20260301-aaaaaa", "r20260301-bbbbbb")

    def factory(_: datetime) -> str:
        return next(drawn)

    service = WorkflowService(
        store, {"smoke": definition()},
        StaticInventory({"testnet": [("test-1", "miner", True)]}),
        StaticAuthority(groups=GROUPS), id_factory=factory,
    )
    first = await service.start("smoke", PARAMS, actor="U_RM1")
    second = await service.start("smoke", {**PARAMS, "version": "v9.9.9"}, actor="U_RM2")
    assert first.id == "r20260301-aaaaaa"
    assert second.id == "r20260301-bbbbbb"
    assert second.params["version"] == "v9.9.9"
    assert second.initiator == "U_RM2"
    assert (await store.get(first.id)).params["version"] == "v1.2.3"
