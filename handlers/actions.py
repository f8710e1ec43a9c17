"""Buttons: one listener per button (``ActionId``). A click that changes a run is recorded
through the service before the ack, with a de-duplication key that identifies the delivery (who
pressed, and the action's ``action_ts``, else its trigger id: ``ActionPayload.delivery``), so
Slack delivering the same press again applies it once, while a second press is a press of its
own: applied if it still applies (a Pause after a Resume, from a card not yet re-rendered), else
refused with the reason ("you have already approved this step", "the run is already paused").
Buttons that need a reason or inputs ack at once and open their modal afterwards. A refused
click raises; the one error handler answers the person and the service has already audited it.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.slack.errors import BadPayload
from bot.slack.escape import code, inline
from bot.slack.ids import ActionId, CallbackId
from bot.slack.payloads import ButtonValue, ModalMetadata
from bot.slack.views import confirm_modal, notice, reason_modal, start_modal
from handlers.clickplace import check_click_place
from handlers.context import HandlerContext
from handlers.export import check_may_export, post_incident_log
from handlers.home import publish_home
from handlers.payloads import ActionPayload
from handlers.replies import open_modal, tell
from workflows import dedupkeys
from workflows.errors import NotAuthorized
from workflows.model import Approve, Confirm, Pause, Resume, Retry, Run
from workflows.offer import asks_first, failed_step, offer_params

__all__ = ["register"]


def register(app: AsyncApp, ctx: HandlerContext) -> None:
    app.action(ActionId.APPROVE)(ctx.bind(approve))
    app.action(ActionId.REJECT)(ctx.bind(reject))
    app.action(ActionId.CONFIRM)(ctx.bind(confirm))
    app.action(ActionId.PAUSE)(ctx.bind(pause))
    app.action(ActionId.RESUME)(ctx.bind(resume))
    app.action(ActionId.ABORT)(ctx.bind(abort))
    app.action(ActionId.RETRY)(ctx.bind(retry))
    app.action(ActionId.SKIP)(ctx.bind(skip))
    app.action(ActionId.START_WORKFLOW)(ctx.bind(start_workflow))
    app.action(ActionId.EXPORT_LOG)(ctx.bind(export_log))
    app.action(ActionId.REFRESH_HOME)(ctx.bind(refresh_home))


# --- buttons that change a run: recorded before the ack ----------------------------------------


async def approve(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    p, run = await _on_run(ctx, body)
    step_id, plan_hash = p.value.step_id(), p.value.h or ""
    await ctx.service.command(
        run.id,
        Approve(actor=p.user_id, step_id=step_id, plan_hash=plan_hash),
        dedup_key=dedupkeys.press("approve", p.delivery), known=run,
    )
    await _applied(ctx, ack)


async def pause(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    p, run = await _on_run(ctx, body)
    await ctx.service.command(run.id, Pause(actor=p.user_id),
                              dedup_key=dedupkeys.press("pause", p.delivery), known=run)
    await _applied(ctx, ack)


async def resume(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    p, run = await _on_run(ctx, body)
    await ctx.service.command(run.id, Resume(actor=p.user_id),
                              dedup_key=dedupkeys.press("resume", p.delivery), known=run)
    await _applied(ctx, ack)


async def retry(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    p, run = await _on_run(ctx, body)
    step_id = p.value.step_id()
    await ctx.service.command(run.id, Retry(actor=p.user_id, step_id=step_id),
                              dedup_key=dedupkeys.press("retry", p.delivery), known=run)
    await _applied(ctx, ack)


async def confirm(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    """Confirms the manual step, or opens the form for its inputs when it has any."""
    p, run = await _on_run(ctx, body)
    value = p.value
    index = run.index_of(value.step_id())
    step = run.plan[index] if index is not None else None
    if step is not None and step.inputs:
        await ack()
        meta = ModalMetadata(b=value, c=p.channel_id)
        _modal(ctx, p, confirm_modal(run, step, meta))
        return
    await ctx.service.command(
        run.id,
        Confirm(actor=p.user_id, step_id=value.step_id()),
        dedup_key=dedupkeys.press("confirm", p.delivery), known=run,
    )
    await _applied(ctx, ack)


async def _on_run(ctx: HandlerContext, body: dict[str, Any]) -> tuple[ActionPayload, Run]:
    """The click and the run it acts on, pressed where the run lives (else refused). The run is
    read once before the ack: the command applies to it (a conflict reads it again)."""
    p = ActionPayload.from_body(body)
    run_id = p.value.run_id()
    run = await check_click_place(ctx, run_id, p.user_id, p.channel_id, body, p.value.s)
    return p, run if run is not None else await ctx.service.get(run_id)


async def _applied(ctx: HandlerContext, ack: AsyncAck) -> None:
    """Recorded: ack, and wake the notifier (it posts or re-renders the card)."""
    await ack()
    ctx.wake_notifier()


# --- buttons that ask for a reason first: the modal's submission records it --------------------


async def reject(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    await _ask_reason(ctx, ack, body, CallbackId.REJECT)


async def skip(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    await _ask_reason(ctx, ack, body, CallbackId.SKIP)


async def abort(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    await _ask_reason(ctx, ack, body, CallbackId.ABORT)


async def _ask_reason(
    ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any], callback: CallbackId
) -> None:
    """Ack, then open the reason form (``callback`` is the modal its submission comes to)."""
    p, run = await _on_run(ctx, body)
    value = p.value
    step = None
    if value.s is not None and (index := run.index_of(value.s)) is not None:
        step = run.plan[index]
    await ack()
    _modal(ctx, p, reason_modal(callback, run, ModalMetadata(b=value, c=p.channel_id), step))


# --- buttons that change no run ---------------------------------------------------------------


async def refresh_home(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    user = ActionPayload.from_body(body).user_id
    await ack()
    ctx.deferred.spawn(publish_home(ctx, user), f"home:{user}")


async def export_log(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    """Post the run's incident log in its thread, after the ack (``handlers.export``)."""
    p = ActionPayload.from_body(body)
    user, value = p.user_id, p.value
    run_id = value.run_id()
    check_may_export(ctx, user)
    await ack()
    ctx.deferred.spawn(
        post_incident_log(ctx, run_id, user=user, dedup=dedupkeys.export_button(value.v, user),
                          channel=p.channel_id, response_url=p.response_url,
                          delivery=p.delivery),
        f"export:{run_id}",
    )


