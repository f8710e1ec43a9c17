"""`/parthenon ...`: parse, check, record through the service, ack with the answer.

Everything the answer needs comes from Redis (runs, the freeze) and goes back in the ack itself,
as an ephemeral message: no Web API call. Under a burst (other Slack requests being served at
the same moment), `status` and `runs` ack at once and answer through the response_url when the
background lane gives them a turn, so that the acks Slack waits for come first; the asks waiting
for one turn share one reading (``bot.slack.sharedreads``). Starting a run records it
(de-duplicated by the command's trigger id, so a redelivery starts nothing new); the notifier
posts its card. `health` acks at once and asks the nodes afterwards; `abort` without a reason
acks and opens a modal.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.slack.errors import NotPermitted
from bot.slack.escape import code, inline, mention
from bot.slack.ids import SLASH_COMMAND, CallbackId
from bot.slack.payloads import ButtonValue, ModalMetadata
from bot.slack.views import (
    Message,
    context,
    drill_line,
    help_message,
    notice,
    run_card,
    run_line,
    section,
)
from bot.slack.views import reason_modal as reason_view
from handlers.archived import archived_run, archived_runs
from handlers.command_help import help_for
from handlers.command_types import (
    AbortRun,
    Command,
    ExportRun,
    FreezePromotions,
    HandOverCommand,
    ListRuns,
    PauseRun,
    ReleaseNode,
    ResumeRun,
    ShowHealth,
    ShowHelp,
    ShowStatus,
    StartRun,
    TakeOverRun,
    UnfreezePromotions,
)
from handlers.context import HandlerContext
from handlers.export import check_may_export, post_incident_log
from handlers.freezeanswers import freezes_text, froze_answer, unfroze_answer
from handlers.grammar import parse
from handlers.health import health_report
from handlers.nodeguard import answer_release
from handlers.payloads import CommandPayload
from handlers.replies import open_modal, tell
from workflows import dedupkeys
from workflows.errors import RunNotFound
from workflows.model import Abort, HandOver, Pause, Resume

__all__ = ["handle_command", "register"]

_LISTED = 15  # runs shown in a list: a message stays readable, and the ack stays fast
_ARCHIVED_LISTED = 5  # runs past their retention, read from the archive directory


def register(app: AsyncApp, ctx: HandlerContext) -> None:
    @app.command(SLASH_COMMAND)
    async def parthenon(ack: AsyncAck, body: dict[str, Any]) -> None:
        await handle_command(ctx, ack, body)


async def handle_command(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    payload = CommandPayload.from_body(body)
    command = parse(payload.text, ctx.catalog)
    if (isinstance(command, ShowStatus | ListRuns) and payload.response_url
            and ctx.pressure.in_flight > 1):
        # Read-only, answered from Redis, and other requests are waiting for their acks: ack
        # now, answer through the response_url once the burst has been served.
        await ack()
        ctx.deferred.spawn(_answer_later(ctx, payload, command), f"answer:{payload.trigger_id}")
        return
    message = await _answer(ctx, payload, command)
    if message is None:
        await ack()
    else:
        await ack(text=message.text, blocks=message.blocks, response_type="ephemeral")


async def _answer(ctx: HandlerContext, p: CommandPayload, command: Command) -> Message | None:
    match command:
        case ShowHelp(topic=topic):
            title, entries, footer = help_for(topic, ctx.catalog)
            return help_message(title, entries, footer)
        case StartRun():
            return await _start(ctx, p, command)
        case ShowStatus(run_id=None):
            return await _status(ctx)
        case ShowStatus(run_id=run_id) if run_id is not None:
            return await _status_of(ctx, p, run_id)
        case ListRuns():
            return await _runs(ctx)
        case ExportRun(run_id=run_id):
            return await _export(ctx, p, run_id)
        case ShowHealth(environment=environment):
            return _health(ctx, p, environment)
        case TakeOverRun(run_id=run_id, reason=reason):
            taken = await ctx.service.take_over(run_id, p.user_id, reason)
            ctx.wake_notifier()
            freed = ", ".join(code(e, 40) for e in taken.locks)
            return _said(f":unlock: Took {freed} over from {code(run_id, 40)}: it is paused, and "
                         "resuming it takes its locks back once they are free.")
        case PauseRun(run_id=run_id, reason=reason):
            await ctx.service.command(run_id, Pause(actor=p.user_id, reason=reason),
                                      dedup_key=dedupkeys.slash(p.trigger_id))
            ctx.wake_notifier()
            return _said(f":double_vertical_bar: Paused {code(run_id, 40)}.")
        case ResumeRun(run_id=run_id):
            await ctx.service.command(run_id, Resume(actor=p.user_id),
                                      dedup_key=dedupkeys.slash(p.trigger_id))
            ctx.wake_notifier()
            return _said(f":arrow_forward: Resumed {code(run_id, 40)}.")
        case AbortRun(run_id=run_id, reason=None):
            run = await ctx.service.get(run_id)
            meta = ModalMetadata(b=ButtonValue(r=run.id, v=run.version), c=p.channel_id)
            view = reason_view(CallbackId.ABORT, run, meta)
            ctx.deferred.spawn(_modal_or_say(ctx, p, view), f"abort-modal:{run_id}")
            return None
        case AbortRun(run_id=run_id, reason=reason) if reason is not None:
            await ctx.service.command(run_id, Abort(actor=p.user_id, reason=reason),
                                      dedup_key=dedupkeys.slash(p.trigger_id))
            ctx.wake_notifier()
            return _said(f":octagonal_sign: Aborted {code(run_id, 40)}.")
        case FreezePromotions(reason=reason, environment=environment):
            frozen = await ctx.service.freeze_promotions(p.user_id, reason, environment)
            ctx.wake_notifier()
            return _said(froze_answer(frozen))
        case ReleaseNode(node=node):
            return answer_release(ctx, p, node)
        case UnfreezePromotions(environment=environment):
            lifted = await ctx.service.unfreeze_promotions(p.user_id, environment)
            ctx.wake_notifier()
            return _said(unfroze_answer(lifted, environment))
        case HandOverCommand(run_id=run_id, user=user):
            await ctx.service.command(run_id, HandOver(actor=p.user_id, to=user),
                                      dedup_key=dedupkeys.slash(p.trigger_id))
            ctx.wake_notifier()
            return _said(f":bust_in_silhouette: {mention(user)} is now the commander of "
                         f"{code(run_id, 40)}.")
    return None  # pragma: no cover (the match is exhaustive over the grammar's commands)


async def _answer_later(ctx: HandlerContext, p: CommandPayload, command: Command) -> None:
    """A read-only command's answer, after the ack: the reading and rendering give way to
    requests being served; a refusal says what the error handler would have said."""
    try:
        if isinstance(command, ListRuns) or (isinstance(command, ShowStatus)
                                             and command.run_id is None):
            # The same for every asker: asks waiting for their turn share one reading.
            message = await ctx.shared.answer(type(command).__name__, ctx.pressure,
                                              lambda: _answer(ctx, p, command))
        else:
            async with ctx.pressure.background():
                message = await _answer(ctx, p, command)
    except Exception as exc:
        if ctx.describe_error is None:
            raise
        message = notice(ctx.describe_error(exc, ctx.people)[0])
    if message is not None:
        await tell(ctx.client, message, user=p.user_id, channel=p.channel_id,
                   response_url=p.response_url)


def _said(text: str) -> Message:
    return notice(text)


async def _start(ctx: HandlerContext, p: CommandPayload, command: StartRun) -> Message:
    run = await ctx.service.start(
        command.workflow,
        command.params,
        actor=p.user_id,
        channel=p.channel_id,
        dedup_key=dedupkeys.slash(p.trigger_id),
    )
    ctx.wake_notifier()
    where = (
        "An incident channel is being opened for it; the checklist is pinned there."
        if run.category == "incident"
        else "Its card is posted in this channel and updated as it goes."
    )
    text = f":rocket: Started *{inline(run.title, 150)}* as {code(run.id, 40)}. {where}"
    return Message(text=f"Started {run.id}", blocks=[section(text)])


async def _status(ctx: HandlerContext) -> Message:
    active = await ctx.service.active_runs(_LISTED)
    freezes = await ctx.service.freezes()
    more = " (the oldest shown; `runs` lists the rest)" if len(active) >= _LISTED else ""
    lines = [f"*Active runs* ({len(active)}){more}"]
    lines += [run_line(r) for r in active] or ["No run is active."]
    blocks = [section("\n".join(lines))]
    if freezes:
        blocks.append(section(freezes_text(freezes)))
    blocks.append(context("`/parthenon status <run-id>` shows one run's card."))
    return Message(text=f"{len(active)} active runs", blocks=blocks)


async def _status_of(ctx: HandlerContext, p: CommandPayload, run_id: str) -> Message:
    """One run's card; a run past its retention is rendered from the archive."""
    try:
        run = await ctx.service.get(run_id)
    except RunNotFound:
        found = await archived_run(ctx, run_id)
        if found is None:
            raise
        card = run_card(found.run, people=ctx.people, known_workflows=ctx.service.definitions)
        note = context(f":file_cabinet: Archived past its retention: "
                       f"`parthenon-bot runs export {found.run.id}` prints its incident log.")
        return Message(text=card.text, blocks=[*card.blocks[:49], note])
    return run_card(run, people=ctx.people, viewer=ctx.viewer(p.user_id),
                    known_workflows=ctx.service.definitions)


