"""Automatic rollback: a run halted by a health gate starts the rollback it offers at once, where
the environment of the failed step says so (``environments.<env>.policy.on_gate_failure:
rollback``; the default ``offer`` leaves the "Start rollback…" button for a person).

The rollback starts through the same path as the button (``WorkflowService.start`` with the
halted run as parent): it takes over the halted run's environment locks and the halted run ends,
superseded ("rolled back automatically: <run>"), in its thread and on its card. The rollback's
own approvals still apply: people approve it in Slack.

Its ``version`` (the build to deploy) is only ever one the bot saw promoted: the last release
that promote's release-record step recorded for that environment (``release:latest:<env>``, or
``release:latest`` when it is of that environment), if it is not the release that failed. With
none, nothing is invented: the bot says why in the halted run's thread and on its card
(``DeclineAutoRollback``, audited), and the button stays.

Exactly once, through crashes and replicas: the engine calls ``after_halt`` while it holds the
halted run's lease, and the run stays on the due index until a worker has been through here (a
worker that dies in between leaves it due; the next one comes back). The start carries a
de-duplication key of the halted run, step and attempt, so a second pass returns the same
rollback and ends the halted run if the first pass could not; a halt already decided (superseded,
aborted, or declined for that attempt) is left alone.
"""

from __future__ import annotations

import contextlib
import logging

from workflows import dedupkeys
from workflows.errors import InvalidCommand, WorkflowError
from workflows.model import DeclineAutoRollback, PlannedStep, Run, RunStatus, StepState, StepStatus
from workflows.offer import offer_params
from workflows.service import BOT_ACTOR, WorkflowService
from workflows.steps.records import latest_release_record

__all__ = ["ROLLBACK", "AutoRollback"]

log = logging.getLogger("parthenon.autorollback")

ROLLBACK = "rollback"


class AutoRollback:
    def __init__(self, service: WorkflowService) -> None:
        self.service = service

    def wanted(self, run: Run) -> tuple[PlannedStep, StepState] | None:
        """The halt of ``run`` that its environment's policy rolls back, if not yet decided."""
        current = run.current
        if run.status is not RunStatus.BLOCKED or run.offer != ROLLBACK or current is None:
            return None
        step, state = current
        if step.offer_on_failure != run.offer or state.status is not StepStatus.BLOCKED:
            return None
        if (state.error or "").startswith("in doubt"):
            return None  # not a failed gate: a step nobody could verify
        if run.offer not in self.service.definitions:
            return None
        environment = step.environment or run.environment
        if self.service.policies.policy(environment).on_gate_failure != "rollback":
            return None
        note = run.auto_rollback
        if note is not None and (note.step_id, note.attempt) == (step.id, state.attempt):
            return None  # declined for this very halt already
        return step, state

    async def after_halt(self, run: Run) -> Run | None:
        """Start the rollback of a halt the policy rolls back (the rollback, once), or say why
        not on the halted run. Nothing for any other run."""
        halt = self.wanted(run)
        if halt is None:
            return None
        step, state = halt
        target = self.service.definition(ROLLBACK)
        params = offer_params(run, target)
        environment = params.get(target.environment_param or "") or step.environment \
            or run.environment or ""
        if target.parameter("version") is None:
            await self._decline(run, step, state,
                                f"the {ROLLBACK} workflow has no version parameter to give the "
                                "last release")
            return None
        version, why = await self.last_release(environment, failed=run.params.get("version"))
        if version is None:
            await self._decline(run, step, state, why)
            return None
        params["version"] = version
        try:
            child = await self.service.start(
                ROLLBACK, params, actor=BOT_ACTOR, channel=run.channel,
                dedup_key=dedupkeys.auto_rollback(run.id, step.id, state.attempt),
                parent_run_id=run.id,
            )
        except WorkflowError as exc:
            latest = await self.service.find(run.id)
            if latest is None or self.wanted(latest) is None:
                return None  # ended or moved on meanwhile (a person's rollback, an abort)
            await self._decline(latest, step, state, f"starting the {ROLLBACK} was refused: {exc}")
            return None
        log.info("rolled back automatically", extra={"run_id": run.id, "rollback": child.id,
                                                     "version": version})
        return child

    async def last_release(self, environment: str, *, failed: str | None) -> tuple[str | None, str]:
        """(the version to roll back to, where it comes from) or (None, why there is none)."""
        store = self.service.store
        for name in (latest_release_record(environment), "release:latest"):
            record = await store.get_record(name)
            if record.get("environment") == environment and record.get("version"):
                break
        else:
            return None, (f"no release of {environment} has been recorded by a promotion "
                          "(release-record), so there is no known build to roll back to; "
                          "start the rollback with the card's button and give the version")
        version = str(record["version"])
        if failed is not None and version == failed:
            return None, (f"the last release recorded for {environment} is {version}, the "
                          "release that failed; start the rollback with the card's button and "
                          "give the version")
        return version, f"the last release of {environment} ({version}, run {record.get('run_id')})"

    async def _decline(self, run: Run, step: PlannedStep, state: StepState, why: str) -> None:
        event = DeclineAutoRollback(step_id=step.id, attempt=state.attempt, reason=why[:1000])
        with contextlib.suppress(InvalidCommand):  # no longer halted: nothing to say
            await self.service.command_as_bot(
                run.id, event,
                dedup_key=dedupkeys.auto_rollback_declined(run.id, step.id, state.attempt))
        log.info("not rolled back automatically: %s", why, extra={"run_id": run.id})
