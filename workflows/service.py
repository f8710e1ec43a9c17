"""The workflow service: the one API that Slack handlers and the console call.

It checks who may do what (from the config, behind the ``Authority`` protocol), plans and starts
runs, turns people's commands into events applied atomically in Redis, and says why when it
refuses. A refusal changes nothing and is written to the run's audit log.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from workflows import dedupkeys
from workflows.apply import apply
from workflows.auditlog import AuditEntry
from workflows.definition import Definition
from workflows.envlocks import lock_refusal
from workflows.errors import (
    EnvironmentLocked,
    InvalidCommand,
    InvalidParameters,
    NotAuthorized,
    PromotionFrozen,
)
from workflows.freezer import Freezer, FreezeResult, LiftResult
from workflows.freezes import Freeze, is_promotion
from workflows.machine import transition
from workflows.model import (
    Abort,
    Approve,
    Command,
    Confirm,
    DeclineAutoRollback,
    HandOver,
    HoldRun,
    Pause,
    PlannedStep,
    RecordPage,
    Reject,
    ReleaseHold,
    Resume,
    Retry,
    Run,
    RunStarted,
    RunStatus,
    Skip,
    StepStatus,
    Supersede,
    TakeOver,
)
from workflows.planner import Inventory, check_params, plan_run, usage
from workflows.policy import DefaultPolicies, PolicySource, check_windows
from workflows.store import RunStore
from workflows.storecommit import CommitStatus

__all__ = ["Authority", "PendingAction", "WorkflowService", "new_run_id"]

BOT_ACTOR = "parthenon-bot"


class Authority(Protocol):
    """Who is who, from the config: groups of Slack user ids and per-workflow permissions."""

    def groups_of(self, user: str) -> list[str]: ...

    def may_start(self, user: str, workflow: str) -> bool: ...

    def may_operate(self, user: str, workflow: str) -> bool: ...


_ID_DRAWS = 5  # a start without a delivery key whose random id is taken draws again


def new_run_id(now: datetime) -> str:
    return f"r{now:%Y%m%d}-{secrets.token_hex(3)}"


class PendingAction:
    """Something a person could do now on a run (for App Home and reminders)."""

    def __init__(self, run: Run, step: PlannedStep, kind: str) -> None:
        self.run = run
        self.step = step
        self.kind = kind  # "approve" | "confirm"


class WorkflowService:
    def __init__(
        self,
        store: RunStore,
        definitions: dict[str, Definition],
        inventory: Inventory,
        authority: Authority,
        *,
        id_factory: Callable[[datetime], str] = new_run_id,
        policies: PolicySource | None = None,
    ) -> None:
        self.store = store
        self.definitions = definitions
        self.inventory = inventory
        self.authority = authority
        self.policies: PolicySource = policies or DefaultPolicies()
        self._new_id = id_factory

    def definition(self, workflow: str) -> Definition:
        defn = self.definitions.get(workflow)
        if defn is None:
            known = ", ".join(sorted(self.definitions))
            raise InvalidParameters(f"there is no workflow {workflow!r} (known: {known})")
        return defn

    # --- starting --------------------------------------------------------------------------

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
    ) -> Run:
        """Plan and start a run; a redelivered start (same ``dedup_key``) returns the first run.
        ``from_step``: a follow-up started by a step of the running ``parent_run_id``, not an
        offer (nothing to check against an offer, no locks to take over)."""
        defn = self.definition(workflow)
        if actor != BOT_ACTOR and not self.authority.may_start(actor, workflow):
            raise NotAuthorized(f"you are not allowed to start {workflow} runs")
        try:  # the environment planned for (a left-out one is the definition's default)
            environment = self._environment(defn, clean := check_params(defn, params))
            # Watch windows: never zero, never below the environment's minimum (on the field).
            check_windows(defn.parameters, clean, self.policies.policy(environment), environment,
                          usage(defn))
            # An offered start (a halted run's "Start rollback", by button or form) must be the
            # offer that run makes; the rollback then takes over the halted run's locks.
            takeover = None if from_step else await self._offered(parent_run_id, workflow)
        except (InvalidParameters, InvalidCommand) as exc:
            await self.store.audit_start_refusal(actor, workflow, str(exc), parent_run_id)
            raise
        now = self.store.now()
        run_id = self._new_id(now)
        if dedup_key is not None:
            run_id = await self.store.reserve_start(dedup_key, run_id)
            existing = await self.store.load(run_id)
            if existing is not None:
                if takeover is not None and existing.parent_run_id == takeover:
                    # The first delivery created it and stopped (a crash) before the halted run
                    # ended: end it now, linked to the run that holds its locks.
                    with contextlib.suppress(InvalidCommand):
                        await self._supersede(takeover, existing.id, actor)
                return await self._after_start(existing)
        for draw in range(_ID_DRAWS):
            pending = plan_run(
                defn,
                params,
                inventory=self.inventory,
                run_id=run_id,
                initiator=actor,
                now=now,
                channel=channel,
                parent_run_id=parent_run_id,
                skip_approvers=self.policies.skip_approvers(environment, workflow),
            )
            if not self.policies.environment_locks:
                pending = pending.model_copy(update={"locks": []})
            run, _ = transition(pending, RunStarted(), now)
            if is_promotion(run):
                await self._refuse_if_frozen(run)
            outcome = await self.store.create(run, actor=actor, takeover_from=takeover)
            if (outcome.status is not CommitStatus.CONFLICT or dedup_key is not None
                    or draw == _ID_DRAWS - 1):
                break
            run_id = self._new_id(now)  # the random id is another run's: draw a new one
        if outcome.status is CommitStatus.CONFLICT:
            # Another delivery of the same start created it first.
            return await self.store.get(run_id)
        if outcome.status is CommitStatus.LOCKED:
            raise await self._locked(run, outcome.detail, actor)
        if takeover is not None:
            # The halted run ends, linked to the run that took its locks over (idempotent).
            await self._supersede(takeover, run.id, actor)
        return await self._after_start(outcome.run or run)

    async def _supersede(self, halted: str, by: str, actor: str) -> None:
        """End the halted run, linked to ``by``; the bot's own start says it was automatic."""
        await apply(self.store, halted,
                    Supersede(by=by, automatic=actor == BOT_ACTOR, actor=actor),
                    now=self.store.now, dedup_key=dedupkeys.superseded_by(by))

    async def _refuse_if_frozen(self, run: Run) -> None:
        frozen = await self.freezer.covering(run)
        if frozen:
            first = frozen[0]
            raise PromotionFrozen(
                f"promotions to {first.scope} are frozen by <@{first.by}>: {first.reason}. "
                "Nothing was started; `/parthenon unfreeze` lifts the freeze."
            )

    async def _after_start(self, run: Run) -> Run:
        """A promotion that a freeze set meanwhile covers is held at once; an incident's
        severity acts (both idempotent: a redelivered start does it again harmlessly)."""
        if run.terminal:
            return run
        if is_promotion(run):
            await self.freezer.hold_if_frozen(run)
        elif run.category == "incident":
            await self.freezer.incident_started(run)
        return run

    async def _offered(self, parent_run_id: str | None, workflow: str) -> str | None:
        """Check a start made from an offer against the offer; the run whose locks it may take
        over (the halted run that offers it), if any."""
        if parent_run_id is None:
            return None
        parent = await self.store.get(parent_run_id)
        if parent.offer != workflow:
            raise InvalidCommand(f"run {parent.id} offers no {workflow} run")
        halted = parent.status is RunStatus.BLOCKED or (
            parent.status is RunStatus.PAUSED and parent.paused_from is RunStatus.BLOCKED
        )
        return parent.id if halted else None

    async def _locked(self, run: Run, detail: str, actor: str) -> EnvironmentLocked:
        """The refusal of a start on a locked environment: which run holds it, what to do."""
        environment, holder_id = lock_refusal(detail)
        holder = await self.store.load(holder_id)
        if holder is None:
            about = holder_id
        else:
            about = (f"{holder.id} ({holder.title}, started by <@{holder.initiator}>, "
                     f"{holder.status.value})")
        todo = (
            "Wait for it to end, or abort it (/parthenon abort " + holder_id + " REASON)"
            + ("; if it halted, its card's Start rollback takes its lock over" if holder
               is not None and holder.offer else "")
        )
        text = (f"{environment} is locked by run {about}: one run writes to an environment at "
                f"a time. Nothing was started. {todo}.")
        await self.store.audit_refusal(
            holder_id, "refused_start", actor, None, text,
            {"workflow": run.workflow, "params": run.params, "environment": environment},
        )
        return EnvironmentLocked(text, environment=environment, holder=holder_id)

    @staticmethod
    def _environment(defn: Definition, params: dict[str, str]) -> str | None:
        if defn.fixed_environment is not None:
            return defn.fixed_environment
        return params.get(defn.environment_param) if defn.environment_param else None

    # --- commands --------------------------------------------------------------------------

    async def command(self, run_id: str, command: Command, *, dedup_key: str | None = None,
                      known: Run | None = None) -> Run:
        """Apply a person's command; refused ones raise and are audited; duplicates apply once."""
        run = known if known is not None else await self.store.get(run_id)
        actor = command.actor
        groups = self.authority.groups_of(actor)
        command = command.model_copy(update={"groups": groups})
        try:
            self._check_may(run, command)
            if isinstance(command, Resume | Retry):
                transition(run, command, self.store.now())  # a refusal takes no lock back
                await self._retake_locks(run)
            # The run just read (here, or ``known`` by the caller) is the one to apply to (one
            # read less before Slack's ack); if it changed, the commit conflicts and apply reads.
            outcome = await apply(self.store, run_id, command, now=self.store.now,
                                  dedup_key=dedup_key, known=run)
        except (InvalidCommand, NotAuthorized) as exc:
            if dedup_key is not None and await self.store.delivered(run_id, dedup_key):
                # A redelivery (Slack's retry, a double click) of a command applied before: the
                # machine refuses it only because it already happened. Nothing to say or audit.
                return await self.store.get(run_id)
            await self.store.audit_refusal(
                run_id,
                f"refused_{command.type}",
                actor,
                getattr(command, "step_id", None),
                str(exc),
                {"shown_plan_hash": getattr(command, "plan_hash", None)},
            )
            raise
        if outcome.status is CommitStatus.DUPLICATE or outcome.run is None:
            return await self.store.get(run_id)
        return outcome.run

    async def _retake_locks(self, run: Run) -> None:
        """A run resumes or retries only with its locks (a take-over gives them to another)."""
        if not run.locks or run.terminal or not self.policies.environment_locks:
            return
        held = await self.store.retake_locks(run.id, run.locks)
        if held is not None:
            environment, holder = lock_refusal(held)
            raise InvalidCommand(
                f"{environment} was taken over and is now locked by run {holder}: resume this "
                "run once that one has ended"
            )

    async def take_over(self, run_id: str, actor: str, reason: str) -> Run:
        """Take the environment locks of ``run_id`` away from it: a member of every locked
        environment's ``policy.takeover_approvers`` only; the run is paused first (before its
        next step), then its locks are freed for the run that needs them. Resuming it later
        takes them back, or is refused while another run holds them. Audited on the run."""
        run = await self.store.get(run_id)
        groups = set(self.authority.groups_of(actor))
        try:
            if run.terminal or not run.locks:
                raise InvalidCommand(f"run {run.id} holds no environment lock")
            for environment in run.locks:
                approvers = self.policies.takeover_approvers(environment, run.workflow)
                if not groups & set(approvers):
                    raise NotAuthorized(
                        f"taking over {environment}'s lock needs a member of "
                        f"{', '.join(approvers)} (policy.takeover_approvers)"
                    )
        except (InvalidCommand, NotAuthorized) as exc:
            await self.store.audit_refusal(run.id, "refused_takeover", actor, None, str(exc))
            raise
        # paused first (and kept paused past a freeze's lift), then the locks are freed
        take_over = TakeOver(actor=actor, groups=sorted(groups), reason=reason)
        paused = await apply(self.store, run.id, take_over, now=self.store.now, known=run,
                             dedup_key=dedupkeys.take_over(actor, reason))
        await self.store.release_locks(run.id, run.locks)
        await self.store.audit_refusal(
            run.id, "locks_taken_over", actor, None, reason, {"environments": run.locks})
        return paused.run or await self.store.get(run.id)

    async def command_as_bot(self, run_id: str,
                             command: Pause | RecordPage | DeclineAutoRollback,
                             dedup_key: str) -> Run:
        """The bot's own command (a bot step, the pager, the auto-rollback); no permission check."""
        outcome = await apply(self.store, run_id, command, now=self.store.now,
                              dedup_key=dedup_key)
        return outcome.run or await self.store.get(run_id)

    def _check_may(self, run: Run, command: Command) -> None:
        actor = command.actor
        if isinstance(command, Approve | Reject):
            return  # the machine checks the step's approver groups and the initiator rule
        if isinstance(command, Confirm):
            index = run.index_of(command.step_id)
            step = run.plan[index] if index is not None else None
            if step is not None and step.responders:
                return  # the machine checks the step's responder groups
            if self.authority.may_operate(actor, run.workflow):
                return
            raise NotAuthorized(f"you are not allowed to confirm steps of {run.workflow} runs")
        if isinstance(command, HoldRun | ReleaseHold):
            raise NotAuthorized("only a promotion freeze holds or releases a run "
                                "(`/parthenon freeze`, `/parthenon unfreeze`)")
        if isinstance(command, RecordPage):
            raise NotAuthorized("only the bot's pager records a page")
        if isinstance(command, HandOver):
            if not self.authority.groups_of(command.to):
                raise InvalidCommand(f"<@{command.to}> is in no configured group; command goes "
                                     "to someone the bot knows")
            commander = run.commander or run.initiator
            if actor == commander or self.authority.may_operate(actor, run.workflow):
                return
            raise NotAuthorized("only the incident commander or an operator of this run may "
                                "hand over command")
        own = actor == run.initiator and isinstance(command, Pause | Abort)
        if own or self.authority.may_operate(actor, run.workflow):
            return
        verb = {Pause: "pause", Resume: "resume", Abort: "abort", Retry: "retry", Skip: "skip"}
        raise NotAuthorized(
            f"you are not allowed to {verb.get(type(command), command.type)} "
            f"{run.workflow} runs (operators only)"
        )

    # --- reading ---------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.store.now()

    async def get(self, run_id: str) -> Run:
        return await self.store.get(run_id)

    async def find(self, run_id: str) -> Run | None:
        """The run, or None (``get`` raises ``RunNotFound`` instead)."""
        return await self.store.load(run_id)

    async def card_of(self, run_id: str) -> tuple[str, str] | None:
        """(channel, ts) of the run's card, or None before it was first posted."""
        return await self.store.get_card(run_id)

    async def active_runs(self, limit: int = 1000, *, ended_too: bool = False) -> list[Run]:
        """The active runs, oldest first; ``limit`` bounds how many are read (lists show few).
        ``ended_too``: the active index as it is, with a run that ended but is not yet out of
        it (on Redis Cluster the index changes just after the run: the run API lists that)."""
        runs = await self.store.load_many(await self.store.active_ids(limit))
        return runs if ended_too else [run for run in runs if not run.terminal]

    async def recent_runs(self, limit: int = 20) -> list[Run]:
        return await self.store.load_many(await self.store.recent_ids(limit))

    async def archived_ids(self, limit: int) -> list[str]:
        """The runs archived last (by when they finished), newest first."""
        return await self.store.archived_ids(limit)

    async def audit(self, run_id: str) -> list[AuditEntry]:
        await self.store.get(run_id)
        return await self.store.read_audit(run_id)

    async def audit_refused_click(self, run_id: str, actor: str, step_id: str | None,
                                  reason: str, channel: str) -> None:
        """A click refused before it became a command (not pressed where the run lives)."""
        await self.store.audit_refusal(run_id, "refused_click", actor, step_id, reason,
                                       {"channel": channel})

    async def audit_refused_start(self, actor: str, workflow: str, reason: str) -> None:
        """A start refused before the service was asked (a run-API token's workflows)."""
        await self.store.audit_start_refusal(actor, workflow, reason, None)

    async def pending_for(self, user: str, active: list[Run] | None = None) -> list[PendingAction]:
        """Approvals and confirmations this person could give right now (among ``active``, the
        active runs when the caller has read them)."""
        groups = set(self.authority.groups_of(user))
        found: list[PendingAction] = []
        for run in active if active is not None else await self.active_runs():
            current = run.current
            if current is None or run.status is not RunStatus.WAITING:
                continue
            step, state = current
            if state.status is not StepStatus.WAITING:
                continue
            request = state.approval
            if request is not None:
                barred = {run.initiator, request.requested_by or run.initiator}
                voted = any(v.user == user for v in request.votes)
                if (
                    groups & set(request.policy.groups)
                    and not voted
                    and (user not in barred or request.policy.allow_initiator)
                ):
                    found.append(PendingAction(run, step, "approve"))
            elif state.waiting_for == "confirmation":
                allowed = (
                    bool(groups & set(step.responders))
                    if step.responders
                    else self.authority.may_operate(user, run.workflow)
                )
                if allowed:
                    found.append(PendingAction(run, step, "confirm"))
        return found

    # --- the promotion freeze (workflows.freezer) ------------------------------------------

    _freezer: Freezer | None = None

    @property
    def freezer(self) -> Freezer:
        if self._freezer is None:
            self._freezer = Freezer(self.store)
        return self._freezer

    @freezer.setter
    def freezer(self, freezer: Freezer) -> None:
        self._freezer = freezer

    async def freeze_promotions(
        self, actor: str, reason: str, environment: str | None = None
    ) -> FreezeResult:
        """Freeze promotions (to one environment, or all), hold the running ones, say so in
        the ops channel; audited in the freezes' log and in each held run's."""
        if not self.authority.may_operate(actor, "freeze"):
            raise NotAuthorized("you are not allowed to freeze promotions")
        if environment is not None and not self.inventory.has_environment(environment):
            raise InvalidParameters(f"there is no environment {environment!r}",
                                    parameter="environment")
        return await self.freezer.freeze(actor, reason, environment=environment)

    async def unfreeze_promotions(self, actor: str, environment: str | None = None) -> LiftResult:
        if not self.authority.may_operate(actor, "freeze"):
            raise NotAuthorized("you are not allowed to lift the promotion freeze")
        if environment is not None and not self.inventory.has_environment(environment):
            raise InvalidParameters(f"there is no environment {environment!r}",
                                    parameter="environment")
        return await self.freezer.lift(actor, environment)

    async def freeze(self, actor: str, reason: str) -> bool:
        return (await self.freeze_promotions(actor, reason)).created

    async def freezes(self) -> list[Freeze]:
        return await self.freezer.book.all()

    async def freeze_state(self) -> dict[str, str] | None:
        """The first freeze on, if any (``freezes`` lists them all)."""
        found = await self.freezes()
        if not found:
            return None
        first = found[0]
        return {"by": first.by, "reason": first.reason, "scope": first.scope}
