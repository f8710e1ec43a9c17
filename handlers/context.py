"""What every listener gets: the workflow service, the config, the node client, the Slack client
for after-ack work, the grammar's catalog, the two stores of the Slack side (export marks, people's
names). Built once by ``bot.app.create_bot``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import BotConfig
from bot.nodes import NetworkGuard, NodeClient
from bot.slack.deferred import Deferred
from bot.slack.pressure import RequestPressure
from bot.slack.sharedreads import SharedReads
from bot.slack.views import Message, Viewer
from handlers.workflow_forms import Catalog
from workflows.cardstore import CardStore
from workflows.drillscheduler import DrillBook
from workflows.names import NameCache
from workflows.service import WorkflowService

__all__ = ["HandlerContext", "Listener"]

# A listener of this code base: it gets the context with what Bolt passes (the ack, the body).
Listener = Callable[["HandlerContext", AsyncAck, dict[str, Any]], Awaitable[None]]


def _nothing() -> None:
    return None


@dataclass
class HandlerContext:
    service: WorkflowService
    config: BotConfig
    nodes: NodeClient
    client: AsyncWebClient
    deferred: Deferred
    catalog: Catalog
    # the network guard: its refusals are in Redis, shared with the engine and replicas
    guard: NetworkGuard
    # the Slack side's keys of a run: here, the marks that post an incident log once
    cards: CardStore
    # people's display names (users.info, cached in Redis): an incident log shows them
    names: NameCache
    drills: DrillBook | None = None
    wake_notifier: Callable[[], None] = _nothing
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("parthenon.slack"))
    pressure: RequestPressure = field(default_factory=RequestPressure)
    # deferred `status` and `runs` answers: one reading per turn, shared by the asks it serves
    shared: SharedReads[Message | None] = field(default_factory=SharedReads)
    # (text shown, code logged) for an error raised after the ack (bot.app.describe_error)
    describe_error: Callable[[Exception, frozenset[str]], tuple[str, str]] | None = None
    # Slack said a user group's members changed (bot.usergroups reads it again)
    usergroups_changed: Callable[[str], None] = lambda subteam: None

    def bind(self, listener: Listener) -> Callable[[AsyncAck, dict[str, Any]], Awaitable[None]]:
        """``listener`` as Bolt calls it, with this context (Bolt passes the arguments a
        function names: here the ack and the body)."""

        async def bolt_listener(ack: AsyncAck, body: dict[str, Any]) -> None:
            await listener(self, ack, body)

        return bolt_listener

    @property
    def people(self) -> frozenset[str]:
        """Everyone in a configured group: their mentions in bot-composed text are kept."""
        return frozenset(u for members in self.config.groups.values() for u in members)

    def members(self, groups: Collection[str]) -> set[str]:
        return {u for g in groups for u in self.config.groups.get(g, frozenset())}

    def viewer(self, user: str) -> Viewer:
        authority = self.service.authority
        workflows = list(self.service.definitions)
        return Viewer(
            user=user,
            groups=frozenset(authority.groups_of(user)),
            operable=frozenset(w for w in workflows if authority.may_operate(user, w)),
            startable=frozenset(w for w in workflows if authority.may_start(user, w)),
        )
