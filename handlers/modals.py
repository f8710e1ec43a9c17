"""Modal submissions: a reason for a rejection, a skip or an abort; a manual step's inputs; the
parameters of a workflow to start (an offered rollback, a drill).

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
from workflows.errors import InvalidParameters
from workflows.model import Abort, Confirm, Reject, Skip

__all__ = ["handle_submission", "register"]

MAX_REASON = 1000

def register(app: AsyncApp, ctx: HandlerContext) -> None:
    for callback in CallbackId:

        async def on_submit(ack: AsyncAck, body: dict[str, Any]) -> None:
            await handle_submission(ctx, ack, body)

        app.view(str(callback))(on_submit)


async def handle_submission(ctx: HandlerContext, ack: AsyncAck, body: dict[str, Any]) -> None:
    p = ViewPayload.from_body(body)
    try:
        callback = CallbackId(p.callback_id)
    except ValueError:
        raise BadPayload(f"unknown form {p.callback_id!r}") from None
    if callback is CallbackId.START:
        await _start(ctx, ack, p)
        return
    value = p.meta.b
    run_id, user = value.run_id(), p.user_id
    if callback is CallbackId.CONFIRM:
        run = await ctx.service.get(run_id)
        index = run.index_of(value.step_id())
        specs = run.plan[index].inputs if index is not None else []
        inputs = {s.name: p.value(input_block_id(s.name), s.name) for s in specs}
        inputs = {k: v for k, v in inputs.items() if v}
        await ctx.service.command(
            run_id,
            Confirm(actor=user, step_id=value.step_id(), inputs=inputs),
            dedup_key=f"confirm:{p.delivery}",
        )
    else:
        reason = p.value(str(BlockId.REASON), REASON_INPUT)
        if not reason:
            # Slack's min_length normally stops this before it arrives.
            raise BadPayload("a reason is required")
        if len(reason) > MAX_REASON:
            # Slack's max_length normally stops this before it arrives; a forged form is refused
            # (shown on the field), not cut short.
            raise BadPayload(f"the reason is longer than {MAX_REASON} characters")
        if callback is CallbackId.REJECT:
            step_id = value.step_id()
            await ctx.service.command(
                run_id,
                Reject(actor=user, step_id=step_id, reason=reason),
                dedup_key=f"reject:{p.delivery}",
            )
        elif callback is CallbackId.SKIP:
            step_id = value.step_id()
            await ctx.service.command(
                run_id,
                Skip(actor=user, step_id=step_id, reason=reason),
                dedup_key=f"skip:{p.delivery}",
            )
        else:
            await ctx.service.command(run_id, Abort(actor=user, reason=reason),
                                      dedup_key=f"abort:{p.delivery}")
    await ack()
    ctx.wake_notifier()


async def _start(ctx: HandlerContext, ack: AsyncAck, p: ViewPayload) -> None:
    """Start the workflow with the form's parameters; an offer's run is linked to the halted
    run and goes to its channel. One run per offer (or per form), however often it is sent."""
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
        key = f"offer:{parent.id}:{workflow}"
    else:
        key = f"form:{workflow}:{p.user_id}:{p.view_id or p.meta.dump()}"
    try:
        run = await ctx.service.start(workflow, params, actor=p.user_id, channel=channel,
                                      dedup_key=key, parent_run_id=parent_id)
    except InvalidParameters as exc:
        if exc.parameter is None or defn.parameter(exc.parameter) is None:
            raise
        await ack(response_action="errors",
                  errors={param_block_id(exc.parameter): exc.problem[:1000]})
        return
    await ack()
    ctx.wake_notifier()
    text = f":rocket: Started *{inline(run.title, 150)}* as {code(run.id, 40)}."
    ctx.deferred.spawn(tell(ctx.client, notice(text), user=p.user_id, channel=p.meta.c),
                       f"started:{run.id}")
