"""A run's incident log posted into its Slack thread, after the ack.

`/parthenon export <run-id>` and the card's "Export incident log" button both end here. Who may
(anyone in a configured group) is checked before the ack; reading the audit, rendering the
Markdown (``workflows.export``) and posting it happen after. A redelivered command or a double
click posts the log once: a short mark in Redis (``workflows.cardstore``), taken before posting.
"""

from __future__ import annotations

from bot.slack.apifailure import AFTER_ACK_FAILURES, slack_failure
from bot.slack.errors import NotPermitted
from bot.slack.escape import code
from bot.slack.people import display_names
from bot.slack.views import incident_log_messages, notice
from handlers.archived import archived_run
from handlers.context import HandlerContext
from handlers.replies import tell
from workflows.errors import RunNotFound
from workflows.export import render_incident_log

__all__ = ["EXPORT_MARK_SECONDS", "check_may_export", "post_incident_log"]

EXPORT_MARK_SECONDS = 600  # a redelivery or a second click within this posts nothing new


def check_may_export(ctx: HandlerContext, user: str) -> None:
    if not ctx.service.authority.groups_of(user):
        raise NotPermitted("only members of a configured group may export an incident log")


async def post_incident_log(
    ctx: HandlerContext,
    run_id: str,
    *,
    user: str,
    dedup: str,
    channel: str | None = None,
    response_url: str | None = None,
    delivery: str | None = None,
) -> None:
    """Post the log in the run's thread, split into code-block messages; say so when it cannot.
    ``dedup`` scopes the mark (a card version and person, a slash command's trigger);
    ``delivery`` identifies this press: Slack delivering it again is quiet, a second press
    within the mark's time is told the log was just asked for."""
    cards = ctx.cards
    taken_by = delivery or user
    if not await cards.mark_export(run_id, dedup, taken_by, EXPORT_MARK_SECONDS):
        earlier = await cards.export_mark(run_id, dedup)
        if delivery is not None and earlier is not None and earlier != delivery:
            text = (f"The incident log of {code(run_id, 40)} was asked for a moment ago; it is "
                    "posted in the run's thread (press again in a few minutes for a new copy).")
            await tell(ctx.client, notice(text), user=user, channel=channel,
                       response_url=response_url)
        return  # this request was taken before (Slack's retry, a double click)
    archived = None
    try:
        run = await ctx.service.get(run_id)
    except RunNotFound:  # past its retention: the log and the card's place are in the archive
        archived = await archived_run(ctx, run_id)
        if archived is None:
            raise
        run = archived.run
    where = archived.card if archived is not None else await ctx.service.card_of(run_id)
    if where is None or not where[1]:
        await cards.drop_export_mark(run_id, dedup)
        text = (f"The card of {code(run.id, 40)} is not posted yet, so it has no thread for the "
                "log; try again in a moment.")
        await tell(ctx.client, notice(text), user=user, channel=channel, response_url=response_url)
        return
    if archived is not None:
        markdown = archived.incident_log
    else:
        audit = await ctx.service.audit(run_id)
        # People's names beside their ids (users.info, cached): a log is read outside Slack.
        names = await display_names(ctx.client, ctx.names,
                                    [run.initiator, *(e.actor for e in audit if e.actor)])
        async with ctx.pressure.background():  # rendering gives way to acks
            markdown = render_incident_log(run, audit, names=names)
    async with ctx.pressure.background():
        messages = incident_log_messages(run.id, markdown)
    try:
        for message in messages:
            await ctx.client.chat_postMessage(channel=where[0], thread_ts=where[1],
                                              text=message.text, blocks=message.blocks)
    except AFTER_ACK_FAILURES as exc:
        await cards.drop_export_mark(run_id, dedup)
        why = slack_failure(exc)
        ctx.log.warning("incident log of %s not posted: %s", run.id, why)
        text = (f":warning: The incident log of {code(run.id, 40)} could not be posted "
                f"({code(why, 60)}); try again, or use `parthenon-bot runs export {run.id}`.")
        await tell(ctx.client, notice(text), user=user, channel=channel, response_url=response_url)
        return
    ctx.log.info("incident log of %s posted in %d part(s) for %s", run.id, len(messages), user)
