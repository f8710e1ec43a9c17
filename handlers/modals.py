"""Modal submissions: a reason for a rejection, a skip or an abort; a manual step's inputs.

The command is recorded through the service before the ack (which closes the modal). A refusal
raises and the one error handler shows it inside the modal, on the field it is about.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.slack.errors import BadPayload
from bot.slack.ids import REASON_INPUT, BlockId, CallbackId
from bot.slack.views import input_block_id
from handlers.context import HandlerContext
from handlers.payloads import ViewPayload
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
    value = p.meta.b
    run_id, user = value.run_id(), p.user_id
    try:
        callback = CallbackId(p.callback_id)
    except ValueError:
        raise BadPayload(f"unknown form {p.callback_id!r}") from None
    if callback is CallbackId.CONFIRM:
        run = await ctx.service.get(run_id)
        index = run.index_of(value.step_id())
        specs = run.plan[index].inputs if index is not None else []
        inputs = {s.name: p.value(input_block_id(s.name), s.name) for s in specs}
        inputs = {k: v for k, v in inputs.items() if v}
        await ctx.service.command(
            run_id,
            Confirm(actor=user, step_id=value.step_id(), inputs=inputs),
            dedup_key=f"confirm:{value.step_id()}:{value.n}:{user}",
        )
    else:
        reason = p.value(str(BlockId.REASON), REASON_INPUT)
        if not reason:
            # Slack's min_length normally stops this before it arrives.
            raise BadPayload("a reason is required")
        reason = reason[:MAX_REASON]
        if callback is CallbackId.REJECT:
            step_id = value.step_id()
            await ctx.service.command(
                run_id,
                Reject(actor=user, step_id=step_id, reason=reason),
                dedup_key=f"reject:{step_id}:{value.n}:{user}",
            )
        elif callback is CallbackId.SKIP:
            step_id = value.step_id()
            await ctx.service.command(
                run_id,
                Skip(actor=user, step_id=step_id, reason=reason),
                dedup_key=f"skip:{step_id}:v{value.v}:{user}",
            )
        else:
            await ctx.service.command(run_id, Abort(actor=user, reason=reason),
                                      dedup_key=f"abort:v{value.v}:{user}")
    await ack()
    ctx.wake_notifier()
