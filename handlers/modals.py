"""Modal submissions, one listener per modal (``CallbackId``): a reason for a rejection, a skip or
an abort; a manual step's inputs; the parameters of a workflow to start (an offered rollback, a
drill).

The command is recorded through the service before the ack (which closes the modal). A refusal
raises and the one error handler shows it inside the modal, on the field it is about; a bad
parameter is shown on its own field here, and nothing starts.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.slack.errors import BadPayload
from bot.slack.escape import code, inline
from bot.slack.ids import REASON_INPUT, BlockId, CallbackId
from bot.slack.views import input_block_id, notice, param_block_id
from handlers.context import HandlerContext
from handlers.payloads import ViewPayload
from handlers.replies import tell
from workflows import dedupkeys
from workflows.errors import InvalidParameters
from workflows.model import Abort, Confirm, Reject, Skip

__all__ = ["register"]

MAX_REASON = 1000


def register(app: AsyncApp, ctx: HandlerContext) -> None:
    app.view(CallbackId.REJECT)(ctx.bind(reject))
    app.view(CallbackId.CONFIRM)(ctx.bind(confirm))
    app.view(CallbackId.SKIP)(ctx.bind(skip))
    app.view(CallbackId.ABORT)(ctx.bind(abort))
    app.view(CallbackId.START)(ctx.bind(start))


async def confirm(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    """A manual step's inputs: the step is confirmed with what was filled in."""
    p, run_id = _on_run(body)
    value = p.meta.b
    run = await ctx.service.get(run_id)
    index = run.index_of(value.step_id())
    specs = run.plan[index].inputs if index is not None else []
    inputs = {s.name: p.value(input_block_id(s.name), s.name) for s in specs}
    inputs = {k: v for k, v in inputs.items() if v}
    await ctx.service.command(
        run_id,
        Confirm(actor=p.user_id, step_id=value.step_id(), inputs=inputs),
        dedup_key=dedupkeys.press("confirm", p.delivery), known=run,
    )
    await _applied(ctx, ack)


async def reject(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    p, run_id = _on_run(body)
    reason = _reason(p)
    step_id = p.meta.b.step_id()
    await ctx.service.command(
        run_id,
        Reject(actor=p.user_id, step_id=step_id, reason=reason),
        dedup_key=dedupkeys.press("reject", p.delivery),
    )
    await _applied(ctx, ack)


async def skip(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    p, run_id = _on_run(body)
    reason = _reason(p)
    step_id = p.meta.b.step_id()
    await ctx.service.command(
        run_id,
        Skip(actor=p.user_id, step_id=step_id, reason=reason),
        dedup_key=dedupkeys.press("skip", p.delivery),
    )
    await _applied(ctx, ack)


async def abort(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    p, run_id = _on_run(body)
    reason = _reason(p)
    await ctx.service.command(run_id, Abort(actor=p.user_id, reason=reason),
                              dedup_key=dedupkeys.press("abort", p.delivery))
    await _applied(ctx, ack)


def _on_run(body: dict[str, Any]) -> tuple[ViewPayload, str]:
    """The submission and the run it is about (from the button that opened the modal)."""
    p = ViewPayload.from_body(body)
    return p, p.meta.b.run_id()


def _reason(p: ViewPayload) -> str:
    reason = p.value(str(BlockId.REASON), REASON_INPUT)
    if not reason:
        # Slack's min_length normally stops this before it arrives.
        raise BadPayload("a reason is required")
    if len(reason) > MAX_REASON:
        # Slack's max_length normally stops this before it arrives; a forged form is refused
        # (shown on the field), not cut short.
        raise BadPayload(f"the reason is longer than {MAX_REASON} characters")
    return reason


async def _applied(ctx: HandlerContext, ack: AsyncAck) -> None:
    """Recorded: ack (which closes the modal), and wake the notifier for the card."""
    await ack()
    ctx.wake_notifier()


async def start(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    """Start the workflow with the form's parameters; an offer's run is linked to the halted
    run and goes to its channel. One run per offer (or per form), however often it is sent."""
    p = ViewPayload.from_body(body)
    workflow, parent_id = p.meta.b.w, p.meta.b.r
    if workflow is None:
        raise BadPayload("this form does not say which workflow to start")
    defn = ctx.service.definition(workflow)
    # A value left at its default is not passed (the title shows only what was chosen).
    params = {s.name: v for s in defn.parameters
              if (v := p.value(param_block_id(s.name), s.name)) and v != s.default}
    channel = p.meta.c
    if parent_id is not None:
        parent = await ctx.service.get(parent_id)
        channel = parent.channel or channel
        key = dedupkeys.offer_start(parent.id, workflow)
    else:
        key = dedupkeys.form_start(workflow, p.user_id, p.view_id or p.meta.dump())
    try:
        run = await ctx.service.start(workflow, params, actor=p.user_id, channel=channel,
                                      dedup_key=key, parent_run_id=parent_id)
    except InvalidParameters as exc:
        if exc.parameter is None or defn.parameter(exc.parameter) is None:
            raise
        await ack(response_action="errors",
                  errors={param_block_id(exc.parameter): exc.problem[:1000]})
        return
    await _applied(ctx, ack)
    text = f":rocket: Started *{inline(run.title, 150)}* as {code(run.id, 40)}."
    ctx.deferred.spawn(tell(ctx.client, notice(text), user=p.user_id, channel=p.meta.c),
                       f"started:{run.id}")
