"""Every de-duplication key, built in one place.

A command or a start given a key is applied once per key: the store remembers the keys a run
has seen (``RunStore.commit``, ``RunStore.delivered``), and a start's key reserves its run id
(``RunStore.reserve_start``). The same key again is a redelivery (Slack's retry, a second
replica, a worker resumed after a crash) and changes nothing; another key is another request.
So a key must hold exactly what tells one request from another, and nothing that changes when
the same request arrives again.

These strings are kept in Redis with the runs, so a key's text never changes: a run written
before would apply a redelivered command twice. Each function below says what makes its key
unique and why. (A key of Redis itself is named in ``workflows.keys``; the deferred tasks'
names, such as ``home:<user>``, are no de-duplication keys.)
"""

from __future__ import annotations

from typing import Literal

from workflows.freezes import Freeze

__all__ = [
    "api_start",
    "auto_rollback",
    "auto_rollback_declined",
    "bot_step_command",
    "export_button",
    "form_start",
    "freeze_hold",
    "freeze_release",
    "offer_start",
    "page",
    "press",
    "slash",
    "start_button",
    "step_attempt",
    "superseded_by",
    "take_over",
]

Verb = Literal["approve", "reject", "confirm", "pause", "resume", "abort", "retry", "skip"]


# --- people, in Slack -------------------------------------------------------------------------


def press(verb: Verb, delivery: str) -> str:
    """A command given by a card's button or by the modal it opened: the command and the
    delivery (``ActionPayload.delivery``: who, and the press's ``action_ts`` or trigger id;
    ``ViewPayload.delivery``: who, and the modal's view id). Slack delivering the same press
    again carries the same delivery, a second press another one: it applies if it still may."""
    return f"{verb}:{delivery}"


def slash(trigger_id: str) -> str:
    """A `/parthenon` command (a start, a pause, an export...): its trigger id, Slack's id of
    this one invocation, which a redelivery repeats and the next command does not."""
    return f"slash:{trigger_id}"


def offer_start(parent_run_id: str, workflow: str) -> str:
    """A follow-up a halted run offers (its card's button, or the start form it opened): one
    ``workflow`` run per offering run, however often or by whom it is pressed or sent."""
    return f"offer:{parent_run_id}:{workflow}"


def start_button(workflow: str, user: str, press_id: str | None) -> str:
    """A due drill's start button: the workflow, who pressed, and the press (its trigger id,
    else the message it is on): a redelivery starts nothing new, another press another run."""
    return f"button:{workflow}:{user}:{press_id}"


def form_start(workflow: str, user: str, view: str) -> str:
    """A start form no offer opened (a due drill's, when a parameter is unknown): the workflow,
    who sent it and the modal (its view id, else its metadata): one run per form, however often
    Slack delivers its submission."""
    return f"form:{workflow}:{user}:{view}"


def export_button(version: int, user: str) -> str:
    """The scope of an export mark (``CardStore.mark_export``) taken by the card's "Export
    incident log" button: the card version the button showed and who pressed, so a double
    click posts the log once and a press on a newer card posts it again."""
    return f"button:v{version}:{user}"


# --- the run API ------------------------------------------------------------------------------


def api_start(token: str, idempotency_key: str) -> str:
    """A start through the run API: the token's name and the ``Idempotency-Key`` the client
    sent; two tokens using the same idempotency key start two runs."""
    return f"api:{token}:{idempotency_key}"


# --- the bot itself ---------------------------------------------------------------------------


def superseded_by(run_id: str) -> str:
    """A halted run ended because ``run_id`` took its locks over: one such end per taker."""
    return f"superseded-by:{run_id}"


def take_over(actor: str, reason: str) -> str:
    """Taking a run's locks over: who and why (the same take-over sent again pauses once)."""
    return f"takeover:{actor}:{reason}"


def _setting(freeze: Freeze) -> str:
    """One setting of a freeze (the same freeze set again later is another setting)."""
    return f"{freeze.id}@{freeze.at.isoformat() if freeze.at else ''}"


def freeze_hold(freeze: Freeze) -> str:
    """A run held by a freeze: the freeze and when it was set, so every replica's sweep holds
    a run once per setting, and a freeze set again after its lift holds it again."""
    return f"hold:{_setting(freeze)}"


def freeze_release(freeze: Freeze) -> str:
    """A run released when a freeze is lifted: the setting lifted (a lift interrupted and
    finished by another replica releases once)."""
    return f"release:{_setting(freeze)}"


def page(attempts: int, status: str) -> str:
    """The pager's record of a page on its incident: the attempt and what it came to, so a
    pass repeated after a crash records it once and each retry is recorded."""
    return f"page:{attempts}:{status}"


def auto_rollback(run_id: str, step_id: str, attempt: int) -> str:
    """The rollback the bot starts for a halted run: the run, the step and the attempt that
    halted, so two replicas or a second pass start one rollback."""
    return f"auto-rollback:{run_id}:{step_id}:{attempt}"


def auto_rollback_declined(run_id: str, step_id: str, attempt: int) -> str:
    """The record that no rollback was started for that halt (the same three as the start)."""
    return f"auto-rollback-declined:{run_id}:{step_id}:{attempt}"


def step_attempt(run_id: str, step_id: str, attempt: int) -> str:
    """One attempt of a step (``StepContext.idempotency_key``): the run, the step and the
    attempt. A step re-run after a crash is the same attempt, a retry another one; the bot's
    own steps start their child run with it, webhooks get it as ``Idempotency-Key``."""
    return f"{run_id}:{step_id}:{attempt}"


def bot_step_command(attempt_key: str, run_id: str) -> str:
    """A command a bot step gives another run: the step attempt and the run it acts on."""
    return f"{attempt_key}:{run_id}"
