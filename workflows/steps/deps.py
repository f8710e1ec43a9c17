"""What the executors need from the rest of the bot, typed: the engine hands every step the same
``StepDeps`` (built once, in ``bot/runtime.py``; the bot's parts satisfy ``workflows.ports``).
A part a bot was built without is None, and the step that needs it fails with a setup error
that names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from workflows.errors import WorkflowError
from workflows.freezer import Freezer
from workflows.model import Pause, Run
from workflows.ports import ConfigView, NodePort
from workflows.store import RunStore

__all__ = ["RunStarter", "StepDeps"]


class RunStarter(Protocol):
    """The part of the workflow service a bot step may call."""

    async def start(
        self,
        workflow: str,
        params: dict[str, str],
        *,
        actor: str,
        channel: str | None = None,
        dedup_key: str | None = None,
        parent_run_id: str | None = None,
        from_step: bool = False,
    ) -> Run: ...

    async def command_as_bot(self, run_id: str, command: Pause, dedup_key: str) -> Run: ...

    async def active_runs(self) -> list[Run]: ...


@dataclass(frozen=True)
class StepDeps:
    """The bot's parts a step may use; None: this bot was built without it."""

    store: RunStore | None = None
    runs: RunStarter | None = None  # the workflow service (follow-up runs, pausing others)
    freezer: Freezer | None = None
    config: ConfigView | None = None
    nodes: NodePort | None = None  # the node client and the network guard (bot.nodeport)

    def need_store(self) -> RunStore:
        if self.store is None:
            raise WorkflowError("this bot has no run store wired into its step dependencies")
        return self.store

    def need_freezer(self) -> Freezer:
        if self.freezer is None:
            raise WorkflowError("this bot has no freezer wired into its step dependencies")
        return self.freezer

    def need_runs(self) -> RunStarter:
        if self.runs is None:
            raise WorkflowError("this bot has no workflow service wired into its step dependencies")
        return self.runs
