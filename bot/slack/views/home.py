"""App Home: per viewer. What waits for them, the active runs, recent runs, drills that are due."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.slack.escape import code, inline, mentions
from bot.slack.ids import ActionId, BlockId
from bot.slack.payloads import ButtonValue
from bot.slack.views._blocks import Block, actions, button, context, date, divider, header, section
from bot.slack.views.card import Viewer, button_value, run_line
from workflows.drills import DrillDue
from workflows.model import PlannedStep, Run

__all__ = ["HomeItem", "RefusedNode", "drill_line", "drill_reminder", "home_view"]

_HOME_BLOCKS = 100
_PENDING, _ACTIVE, _RECENT = 10, 15, 10  # shown on Home (with 10 drills: 77 blocks at most)


def _shown(count: int, limit: int) -> str:
    """How many there are, when Home shows only some: `/parthenon status` and `runs` list more."""
    return f" ({count}; the first {limit} shown)" if count > limit else ""


@dataclass(frozen=True)
class HomeItem:
    """Something the viewer could do now: approve (or reject) a step, or confirm one."""

    run: Run
    step: PlannedStep
    kind: str  # "approve" | "confirm"


def _pending(item: HomeItem) -> list[Block]:
    run, step = item.run, item.step
    index = run.index_of(step.id)
    state = run.steps[index] if index is not None else None
    value = button_value(run, step, state)
    verb = "approve" if item.kind == "approve" else "confirm"
    text = f"{run_line(run)}\nYou can {verb}: *{inline(step.title, 200)}*"
    if item.kind == "approve":
        text += f" (plan {code(run.plan_hash)})"
        elements = [
            button(ActionId.APPROVE, "Approve", value, style="primary",
                   confirm=("Approve this plan?",
                            f"You approve *{inline(step.title, 200)}* for plan "
                            f"{code(run.plan_hash)}.", "Approve")),
            button(ActionId.REJECT, "Reject…", value, style="danger"),
        ]
    else:
        elements = [button(ActionId.CONFIRM, "Confirm…", value, style="primary")]
    return [section(text), actions(f"{BlockId.HOME_ACTIONS}.{run.id}.{step.id}", elements)]


def home_view(
    viewer: Viewer,
    pending: Sequence[HomeItem],
    active: Sequence[Run],
    recent: Sequence[Run],
    drills: Sequence[DrillDue],
    now: datetime,
    refused: Sequence[RefusedNode] = (),
) -> dict[str, Any]:
    blocks: list[Block] = [header("ParthenonChain operations")]
    blocks.append(context(f"For <@{viewer.user}> · updated {date(now)}"))
    blocks.append(actions(str(BlockId.HOME_ACTIONS),
                          [button(ActionId.REFRESH_HOME, "Refresh", ButtonValue().dump())]))
    blocks.append(section(f"*Waiting for you*{_shown(len(pending), _PENDING)}"))
    if pending:
        for item in pending[:_PENDING]:
            blocks += _pending(item)
    else:
        blocks.append(context("Nothing waits for you."))
    if refused:
        blocks.append(divider())
        blocks.append(section(f"*Nodes refused by the network guard*{_shown(len(refused), 10)}"))
        blocks += [section(_refused_line(node)) for node in refused[:10]]
    blocks.append(divider())
    blocks.append(section(f"*Active runs*{_shown(len(active), _ACTIVE)}"))
    if active:
        blocks += [section(run_line(run)) for run in active[:_ACTIVE]]
    else:
        blocks.append(context("No run is active."))
    blocks.append(divider())
    finished = [r for r in recent if r.terminal]
    blocks.append(section(f"*Recent runs*{_shown(len(finished), _RECENT)}"))
    if finished:
        blocks += [section(run_line(run)) for run in finished[:_RECENT]]
    else:
        blocks.append(context("No finished runs yet."))
    blocks.append(divider())
    blocks.append(section("*Drills*"))
    for drill in drills[:10]:
        block = section(drill_line(drill))
        if drill.is_due and drill.workflow in viewer.startable:
            block["accessory"] = button(ActionId.START_WORKFLOW, "Start drill",
                                        ButtonValue(w=drill.workflow).dump())
        blocks.append(block)
    if not drills:
        blocks.append(context("No drills are defined."))
    return {"type": "home", "blocks": blocks[:_HOME_BLOCKS]}


@dataclass(frozen=True)
class RefusedNode:
    """A node the network guard refuses (wrong genesis), as every replica sees it in Redis."""

    node: str
    environment: str
    reason: str


def _refused_line(node: RefusedNode) -> str:
    return (f":no_entry: {code(node.node, 70)} ({code(node.environment, 60)}): "
            f"{inline(node.reason, 400)} · `/parthenon release-node {inline(node.node, 70)}` "
            "once it is back on its chain")


def drill_line(drill: DrillDue) -> str:
    """One drill with its next due date (or since when it is due) and its last pass."""
    last = date(drill.last_run_at) if drill.last_run_at else "never"
    if drill.is_due:
        state = f":warning: due since {date(drill.due_at, '{date_short_pretty}')}"
    else:
        state = f":calendar: next due {date(drill.due_at, '{date_short_pretty}')}"
    return (f"{state} · *{inline(drill.title, 150)}* ({code(drill.workflow, 60)}) · "
            f"last passed {last}")


def drill_reminder(
    workflow: str, title: str, text: str, startable: bool, who: Collection[str] = ()
) -> list[Block]:
    """A drill reminder for the ops channel, with a button that starts the drill; ``who`` (the
    people who may start it) are mentioned."""
    asked = f"\n{mentions(who)}" if who else ""
    block = section(f":calendar: *{inline(title, 150)}*\n{inline(text, 1000)}{asked}")
    if startable:
        block["accessory"] = button(ActionId.START_WORKFLOW, "Start drill",
                                    ButtonValue(w=workflow).dump(), style="primary")
    return [block]