async def start_workflow(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    """An offered follow-up (rollback after a halted run) or a due drill. An offer opens the
    start form, prefilled with what the halted run tells (workflows/offer.py), unless the
    workflow has no parameters; a drill starts at once unless a required parameter is unknown,
    then it opens the form too."""
    p = ActionPayload.from_body(body)
    placed: Run | None = None
    if p.value.r is not None:  # an offer on a run's card: pressed where the card is
        placed = await check_click_place(ctx, p.value.r, p.user_id, p.channel_id, body)
    workflow = p.value.w
    if workflow is None:
        raise BadPayload("this button does not say which workflow to start")
    defn = ctx.service.definition(workflow)
    if not ctx.service.authority.may_start(p.user_id, workflow):
        raise NotAuthorized(f"you are not allowed to start {workflow} runs")
    parent: Run | None = None
    known: dict[str, str] = {}
    if p.value.r is not None:
        parent = placed if placed is not None else await ctx.service.get(p.value.r)
        if parent.offer != workflow:
            raise BadPayload(f"run {parent.id} offers no {workflow} run")
        known = offer_params(parent, defn)
    if asks_first(defn, known, offered=parent is not None):
        await ack()
        meta = ModalMetadata(b=ButtonValue(r=p.value.r, w=workflow), c=p.channel_id)
        about = _halted(parent) if parent is not None else ""
        _modal(ctx, p, start_modal(defn, known, meta, about))
        return
    if parent is not None:  # an offered workflow without parameters: nothing to check
        channel, key = parent.channel or p.channel_id, dedupkeys.offer_start(parent.id, workflow)
    else:
        channel = p.channel_id
        key = dedupkeys.start_button(workflow, p.user_id, p.trigger_id or p.message_ts)
    run = await ctx.service.start(workflow, known, actor=p.user_id, channel=channel,
                                  dedup_key=key, parent_run_id=p.value.r)
    await _applied(ctx, ack)
    text = f":rocket: Started *{inline(run.title, 150)}* as {code(run.id, 40)}."
    ctx.deferred.spawn(
        tell(ctx.client, notice(text), user=p.user_id,
             channel=p.channel_id, response_url=p.response_url),
        f"started:{run.id}",
    )


def _halted(run: Run) -> str:
    """Where the offer comes from, for the start form."""
    about = f"Offered by *{inline(run.title, 150)}* {code(run.id, 40)}"
    step = failed_step(run)
    if step is not None:
        where = f" on {code(step.environment, 40)}" if step.environment else ""
        about += f", halted at *{inline(step.title, 200)}*{where}"
    return about + "."


def _modal(ctx: HandlerContext, p: ActionPayload, view: dict[str, Any]) -> None:
    """Open ``view`` after the ack; say so when Slack does not open it."""

    async def work() -> None:
        if not await open_modal(ctx.client, p.trigger_id, view):
            text = ("The form did not open (Slack failed, or took longer than the 3 seconds a "
                    "form may take); press the button again.")
            await tell(ctx.client, notice(text), user=p.user_id,
                       channel=p.channel_id, response_url=p.response_url)

    ctx.deferred.spawn(work(), f"modal:{view.get('callback_id')}")
