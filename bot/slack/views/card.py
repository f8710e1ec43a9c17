"""The run card: one message per run, updated in place.

Title, parameters, environment, who started it, the checklist with each step's status, a progress
bar for monitor windows and waves, what the current step waits for, and the buttons. A channel
message is seen by everyone, so it carries the buttons for what can be done now and the handlers
refuse a click from someone who may not; a per-viewer surface (App Home) passes a ``Viewer`` and
gets only the buttons that viewer may use.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC

from bot.slack.escape import code, inline, mention, trusted_mentions
from bot.slack.ids import ActionId, BlockId
from bot.slack.payloads import ButtonValue
from bot.slack.views._blocks import (
    MAX_BLOCKS,
    Block,
    Message,
    actions,
    button,
    chunk_lines,
    context,
    date,
    header,
    progress_bar,
    section,
)
from workflows.model import PageState, PlannedStep, Run, RunStatus, StepState, StepStatus
from workflows.step_models import StepKind

__all__ = [
    "RUN_EMOJI",
    "STEP_EMOJI",
    "Viewer",
    "button_value",
    "card_actions",
    "participants",
    "run_card",
    "run_line",
    "viewer_may",
]

STEP_EMOJI: dict[StepStatus, str] = {
    StepStatus.PENDING: ":white_circle:",
    StepStatus.READY: ":arrow_forward:",
    StepStatus.RUNNING: ":hourglass_flowing_sand:",
    StepStatus.WAITING: ":raised_hand:",
    StepStatus.SUCCEEDED: ":white_check_mark:",
    StepStatus.FAILED: ":x:",
    StepStatus.SKIPPED: ":fast_forward:",
    StepStatus.BLOCKED: ":no_entry:",
}

RUN_EMOJI: dict[RunStatus, str] = {
    RunStatus.PENDING: ":white_circle:",
    RunStatus.RUNNING: ":arrows_counterclockwise:",
    RunStatus.WAITING: ":raised_hand:",
    RunStatus.BLOCKED: ":no_entry:",
    RunStatus.PAUSED: ":double_vertical_bar:",
    RunStatus.SUCCEEDED: ":white_check_mark:",
    RunStatus.FAILED: ":x:",
    RunStatus.ABORTED: ":octagonal_sign:",
}

_TIMER_EMOJI = ":hourglass:"


@dataclass(frozen=True)
class Viewer:
    """One person looking at a per-viewer surface: their groups and what they may do."""

    user: str
    groups: frozenset[str] = frozenset()
    operable: frozenset[str] = frozenset()  # workflows this person may operate
    startable: frozenset[str] = frozenset()  # workflows this person may start


def participants(run: Run) -> set[str]:
    """Everyone the run itself names: safe to mention in text the bot composed about it."""
    found = {run.initiator}
    if run.commander:
        found.add(run.commander)
    for state in run.steps:
        if state.confirmed_by:
            found.add(state.confirmed_by)
        if state.approval is not None:
            found.update(v.user for v in state.approval.votes)
            if state.approval.requested_by:
                found.add(state.approval.requested_by)
    return found


def button_value(run: Run, step: PlannedStep | None = None, state: StepState | None = None) -> str:
    return ButtonValue(
        r=run.id,
        s=step.id if step is not None else None,
        h=run.plan_hash,
        n=state.visits if state is not None else 0,
        v=run.version,
    ).dump()


def card_actions(run: Run, known_workflows: Collection[str] = ()) -> list[ActionId]:
    """The buttons that make sense in the run's state, whoever looks. An incident's card can
    always export its incident log."""
    export = [ActionId.EXPORT_LOG] if run.category == "incident" else []
    if run.terminal:
        # a run its rollback superseded has had its offer taken: nothing left to start
        offer = (run.offer is not None and run.offer in known_workflows
                 and run.superseded_by is None)
        return ([ActionId.START_WORKFLOW] if offer else []) + export
    found: list[ActionId] = []
    current = run.current
    if run.status is RunStatus.PAUSED:
        found += [ActionId.RESUME, ActionId.ABORT]
    elif current is not None:
        step, state = current
        if state.status is StepStatus.WAITING and state.approval is not None:
            found += [ActionId.APPROVE, ActionId.REJECT]
        elif state.status is StepStatus.WAITING and state.waiting_for == "confirmation":
            found += [ActionId.CONFIRM]
            found += [ActionId.SKIP] if step.skip.allowed else []
        elif state.status is StepStatus.WAITING and state.waiting_for == "timer":
            found += [ActionId.SKIP] if step.skip.allowed else []
        elif state.status is StepStatus.BLOCKED:
            found += [ActionId.RETRY]
            skippable = step.skip.allowed and (
                step.kind is not StepKind.APPROVAL or step.skip.approval is not None
            )
            found += [ActionId.SKIP] if skippable else []
        found += [ActionId.PAUSE, ActionId.ABORT]
    else:
        found += [ActionId.PAUSE, ActionId.ABORT]
    if run.offer is not None and run.offer in known_workflows:
        found.append(ActionId.START_WORKFLOW)
    return found + export


def viewer_may(run: Run, action: ActionId, viewer: Viewer) -> bool:
    """Whether ``viewer`` may press ``action`` on ``run`` (mirrors the service's checks)."""
    current = run.current
    operator = run.workflow in viewer.operable
    if action is ActionId.START_WORKFLOW:
        return run.offer is not None and run.offer in viewer.startable
    if action is ActionId.EXPORT_LOG:
        return bool(viewer.groups)  # anyone in a configured group
    if action in {ActionId.PAUSE, ActionId.ABORT}:
        return operator or viewer.user == run.initiator
    if action in {ActionId.RESUME, ActionId.RETRY, ActionId.SKIP}:
        return operator
    if current is None:
        return False
    step, state = current
    request = state.approval
    if action is ActionId.APPROVE and request is not None:
        own = request.requested_by if request.purpose == "skip" else run.initiator
        voted = any(v.user == viewer.user for v in request.votes)
        return (
            bool(viewer.groups & set(request.policy.groups))
            and not voted
            and (viewer.user != own or request.policy.allow_initiator)
        )
    if action is ActionId.REJECT and request is not None:
        allowed = request.policy.reject_groups or request.policy.groups
        return bool(viewer.groups & set(allowed))
    if action is ActionId.CONFIRM:
        if step.responders:
            return bool(viewer.groups & set(step.responders))
        return operator
    return False


_LABELS: dict[ActionId, tuple[str, str | None]] = {
    ActionId.APPROVE: ("Approve", "primary"),
    ActionId.REJECT: ("Reject…", "danger"),
    ActionId.CONFIRM: ("Confirm…", "primary"),
    ActionId.PAUSE: ("Pause", None),
    ActionId.RESUME: ("Resume", "primary"),
    ActionId.ABORT: ("Abort…", "danger"),
    ActionId.RETRY: ("Retry step", "primary"),
    ActionId.SKIP: ("Skip step…", None),
    ActionId.EXPORT_LOG: ("Export incident log", None),
}


def _buttons(run: Run, wanted: list[ActionId]) -> list[Block]:
    current = run.current
    step, state = current if current is not None else (None, None)
    value = button_value(run, step, state)
    elements: list[Block] = []
    for action in wanted:
        if action is ActionId.START_WORKFLOW and run.offer:
            # Opens a form with the follow-up's parameters (the form is the "are you sure").
            offer_value = ButtonValue(r=run.id, w=run.offer, v=run.version).dump()
            elements.append(button(action, f"Start {run.offer}…", offer_value, style="danger"))
            continue
        label, style = _LABELS[action]
        if action is ActionId.APPROVE and step is not None:
            elements.append(
                button(
                    action,
                    label,
                    value,
                    style=style,
                    confirm=(
                        "Approve this plan?",
                        f"You approve *{inline(step.title, 200)}* for plan {code(run.plan_hash)}.",
                        "Approve",
                    ),
                )
            )
            continue
        elements.append(button(action, label, value, style=style))
    return elements


def _step_line(step: PlannedStep, state: StepState, people: frozenset[str], current: bool) -> str:
    emoji = STEP_EMOJI[state.status]
    if state.status is StepStatus.WAITING and state.waiting_for in {"timer", "monitor"}:
        emoji = _TIMER_EMOJI
    title = inline(step.title, 200)
    line = f"{emoji} *{title}*" if current else f"{emoji} {title}"
    extra: list[str] = []
    if state.approval is not None and state.status is StepStatus.WAITING:
        approvers = sorted({v.user for v in state.approval.votes if v.decision == "approve"})
        need = state.approval.policy.quorum - len(approvers)
        if approvers:
            extra.append("approved by " + ", ".join(mention(u) for u in approvers))
        extra.append(f"waiting for {need} more approval{'s' if need != 1 else ''}")
    elif state.status is StepStatus.WAITING and state.waiting_for == "confirmation":
        extra.append("waiting for a confirmation")
    elif (
        step.kind is StepKind.APPROVAL
        and state.status is StepStatus.SUCCEEDED
        and state.result
        and isinstance(state.result.get("approvers"), list)
    ):
        approvers = [str(u) for u in state.result["approvers"]]
        extra.append("approved by " + ", ".join(mention(u) for u in approvers))
    elif state.status is StepStatus.SUCCEEDED and state.confirmed_by:
        extra.append(f"confirmed by {mention(state.confirmed_by)}")
    evidence = evidence_text(step, state)
    if evidence is not None:
        extra.append(evidence)
    if state.status in {StepStatus.FAILED, StepStatus.BLOCKED} and state.error:
        extra.append(trusted_mentions(state.error, people, 400))
    elif state.note and state.status in {StepStatus.SKIPPED, StepStatus.WAITING}:
        extra.append(trusted_mentions(state.note, people, 300))
    if state.progress is not None and state.status is StepStatus.WAITING:
        bar = progress_bar(state.progress)
        if state.progress_text:
            bar += " " + inline(state.progress_text, 120)
        extra.append(bar)
    if extra:
        line += " — " + " · ".join(extra)
    return line


def evidence_text(step: PlannedStep, state: StepState) -> str | None:
    """Where a gate's evidence came from (`with.evidence`, planned per environment) and, once
    it passed, what it said (`result.evidence`: a summary, or what a person typed)."""
    planned = step.with_.get("evidence")
    found = state.result.get("evidence") if isinstance(state.result, dict) else None
    if not isinstance(planned, dict) and not isinstance(found, dict):
        return None
    source: dict[str, object] = found if isinstance(found, dict) else dict(planned or {})
    label = str(source.get("label") or source.get("source") or "?")
    if state.status is StepStatus.SUCCEEDED and isinstance(found, dict):
        if found.get("summary"):
            return "evidence: " + inline(str(found["summary"]), 300)
        value = found.get("value")
        if isinstance(value, dict) and value:
            seen = ", ".join(str(v) for v in value.values())
            return f"evidence: {inline(label, 80)}, saw {inline(seen, 200)}"
    return "evidence: " + inline(label, 80)


def _checklist(run: Run, people: frozenset[str]) -> list[str]:
    lines: list[str] = []
    group: str | None = None
    for index, (step, state) in enumerate(zip(run.plan, run.steps, strict=True)):
        if step.group != group:
            group = step.group
            if group is not None:
                wave = step.wave or {}
                nodes = ", ".join(code(n, 60) for n in wave.get("nodes", [])[:8])
                more = len(wave.get("nodes", [])) - 8
                nodes += f" +{more}" if more > 0 else ""
                percent = f" ({wave['percent']}%)" if "percent" in wave else ""
                lines.append(f"*{inline(group, 60)}*{percent}: {nodes}")
        indent = "    " if step.group is not None else ""
        line = _step_line(step, state, people, index == run.cursor)
        found = captured_text(run, step, state)
        if found is not None:
            line += (" · " if " — " in line else " — ") + found
        lines.append(indent + line)
    return lines


def captured_text(run: Run, step: PlannedStep, state: StepState) -> str | None:
    """What a step that succeeded found and later steps use (its ``capture``: a rollback's last
    known good height and hash, a backup's snapshot height), as ``found: name `value` ``."""
    if state.status is not StepStatus.SUCCEEDED or not step.capture:
        return None
    shown = [f"{inline(name, 40)} {code(run.values[name], 80)}"
             for name in list(step.capture)[:4] if run.values.get(name) not in (None, "")]
    return "found: " + ", ".join(shown) if shown else None


def _facts(run: Run) -> list[str]:
    facts = [
        f"*Status*\n{RUN_EMOJI[run.status]} {run.status.value}",
        f"*Started by*\n{mention(run.initiator)}",
    ]
    if run.category == "incident":
        facts.append(f"*Commander*\n{mention(run.commander or run.initiator)}")
    if run.page is not None:
        facts.append(f"*On-call*\n{_page_text(run.page)}")
    if run.environment:
        facts.append(f"*Environment*\n{code(run.environment, 60)}")
    for name, value in list(run.params.items())[: max(10 - len(facts), 0)]:
        facts.append(f"*{inline(name, 60)}*\n{code(value, 200)}")
    return facts


def _page_text(page: PageState) -> str:
    """Whether the on-call was paged (bot.pager), and if it failed, why and when it retries."""
    if page.status == "triggered":
        return f":pager: paged via {inline(page.via, 20)} at {page.at.astimezone(UTC):%H:%M} UTC"
    retry = f"; retrying at {page.retry_at.astimezone(UTC):%H:%M:%S} UTC" if page.retry_at else ""
    return (f":warning: paging via {inline(page.via, 20)} failed (attempt {page.attempts}): "
            f"{inline(page.error or 'no answer', 200)}{retry}")


def _current(run: Run, people: frozenset[str]) -> str | None:
    if run.terminal:
        if run.reason:
            return f"{RUN_EMOJI[run.status]} {trusted_mentions(run.reason, people, 1500)}"
        return None
    current = run.current
    parts: list[str] = []
    if run.hold is not None:
        reason = trusted_mentions(run.hold.reason, people, 600)
        if run.status is RunStatus.PAUSED and run.hold.paused:
            parts.append(f":ice_cube: *Paused by a promotion freeze* before its next write step: "
                         f"{reason}. It resumes when the freeze is lifted.")
        else:
            parts.append(f":ice_cube: *Frozen:* {reason}. It pauses before its next write step.")
    if run.status is RunStatus.PAUSED and not (run.hold is not None and run.hold.paused):
        parts.append(":double_vertical_bar: *Paused.* Resume to go on.")
    if run.status is RunStatus.BLOCKED and run.reason:
        parts.append(f":no_entry: *Blocked:* {trusted_mentions(run.reason, people, 1200)}")
    declined = run.auto_rollback
    if (run.status is RunStatus.BLOCKED and declined is not None and current is not None
            and current[0].id == declined.step_id and current[1].attempt == declined.attempt):
        parts.append(":rewind: *Not rolled back automatically:* "
                     f"{trusted_mentions(declined.reason, people, 600)}")
    if current is not None:
        step, state = current
        request = state.approval
        if request is not None and state.status is StepStatus.WAITING:
            policy = request.policy
            what = "skip of" if request.purpose == "skip" else "approval of"
            initiator = "" if policy.allow_initiator else ", not the one who asked"
            parts.append(
                f":raised_hand: *Waiting for the {what} {inline(step.title, 200)}*: "
                f"{policy.quorum} distinct {'person' if policy.quorum == 1 else 'people'} from "
                + ", ".join(code(g, 60) for g in policy.groups)
                + f"{initiator}. Plan {code(run.plan_hash)}. Expires {date(request.expires_at)}."
            )
        elif state.status is StepStatus.WAITING and state.waiting_for == "confirmation":
            who = ", ".join(code(g, 60) for g in step.responders) if step.responders else (
                "an operator"
            )
            need = ", ".join(inline(i.label, 80) for i in step.inputs)
            inputs = f" Needs: {need}." if need else ""
            parts.append(
                f":raised_hand: *Waiting for {who} to confirm {inline(step.title, 200)}.*{inputs}"
            )
    return "\n".join(parts) if parts else None


def run_line(run: Run) -> str:
    """One line about a run, for lists (status, App Home)."""
    where = f" · {code(run.environment, 60)}" if run.environment else ""
    step = ""
    if run.current is not None and not run.terminal:
        step = f" · at _{inline(run.current[0].title, 120)}_"
    return (
        f"{RUN_EMOJI[run.status]} *{inline(run.title, 150)}* {code(run.id, 40)}{where} · "
        f"{run.status.value}{step} · by {mention(run.initiator)}"
    )


def run_card(
    run: Run,
    *,
    people: Collection[str] = (),
    viewer: Viewer | None = None,
    known_workflows: Collection[str] = (),
) -> Message:
    """The card of ``run``. ``people`` may be mentioned in bot-composed text (the configured
    groups' members); ``viewer`` limits the buttons to what that person may use."""
    trusted = frozenset(set(people) | participants(run))
    blocks: list[Block] = [header(run.title, BlockId.CARD_HEADER)]
    blocks.append(section(f"{run_line(run)}", str(BlockId.CARD_FACTS), fields=_facts(run)))
    checklist = chunk_lines(_checklist(run, trusted))
    room = MAX_BLOCKS - 6
    if len(checklist) > room:
        checklist = [*checklist[: room - 1], f"… and more steps ({len(run.plan)} in all)"]
    for index, chunk in enumerate(checklist):
        suffix = f".{index}" if index else ""
        blocks.append(section(chunk, f"{BlockId.CARD_STEPS}{suffix}"))
    current = _current(run, trusted)
    if current:
        blocks.append(section(current, str(BlockId.CARD_CURRENT)))
    wanted = card_actions(run, known_workflows)
    if viewer is not None:
        wanted = [a for a in wanted if viewer_may(run, a, viewer)]
    if wanted:
        blocks.append(actions(str(BlockId.CARD_ACTIONS), _buttons(run, wanted)))
    footer = [
        f"Run {code(run.id, 40)}",
        f"plan {code(run.plan_hash)}",
        f"updated {date(run.updated_at)}",
    ]
    if run.offer and run.terminal:
        footer.append(f"offers {code(run.offer, 60)}")
    blocks.append(context(" · ".join(footer), block_id=BlockId.CARD_FOOTER))
    text = f"{inline(run.title, 150)}: {run.status.value}"
    return Message(text=text, blocks=blocks)