async def _runs(ctx: HandlerContext) -> Message:
    active = await ctx.service.active_runs(_LISTED)
    recent = [r for r in await ctx.service.recent_runs(15) if r.terminal]
    lines = [f"*Active* ({len(active)})", *([run_line(r) for r in active] or ["none"])]
    lines += [f"*Recent* ({len(recent)})", *([run_line(r) for r in recent] or ["none"])]
    archived = await archived_runs(ctx, _ARCHIVED_LISTED)
    if archived:
        lines += [f"*Archived* (the last {len(archived)}; `/parthenon status <run-id>` shows one)",
                  *[run_line(r) for r in archived]]
    blocks = [section("\n".join(lines))]
    if ctx.drills is not None:  # the drills and when each is next due, as App Home shows them
        drills = await ctx.drills.schedule(ctx.service.now())
        shown = [drill_line(d) for d in drills] or ["No drills are defined."]
        blocks.append(section("\n".join(["*Drills*", *shown])))
    return Message(text="Runs", blocks=blocks)


async def _export(ctx: HandlerContext, p: CommandPayload, run_id: str) -> Message:
    check_may_export(ctx, p.user_id)
    try:
        run = await ctx.service.get(run_id)  # an unknown run is answered in the ack
    except RunNotFound:
        found = await archived_run(ctx, run_id)
        if found is None:
            raise
        run = found.run
    work = post_incident_log(ctx, run.id, user=p.user_id, dedup=dedupkeys.slash(p.trigger_id),
                             channel=p.channel_id, response_url=p.response_url)
    ctx.deferred.spawn(work, f"export:{run.id}")
    return _said(f":scroll: Posting the incident log of {code(run.id, 40)} in its thread.")


def _health(ctx: HandlerContext, p: CommandPayload, environment: str) -> Message:
    if not ctx.service.authority.groups_of(p.user_id):
        raise NotPermitted("only members of a configured group may ask the nodes for health")
    nodes = ctx.config.nodes(environment)  # an unknown environment raises ConfigError
    ctx.deferred.spawn(health_report(ctx, p, environment), f"health:{environment}")
    return _said(f":stethoscope: Asking the {len(nodes)} nodes of {code(environment, 60)}…")


async def _modal_or_say(ctx: HandlerContext, p: CommandPayload, view: dict[str, Any]) -> None:
    if not await open_modal(ctx.client, p.trigger_id, view):
        await tell(ctx.client, _said("The form did not open; give the reason in the command: "
                                     "`/parthenon abort <run-id> <reason>`."),
                   user=p.user_id, channel=p.channel_id, response_url=p.response_url)
