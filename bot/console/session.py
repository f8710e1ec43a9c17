"""The console's commands, shared by the interactive prompt and the script runner.

Everything that changes a run goes to the bot the way Slack would send it (``SlackSide``); the
console reads back only what the bot posted (the stand-in) and, to know what is on a card, the
run itself. ``/devnet`` switches the simulated nodes' faults directly: the nodes are the one
thing outside the bot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.console.devnetcontrol import devnet_command
from bot.console.errors import ConsoleError
from bot.console.feed import Feed, PendingModal
from bot.console.render import (
    Button,
    Line,
    Style,
    input_choices,
    input_initial,
    inputs_of,
    render_blocks,
    render_message,
)
from bot.console.screen import Choice, Screen, Where
from bot.console.slackside import Reply, SlackSide
from bot.console.stack import OPS_CHANNEL, OPS_CHANNEL_NAME, DemoStack
from bot.console.users import DEMO_USERS, DemoUser, find_user
from bot.slack.errors import BadPayload
from bot.slack.ids import ActionId
from bot.slack.payloads import ButtonValue
from workflows.errors import WorkflowError
from workflows.offer import asks_first

__all__ = ["HELP", "Field", "PressOutcome", "Session"]

HELP = """\
Console commands (everything else you type goes nowhere):
  /parthenon <command>        the slash command, as the current user, in #ops  (/parthenon help)
  /as <name>                  act as another demo user; /as alone lists them
  press <N | label>           press button N as numbered on screen, or the latest one labelled so
  show [run-id]               the run's card as it is now, with its thread (default: the latest run)
  buttons                     the buttons of the latest run's card and its thread, numbered again
  home                        your App Home: what waits for you, active runs, drills
  /devnet                     the simulated nodes; /devnet <node> shows one
  /devnet <node> <fault> on|off|<value>   switch a fault (stalled_tip, peers, validation_errors,
                              wrong_network, divergent_tip, latency, http_5xx, refuse_connections…)
  /devnet <node> stop|start|restart|reset the node process, or every fault off
  help                        this text
  quit                        stop everything and leave (Ctrl-C and Ctrl-D too)
