"""Messages in a run's thread: approval and confirmation requests (with their buttons) and the
notifications the machine queues (reminders, failures, the end of the run)."""

from __future__ import annotations

from collections.abc import Collection

from bot.slack.escape import code, inline, mentions, trusted_mentions
from bot.slack.ids import ActionId, BlockId
from bot.slack.views._blocks import Block, Message, actions, button, context, date, section
from bot.slack.views.card import button_value, participants
from workflows.machine import Notify
from workflows.model import Run, RunStatus, StepStatus

__all__ = ["approval_request", "confirmation_request", "notification", "thread_message"]

_NOTIFY_EMOJI = {
    "approval_requested": ":raised_hand:",
    "approval_reminder": ":alarm_clock:",
    "approval_expired": ":hourglass:",
    "confirmation_requested": ":raised_hand:",
    "skip_requested": ":fast_forward:",
    "step_failed": ":x:",
    "step_skipped": ":fast_forward:",
    "run_blocked": ":no_entry:",
    "run_finished": ":checkered_flag:",
    "run_paused": ":double_vertical_bar:",
    "run_resumed": ":arrow_forward:",
    "run_held": ":ice_cube:",
    "hold_released": ":sunny:",
    "commander_changed": ":bust_in_silhouette:",
    "auto_rollback": ":rewind:",
}


def approval_request(run: Run, step_id: str, members: Collection[str]) -> Message | None:
    """The request for the approval (or the skip) the step waits for; None if it waits no more."""
    index = run.index_of(step_id)
    if index is None:
        return None
    step, state = run.plan[index], run.steps[index]
    request = state.approval
    if request is None or state.status is not StepStatus.WAITING:
        return None
    trusted = participants(run)
    policy = request.policy
    groups = ", ".join(code(g, 60) for g in policy.groups)
    who = mentions(members) or f"members of {groups}"
    if request.purpose == "skip":
        asker = request.requested_by or "someone"
        head = trusted_mentions(
            f"<@{asker}> asks to skip *{step.title}*: {request.reason or ''}", trusted, 1500
        )
    else:
        head = f":raised_hand: *Approval needed: {inline(step.title, 200)}*"
    rule = "" if policy.allow_initiator else " The one who asked may not approve."
    lines = [
        head,
        f"{who}: {policy.quorum} distinct approval{'s' if policy.quorum != 1 else ''} "
        f"from {groups} needed.{rule}",
        f"You approve plan {code(run.plan_hash)}: {inline(run.workflow, 60)} "
        + " ".join(f"{inline(k, 40)}={code(v, 120)}" for k, v in run.params.items()),
    ]
    if step.targets:
        lines.append("Targets: " + ", ".join(code(t, 60) for t in step.targets[:20]))
    value = button_value(run, step, state)
    blocks: list[Block] = [
        section("\n".join(lines), str(BlockId.CARD_CURRENT)),
        actions(
            str(BlockId.REQUEST_ACTIONS),
            [
                button(
                    ActionId.APPROVE,
                    "Approve",
                    value,
                    style="primary",
                    confirm=(
                        "Approve this plan?",
                        f"You approve *{inline(step.title, 200)}* for plan {code(run.plan_hash)}.",
                        "Approve",
                    ),
                ),
                button(ActionId.REJECT, "Reject…", value, style="danger"),
            ],
        ),
        context(f"Run {code(run.id, 40)} · expires {date(request.expires_at)}"),
    ]
    text = f"Approval needed: {inline(step.title, 150)} ({inline(run.title, 150)})"
    return Message(text=text, blocks=blocks)


def confirmation_request(run: Run, step_id: str, members: Collection[str]) -> Message | None:
    index = run.index_of(step_id)
    if index is None:
        return None
    step, state = run.plan[index], run.steps[index]
    if state.status is not StepStatus.WAITING or state.waiting_for != "confirmation":
        return None
    who = mentions(members) or "Operators"
    lines = [f":raised_hand: *Confirmation needed: {inline(step.title, 200)}*"]
    if step.description:
        lines.append(inline(step.description, 1000))
    if state.note:
        lines.append(trusted_mentions(state.note, participants(run), 1000))
    if step.inputs:
        labels = ", ".join(inline(i.label, 80) for i in step.inputs)
        lines.append(f"You will be asked for: {labels}")
    lines.append(f"{who}: confirm when it is done.")
    value = button_value(run, step, state)
    elements = [button(ActionId.CONFIRM, "Confirm…", value, style="primary")]
    if step.skip.allowed:
        elements.append(button(ActionId.SKIP, "Skip step…", value))
    blocks: list[Block] = [
        section("\n".join(lines), str(BlockId.CARD_CURRENT)),
        actions(str(BlockId.REQUEST_ACTIONS), elements),
        context(f"Run {code(run.id, 40)}"),
    ]
    return Message(text=f"Confirmation needed: {inline(step.title, 150)}", blocks=blocks)


def notification(
    run: Run, notify: Notify, members: Collection[str], people: Collection[str] = ()
) -> Message:
    """A plain notification; ``members`` are mentioned, ``people`` may be named in its text."""
    trusted = set(people) | participants(run)
    emoji = _NOTIFY_EMOJI.get(notify.kind, ":speech_balloon:")
    body = trusted_mentions(notify.text, trusted, 2500)
    who = mentions(members)
    line = f"{emoji} {body}" + (f"\n{who}" if who else "")
    blocks = [section(line)]
    release = _release_summary(run, notify, trusted)
    if release is not None:
        blocks.append(section(release))
    return Message(text=body, blocks=blocks)


def _release_summary(run: Run, notify: Notify, trusted: Collection[str]) -> str | None:
    """A finished promotion's end carries the release metadata its last step recorded."""
    summary = run.values.get("release_summary")
    if notify.kind != "run_finished" or run.status is not RunStatus.SUCCEEDED:
        return None
    if not isinstance(summary, str) or not summary.strip():
        return None
    version = run.params.get("version")
    kept = f" (kept as {code('release:' + version, 80)})" if version else ""
    return f":package: *Release metadata*{kept}\n{trusted_mentions(summary, trusted, 2500)}"


def thread_message(
    run: Run, notify: Notify, members: Collection[str], people: Collection[str] = ()
) -> Message:
    """What to post in the run's thread for one queued notification."""
    if notify.kind in {"approval_requested", "skip_requested"} and notify.step_id:
        request = approval_request(run, notify.step_id, members)
        if request is not None:
            return request
    if notify.kind == "confirmation_requested" and notify.step_id:
        request = confirmation_request(run, notify.step_id, members)
        if request is not None:
            return request
    return notification(run, notify, members, people)
