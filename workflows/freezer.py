"""Freezing and lifting promotions, and what a freeze does to the promotions already running.

A freeze refuses new promotions where it applies (the service checks at start) and holds every
running promotion that writes there: the hold is a command applied to the run (durable, audited,
seen by every replica's engine), and the pure machine pauses a held run before its next write step
and never in the middle of one (``workflows.machine``). Lifting the freeze releases the holds:
a run the hold paused resumes; one a person paused stays paused, and the ops channel is told which.

Severity acts through the same path: a sev1/sev2 incident (per the config's severity table) freezes
promotions to its environment and holds the running ones; the freeze ends with the incident (the
keeper, run by every engine, lifts the freezes of finished incidents) or by ``/parthenon unfreeze``.

Every step is idempotent (the freeze is set NX, each hold and release carries a de-duplication key
of its freeze and run), so a crash or a second replica repeats nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from workflows import dedupkeys
from workflows.announcements import Announcement, Announcements
from workflows.apply import apply
from workflows.errors import InvalidCommand, NotAuthorized, RunNotFound, WorkflowError
from workflows.freezes import Freeze, FreezeBook, freeze_id, is_promotion, run_environments
from workflows.model import HoldRun, ReleaseHold, Run, RunStatus
from workflows.store import RunStore

__all__ = ["FreezeResult", "Freezer", "LiftResult", "SeverityRules", "severity_of"]

log = logging.getLogger("parthenon.freezer")

BOT_ACTOR = "parthenon-bot"


class SeverityRules(Protocol):
    """What an incident's severity does (the config's ``incidents.severity`` table)."""

    def severity_action(self, severity: str) -> tuple[bool, bool]:
        """(freeze promotions to its environment, pause the running ones there)."""
        ...


class _NoRules:
    """Without a config: the runbook's defaults (sev1 and sev2 freeze and pause)."""

    def severity_action(self, severity: str) -> tuple[bool, bool]:
        acts = severity in {"sev1", "sev2"}
        return acts, acts


@dataclass
class FreezeResult:
    freeze: Freeze
    created: bool  # False: that freeze was on already
    held: list[str] = field(default_factory=list)  # running promotions now held


@dataclass
class LiftResult:
    lifted: list[Freeze] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    still_paused: list[str] = field(default_factory=list)


def severity_of(run: Run) -> str | None:
    return run.params.get("severity") if run.category == "incident" else None