A form (modal) asks for its fields one by one; an empty answer keeps what the bot prefilled
(shown in brackets) or leaves an optional field empty, '.cancel' closes the form."""

_STARTED = re.compile(r"Started .*? as `([A-Za-z0-9][A-Za-z0-9._-]*)`")


@dataclass(frozen=True)
class Field:
    """One input of a form: a text input, or a select when it has ``choices``; ``initial`` is
    what the bot prefilled (Slack submits it unless the person changes it)."""

    block_id: str
    name: str
    label: str
    optional: bool
    min_length: int
    max_length: int | None
    hint: str
    initial: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class PressOutcome:
    trigger: str
    reply: Reply
    modal_expected: bool


class Session:
    def __init__(self, stack: DemoStack, screen: Screen, feed: Feed, side: SlackSide,
                 user: DemoUser = DEMO_USERS[0]) -> None:
        self.stack = stack
        self.screen = screen
        self.feed = feed
        self.side = side
        self.user = user
        self.earlier_run: str | None = None  # the latest run of an earlier session

    @property
    def style(self) -> Style:
        return self.screen.style

    @property
    def run_id(self) -> str | None:
        """The latest run started (by a command or a button, whoever started it), else the
        latest run of an earlier session on the same data dir."""
        for text in reversed(self.screen.transcript):
            found = _STARTED.search(text)
            if found:
                return found.group(1)
        return self.earlier_run

    async def find_earlier_run(self) -> str | None:
        """The most recently updated active run in Redis, else the most recent run."""
        if self.stack.bot is None:
            return None
        service = self.stack.bot.runtime.service
        runs = await service.active_runs() or await service.recent_runs(1)
        if runs:
            self.earlier_run = max(runs, key=lambda r: r.updated_at).id
        return self.earlier_run

    # --- people ------------------------------------------------------------------------------

    def switch(self, name: str) -> DemoUser:
        user = find_user(name)
        if user is None:
            raise ConsoleError(f"there is no demo user {name!r}; one of "
                               + ", ".join(u.name for u in DEMO_USERS))
        self.user = user
        self.screen.note(f"👤 You are now {self.style.bold(user.name)} ({user.role}, {user.id}).")
        return user

    def users_lines(self) -> list[str]:
        rows = []
        for user in DEMO_USERS:
            mark = "→" if user == self.user else " "
            rows.append(f"{mark} {user.name:<5} {user.id}  {user.role} "
                        f"({', '.join(user.groups)})")
        return rows

    # --- /parthenon --------------------------------------------------------------------------

    async def command(self, text: str) -> PressOutcome:
        """``/parthenon <text>`` as the current user; the immediate answer is shown."""
        self.screen.renumber()
        trigger = self.side.trigger(self.user.id)
        reply = await self.side.command(self.user.id, text, OPS_CHANNEL, OPS_CHANNEL_NAME,
                                        trigger)
        if reply.status != 200:
            raise ConsoleError(f"the bot answered HTTP {reply.status}: {reply.text[:200]}")
        body = reply.json
        if isinstance(body, dict) and (body.get("text") or body.get("blocks")):
            lines = render_message(str(body.get("text", "")), body.get("blocks"),
                                   self.feed.names, self.style)
            heading = (f"{self.style.bold('#' + OPS_CHANNEL_NAME)} · only "
                       f"{self.feed.names.user(self.user.id)} sees this")
            self.screen.show(heading, lines, Where("ephemeral", OPS_CHANNEL, None, self.user.id))
        self.feed.drain()
        return PressOutcome(trigger, reply, modal_expected=not reply.text)

    # --- buttons -----------------------------------------------------------------------------

    def resolve(self, which: str) -> Choice:
        """Button N as numbered on screen, or the most recently shown button with that label
        (case and a trailing … ignored) that is still on its message."""
        which = which.strip().strip('"')
        if which.isdigit():
            choice = self.screen.choice(int(which))
            if choice is None:
                raise ConsoleError(f"no button is numbered {which} on screen")
            return choice
        wanted = _label_key(which)
        if not wanted:
            raise ConsoleError("press what? give a button's number or label")
        for choice in self.screen.recent_choices():
            if _label_key(choice.button.label) == wanted and self._current(choice) is not None:
                return choice
        for choice in self.screen.recent_choices():
            if _label_key(choice.button.label).startswith(wanted) and self._current(
                    choice) is not None:
                return choice
        raise ConsoleError(f"no button labelled {which!r} is on screen now")

    def _current(self, choice: Choice) -> Button | None:
        """The button as its message shows it now (a card's buttons change as the run goes)."""
        where = choice.where
        if where.kind != "message" or where.channel is None or where.ts is None:
            return choice.button
        message = self.stack.standin.message(where.channel, where.ts)
        if message is None:
            return None
        buttons = [b for line in render_blocks(message.blocks) for b in line.buttons]
        same = [b for b in buttons if b.action_id == choice.button.action_id]
        exact = [b for b in same if b.label == choice.button.label]
        found = exact or same
        return found[0] if found else None

    async def press(self, choice: Choice) -> PressOutcome:
        """Click the button as the current user, the way Slack sends a click."""
        button = self._current(choice)
        if button is None:
            raise ConsoleError(f"button {choice.number} ({choice.button.label}) is not on its "
                               "message any more (the message changed); `show` shows it now")
        self.screen.renumber()
        where = choice.where
        trigger = self.side.trigger(self.user.id)
        message_body: dict[str, Any] | None = None
        if where.kind == "message" and where.channel and where.ts:
            message = self.stack.standin.message(where.channel, where.ts)
            if message is not None:
                message_body = {"type": "message", "ts": message.ts, "text": message.text,
                                "blocks": message.blocks}
        channel = where.channel if where.kind != "home" else None
        if where.kind == "ephemeral" and channel is None:
            channel = OPS_CHANNEL
        reply = await self.side.click(self.user.id, button, trigger, channel=channel,
                                      message=message_body, message_ts=where.ts,
                                      ephemeral=where.kind == "ephemeral")
        if reply.status != 200:
            raise ConsoleError(f"the bot answered HTTP {reply.status}: {reply.text[:200]}")
        return PressOutcome(trigger, reply, await self._expects_modal(button))

    async def _expects_modal(self, button: Button) -> bool:
        """Reject, skip and abort ask for a reason; confirm asks only for a step's inputs; an
        offer asks for the parameters of what it starts, a drill only when one is unknown."""
        if button.action_id in {ActionId.REJECT, ActionId.SKIP, ActionId.ABORT}:
            return True
        if button.action_id not in {ActionId.CONFIRM, ActionId.START_WORKFLOW}:
            return False
        if self.stack.bot is None:
            return False
        service = self.stack.bot.runtime.service
        try:
            value = ButtonValue.parse(button.value)
            if button.action_id == ActionId.START_WORKFLOW:
                target = service.definition(value.w or "")
                return asks_first(target, {}, offered=value.r is not None)
            run = await service.get(value.run_id())
        except (BadPayload, WorkflowError):
            return False
        index = run.index_of(value.s or "")
        return index is not None and bool(run.plan[index].inputs)

    # --- forms -------------------------------------------------------------------------------

    async def wait_modal(self, within: float, trigger: str | None = None) -> PendingModal | None:
        return await self.feed.wait_modal(self.user.id, within, trigger)

    @staticmethod
    def fields(modal: PendingModal) -> list[Field]:
        found = []
        for block in inputs_of(modal.view):
            element = block.get("element") or {}
            field_initial, choices = input_initial(element), input_choices(element)
            found.append(Field(
                block_id=str(block.get("block_id", "")),
                name=str(element.get("action_id", "")),
                label=str((block.get("label") or {}).get("text", "")),
                optional=bool(block.get("optional")),
                min_length=int(element.get("min_length") or 0),
                max_length=element.get("max_length"),
                hint=str((block.get("hint") or {}).get("text", "")),
                initial=field_initial,
                choices=choices,
            ))
        return found

    @staticmethod
    def check_field(field: Field, value: str) -> str | None:
        """What Slack's own client refuses before sending: empty required, too short or long,
        not one of a select's options."""
        if not value:
            return None if field.optional else f"{field.label} is required"
        if field.choices and value not in field.choices:
            return f"{field.label} is one of {', '.join(field.choices)}"
        if len(value) < field.min_length:
            return f"{field.label} needs at least {field.min_length} characters"
        if field.max_length is not None and len(value) > int(field.max_length):
            return f"{field.label} takes at most {field.max_length} characters"
        return None

    async def submit(self, modal: PendingModal, values: dict[str, str]) -> dict[str, str]:
        """Submit the form with ``values`` by field name (a field not given keeps what the bot
        prefilled); returns the bot's errors by field name (empty: the form closed)."""
        fields = self.fields(modal)
        names = {f.name for f in fields}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConsoleError(f"the form has no field {', '.join(unknown)} (its fields: "
                               + (", ".join(sorted(names)) or "none") + ")")
        sent = {f.name: values.get(f.name, f.initial) for f in fields}
        problems = [p for f in fields if (p := self.check_field(f, sent[f.name]))]
        if problems:
            raise ConsoleError("; ".join(problems))
        self.screen.renumber()
        by_block: dict[str, str | None] = {f.block_id: (sent[f.name] or None) for f in fields}
        reply = await self.side.submit(self.user.id, modal.view_id, modal.view, by_block)
        if reply.status != 200:
            raise ConsoleError(f"the bot answered HTTP {reply.status}: {reply.text[:200]}")
        body = reply.json
        if isinstance(body, dict) and body.get("response_action") == "errors":
            errors = {str(k): str(v) for k, v in (body.get("errors") or {}).items()}
            by_name = {f.block_id: f.name for f in fields}
            named = {by_name.get(k, k): v for k, v in errors.items()}
            for name, text in named.items():
                rendered = render_message(text, None, self.feed.names, self.style)
                self.screen.note(f"✗ The form refused {name}: "
                                 + " ".join(line.text for line in rendered))
            return named
        self.feed.close_modal(modal)
        self.screen.note(self.style.dim("(form submitted)"))
        return {}

    def cancel(self, modal: PendingModal) -> None:
        self.feed.close_modal(modal)
        self.screen.note(self.style.dim("(form closed without submitting)"))

    # --- looking -----------------------------------------------------------------------------

    async def card_lines(self, run_id: str | None = None) -> tuple[str, list[Line]] | None:
        """(run id, the card's lines as it is now), or None when it is not posted yet."""
        run_id = run_id or self.run_id
        if run_id is None or self.stack.bot is None:
            return None
        where = await self.stack.bot.runtime.store.get_card(run_id)
        if where is None or not where[1]:
            return None
        message = self.stack.standin.message(*where)
        if message is None:
            return None
        return run_id, render_message(message.text, message.blocks, self.feed.names, self.style)

    async def card_status(self, run_id: str | None = None) -> str | None:
        """The run status the card shows now (its Status field), None before it is posted."""
        run_id = run_id or self.run_id
        if run_id is None or self.stack.bot is None:
            return None
        where = await self.stack.bot.runtime.store.get_card(run_id)
        message = self.stack.standin.message(*where) if where and where[1] else None
        if message is None:
            return None
        for block in message.blocks:
            for item in block.get("fields") or []:
                head, _, value = str(item.get("text", "")).partition("\n")
                if head.strip("*") == "Status" and value.split():
                    return value.split()[-1]
        return None

    async def card_text(self, run_id: str | None = None) -> str | None:
        found = await self.card_lines(run_id)
        if found is None:
            return None
        rows = []
        for line in found[1]:
            rows.append(" ".join(f"[{b.label}]" for b in line.buttons) if line.buttons
                        else Style.plain(line.text))
        return "\n".join(rows)

    async def show(self, run_id: str | None = None, *, thread: bool = True) -> None:
        """The run's card as it is now, numbered buttons, and its thread under it."""
        self.feed.drain()
        run_id = run_id or self.run_id
        if run_id is None:
            raise ConsoleError("no run started yet; give a run id (see /parthenon runs)")
        if self.stack.bot is None:
            raise ConsoleError("the bot is not running")
        where = await self.stack.bot.runtime.store.get_card(run_id)
        message = self.stack.standin.message(*where) if where and where[1] else None
        if where is None or message is None:
            # Not posted in this session (the stand-in forgets between sessions): the bot
            # shows it to the person who asks, with its buttons.
            await self.command(f"status {run_id}")
            return
        self.screen.renumber()
        channel, ts = where
        names = self.feed.names
        lines = render_message(message.text, message.blocks, names, self.style)
        self.screen.show(f"{self.style.bold(names.channel(channel))} · the card of {run_id} now",
                         lines, Where("message", channel, ts))
        if not thread:
            return
        for reply in self.stack.standin.replies(channel, ts):
            self.screen.show(self.style.dim("  ↳ in its thread"),
                             render_message(reply.text, reply.blocks, names, self.style),
                             Where("message", channel, reply.ts), indent="  │ ")

    async def buttons(self) -> None:
        """The buttons of the latest run's card and of its thread's open requests, renumbered."""
        self.feed.drain()
        run_id = self.run_id
        if run_id is None or self.stack.bot is None:
            raise ConsoleError("no run started yet")
        where = await self.stack.bot.runtime.store.get_card(run_id)
        if where is None or not where[1]:
            raise ConsoleError(f"the card of {run_id} is not posted (yet)")
        self.screen.renumber()
        standin = self.stack.standin
        messages = [standin.message(*where), *standin.replies(*where)]
        shown = 0
        for message in messages:
            if message is None:
                continue
            lines = [line for line in render_message(message.text, message.blocks,
                                                     self.feed.names, self.style) if line.buttons]
            if lines:
                shown += 1
                kind = "card" if message.ts == where[1] else "thread"
                self.screen.show(self.style.dim(f"{kind} of {run_id}:"), lines,
                                 Where("message", message.channel, message.ts))
        if not shown:
            self.screen.note(f"The run {run_id} shows no buttons now.")

    async def home(self) -> None:
        self.screen.renumber()
        reply = await self.side.home_opened(self.user.id)
        if reply.status != 200:
            raise ConsoleError(f"the bot answered HTTP {reply.status}")

    # --- the devnet ----------------------------------------------------------------------------

    async def devnet(self, args: list[str]) -> None:
        await devnet_command(self.stack, self.screen, args)


def _label_key(label: str) -> str:
    return " ".join(label.lower().replace("…", "").replace("...", "").split())
