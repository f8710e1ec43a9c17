"""Steps the bot performs itself: the promotion freeze, recorded values, follow-up workflows,
pausing other runs. ``with: {action: <name>, ...}`` picks one; an unknown action fails the step.

Each action that changes something can also verify itself, so a crash in the middle never
repeats it blindly (a follow-up run is started with the step's idempotency key, a freeze is
looked up, a pause is applied with a de-duplication key).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from workflows import dedupkeys
from workflows.errors import WorkflowError
from workflows.freezes import run_environments
from workflows.model import Outcome, OutcomeFailed, OutcomeSucceeded, Pause
from workflows.step_models import StepKind
from workflows.steps.base import StepContext

__all__ = ["BOT_ACTIONS", "BotExecutor"]


Action = Callable[[StepContext], Awaitable[Outcome]]


async def _require_no_freeze(ctx: StepContext) -> Outcome:
    frozen = await ctx.deps.need_store().freezes.covering(run_environments(ctx.run))
    if frozen:
        freeze = frozen[0]
        return OutcomeFailed(
            error=f"promotions to {freeze.scope} are frozen (by <@{freeze.by}>: {freeze.reason})"
        )
    return OutcomeSucceeded(result={"freeze": "off"})


async def _freeze(ctx: StepContext) -> Outcome:
    """Every environment, until someone lifts it; running promotions pause before their next
    write step, and the ops channel is told (once, however often this is verified)."""
    reason = str(ctx.args.get("reason") or f"{ctx.run.title} ({ctx.run.id})")
    done = await ctx.deps.need_freezer().freeze(ctx.run.initiator, f"{reason} ({ctx.run.id})",
                                                run_id=ctx.run.id, ends_with_run=False)
    return OutcomeSucceeded(result={"freeze": "on", "already_on": not done.created,
                                    "reason": done.freeze.reason, "held": done.held})


async def _unfreeze(ctx: StepContext) -> Outcome:
    lifted = await ctx.deps.need_freezer().lift(ctx.run.initiator)
    return OutcomeSucceeded(result={"freeze": "off", "was_on": bool(lifted.lifted),
                                    "resumed": lifted.resumed})


async def _record(ctx: StepContext) -> Outcome:
    """Capture values (rendered templates) into the run, and keep them in the step's result."""
    values = ctx.args.get("values")
    if not isinstance(values, dict):
        return OutcomeFailed(error="record needs 'values', a mapping of names to values")
    if "key" in ctx.args:  # also keep them in Redis under a named record, e.g. release metadata
        await ctx.deps.need_store().put_record(str(ctx.args["key"]), values)
    return OutcomeSucceeded(result=dict(values), captures=dict(values))


async def _start_workflow(ctx: StepContext) -> Outcome:
    workflow = str(ctx.args.get("workflow", ""))
    params = {str(k): str(v) for k, v in dict(ctx.args.get("params") or {}).items()}
    try:
        child = await ctx.deps.need_runs().start(
            workflow,
            params,
            actor=ctx.run.initiator,
            channel=ctx.run.channel,
            dedup_key=ctx.idempotency_key,
            parent_run_id=ctx.run.id,
            from_step=True,
        )
    except WorkflowError as exc:
        return OutcomeFailed(error=f"could not start {workflow}: {exc}")
    return OutcomeSucceeded(result={"started": child.id}, captures={"followup_run": child.id})


async def _pause_runs(ctx: StepContext) -> Outcome:
    """Pause every running run of the named workflows (a release incident halts rollouts)."""
    workflows = set(ctx.args.get("workflows") or [])
    starter = ctx.deps.need_runs()
    paused: list[str] = []
    for run in await starter.active_runs():
        if run.id == ctx.run.id or run.workflow not in workflows or run.status.value == "paused":
            continue
        command = Pause(actor=ctx.run.initiator, reason=f"halted by {ctx.run.title} ({ctx.run.id})")
        try:
            await starter.command_as_bot(run.id, command,
                                         dedupkeys.bot_step_command(ctx.idempotency_key, run.id))
        except WorkflowError:
            continue  # it finished or was paused meanwhile; nothing to halt
        paused.append(run.id)
    return OutcomeSucceeded(result={"paused": paused}, captures={"paused_runs": paused})


BOT_ACTIONS: dict[str, Action] = {
    "require_no_freeze": _require_no_freeze,
    "freeze": _freeze,
    "unfreeze": _unfreeze,
    "record": _record,
    "start_workflow": _start_workflow,
    "pause_runs": _pause_runs,
}


class BotExecutor:
    kind = StepKind.BOT

    def __init__(self, actions: dict[str, Action] | None = None) -> None:
        self.actions: dict[str, Action] = {**BOT_ACTIONS, **(actions or {})}

    async def execute(self, ctx: StepContext) -> Outcome:
        name = str(ctx.args.get("action", ""))
        action = self.actions.get(name)
        if action is None:
            known = ", ".join(sorted(self.actions))
            return OutcomeFailed(error=f"unknown bot action {name!r} (known: {known})")
        try:
            return await action(ctx)
        except WorkflowError as exc:
            return OutcomeFailed(error=str(exc))

    async def verify(self, ctx: StepContext) -> Outcome | None:
        """Every bot action is idempotent by construction (NX freeze, de-duplication keys, the
        step's idempotency key for follow-ups), so looking is doing it again safely."""
        if str(ctx.args.get("action", "")) in self.actions:
            return await self.execute(ctx)
        return None