class Freezer:
    def __init__(
        self,
        store: RunStore,
        *,
        rules: SeverityRules | None = None,
        book: FreezeBook | None = None,
        announcements: Announcements | None = None,
    ) -> None:
        self.store = store
        self.rules: SeverityRules = rules or _NoRules()
        self.book = book or store.freezes
        self.announcements = announcements or store.announcements

    # --- setting ---------------------------------------------------------------------------

    async def freeze(
        self,
        actor: str,
        reason: str,
        *,
        environment: str | None = None,
        run_id: str | None = None,
        pause: bool = True,
        announce: bool = True,
        ends_with_run: bool | None = None,
    ) -> FreezeResult:
        """Freeze promotions (to ``environment``, or everywhere) and hold the running ones."""
        if ends_with_run is None:  # an incident's freeze of its environment ends with it
            ends_with_run = run_id is not None and environment is not None
        freeze = Freeze(id=freeze_id(environment, run_id), environment=environment, by=actor,
                        reason=reason, run_id=run_id, ends_with_run=ends_with_run,
                        at=self.store.now())  # (each setting is its own: see dedupkeys)
        created = await self.book.add(freeze)
        if not created:
            current = next((f for f in await self.book.all() if f.id == freeze.id), freeze)
            freeze = current
        held = await self._hold_running(freeze) if pause else []
        if announce and (created or run_id is None):  # a step verified again says nothing new
            kind = "freeze_set" if created else "freeze_already_on"
            await self.announcements.push(Announcement(
                kind=kind, actor=actor, scope=freeze.scope, reason=freeze.reason,
                run_id=freeze.run_id, held=held))
        return FreezeResult(freeze, created, held)

    async def _hold_running(self, freeze: Freeze) -> list[str]:
        held = []
        for run in await self._active():
            covered = is_promotion(run) and freeze.covers(run_environments(run))
            if covered and await self._hold(run, freeze):
                held.append(run.id)
        return held

    async def _hold(self, run: Run, freeze: Freeze) -> bool:
        where = "every environment" if freeze.environment is None else freeze.environment
        reason = f"promotions to {where} are frozen by <@{freeze.by}>: {freeze.reason}"
        command = HoldRun(actor=BOT_ACTOR, freeze_id=freeze.id, reason=reason[:1000])
        try:
            await apply(self.store, run.id, command, now=self.store.now,
                        dedup_key=dedupkeys.freeze_hold(freeze))
        except (InvalidCommand, NotAuthorized, RunNotFound):
            return False  # it finished meanwhile, or this freeze holds it already
        return True

    async def hold_if_frozen(self, run: Run) -> None:
        """A promotion that started while a freeze was being set: the freeze's own sweep may
        have missed it, so it looks for itself (each side writes, then reads the other)."""
        if not is_promotion(run):
            return
        for freeze in await self.book.covering(run_environments(run)):
            await self._hold(run, freeze)

    async def incident_started(self, run: Run) -> FreezeResult | None:
        """What the incident's severity does, per the config; idempotent (a redelivered start
        calls it again)."""
        severity = severity_of(run)
        if severity is None or run.environment is None:
            return None
        freeze, pause = self.rules.severity_action(severity)
        if not freeze:
            return None
        reason = f"{severity} {run.title} ({run.id})"
        return await self.freeze(run.initiator, reason, environment=run.environment,
                                 run_id=run.id, pause=pause)

    # --- lifting ---------------------------------------------------------------------------

    async def lift(self, actor: str, environment: str | None = None) -> LiftResult:
        """Lift every freeze (``environment`` None), or those of one environment."""
        chosen = [f for f in await self.book.all()
                  if environment is None or f.environment == environment]
        lifted = await self.book.remove(chosen, actor)
        result = await self._release(lifted)
        result.lifted = lifted
        if lifted:
            scope = "every environment" if environment is None else environment
            await self.announcements.push(Announcement(
                kind="freeze_lifted", actor=actor, scope=scope,
                reason="; ".join(f.reason for f in lifted)[:1000],
                resumed=result.resumed, still_paused=result.still_paused))
        return result

    async def _release(self, lifted: list[Freeze]) -> LiftResult:
        result = LiftResult()
        ids = {f.id for f in lifted}
        freezes = {f.id: f for f in lifted}
        for run in await self._active():
            if run.hold is None or not ids & set(run.hold.freezes):
                continue
            latest: Run | None = run
            for fid in sorted(ids & set(run.hold.freezes)):
                try:
                    outcome = await apply(
                        self.store, run.id, ReleaseHold(actor=BOT_ACTOR, freeze_id=fid),
                        dedup_key=dedupkeys.freeze_release(freezes[fid]), now=self.store.now)
                    latest = outcome.run or await self.store.load(run.id)
                except (InvalidCommand, NotAuthorized, RunNotFound):
                    latest = await self.store.load(run.id)
            if latest is None or latest.hold is not None:
                continue  # another freeze still holds it
            if latest.status is RunStatus.PAUSED:
                result.still_paused.append(run.id)
            else:
                result.resumed.append(run.id)
        await self.book.released(lifted)
        return result

    async def reconcile(self) -> list[Freeze]:
        """Lift the freezes of incidents that have ended (any replica; the first one wins), and
        finish releasing the runs of a lift that a crash interrupted."""
        interrupted = await self.book.lifting()
        if interrupted:
            await self._release(interrupted)
        ended = []
        for freeze in await self.book.all():
            if not freeze.ends_with_run or freeze.run_id is None:
                continue
            run = await self.store.load(freeze.run_id)
            if run is None or run.terminal:
                ended.append(freeze)
        if not ended:
            return []
        lifted = await self.book.remove(ended, BOT_ACTOR)
        result = await self._release(lifted)
        for freeze in lifted:
            await self.announcements.push(Announcement(
                kind="freeze_lifted", actor=BOT_ACTOR, scope=freeze.scope,
                reason=f"the incident {freeze.run_id} ended", run_id=freeze.run_id,
                resumed=result.resumed, still_paused=result.still_paused))
        return lifted

    # --- reading ---------------------------------------------------------------------------

    async def covering(self, run: Run) -> list[Freeze]:
        return await self.book.covering(run_environments(run))

    async def _active(self) -> list[Run]:
        try:
            ids = await self.store.active_ids(100_000)
            return [r for r in await self.store.load_many(ids) if not r.terminal]
        except WorkflowError:  # pragma: no cover (a run vanished between the two reads)
            log.warning("could not list the active runs for a freeze")
            return []
