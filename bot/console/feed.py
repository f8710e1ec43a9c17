"""What the bot does in "Slack", shown as it happens: every Web API call the stand-in received
(messages, edits, thread replies, ephemeral answers, modals, App Home, channels, pins) and every
answer posted to a response URL, in order.

A new message is shown whole; an edited one is shown as the lines that changed (a card's
buttons are shown again only when they changed; numbers shown earlier still press the button as
it is now). Thread replies name the message they are under. Modals opened for someone wait in
``modals`` until they are submitted or closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import re
from dataclasses import dataclass
from typing import Any

from bot.console.render import Line, Names, Style, comparable, render_message, render_view
from bot.console.screen import Screen, Where
from bot.testing.standin import Call, SlackStandIn

__all__ = ["Feed", "PendingModal"]

_RUN_ID = re.compile(r"Run `([A-Za-z0-9][A-Za-z0-9._-]*)`")
_QUIET = {"auth.test", "users.info", "chat.getPermalink", "conversations.info",
          "conversations.join", "api.test"}


@dataclass
class PendingModal:
    trigger_id: str
    view_id: str
    view: dict[str, Any]
    user: str | None


class Feed:
    def __init__(self, standin: SlackStandIn, screen: Screen, names: Names,
                 triggers: dict[str, str], responders: dict[str, tuple[str, str]]) -> None:
        self.standin = standin
        self.screen = screen
        self.names = names
        self.triggers = triggers  # trigger id -> user (the console's own clicks and commands)
        self.responders = responders  # response url name -> (user, channel)
        self.modals: list[PendingModal] = []
        self.homes: dict[str, dict[str, Any]] = {}
        self._seen: dict[tuple[str, str], list[str]] = {}  # comparable lines of each message
        self._calls = 0
        self._responses = 0

    @property
    def style(self) -> Style:
        return self.screen.style

    # --- the loop ----------------------------------------------------------------------------

    def _behind(self) -> bool:
        return len(self.standin.calls) > self._calls or len(self.standin.responses) > (
            self._responses)

    async def run(self) -> None:
        """Show everything as it arrives, until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await self.standin.wait_for(self._behind, within=3600)
            self.drain()

    def drain(self) -> None:
        """Show whatever arrived and was not shown yet."""
        while self._calls < len(self.standin.calls):
            call = self.standin.calls[self._calls]
            self._calls += 1
            self._call(call)
        while self._responses < len(self.standin.responses):
            name, body = self.standin.responses[self._responses]
            self._responses += 1
            self._response(name, body)

    # --- one call ----------------------------------------------------------------------------

    def _call(self, call: Call) -> None:
        method, args = call.method, call.args
        if method in _QUIET:
            return
        if not call.ok:
            error = call.response.get("error", f"HTTP {call.status}")
            if method == "chat.update" and error == "message_not_found":
                note = ("(a card posted in an earlier session is not in this session's Slack "
                        "stand-in; the bot posts it anew)")
            else:
                note = f"(the bot's Slack call {method} failed: {error})"
            self.screen.note(self.style.dim(note))
            return
        if method == "chat.postMessage":
            self._posted(str(call.response.get("channel")), str(call.response.get("ts")), args)
        elif method == "chat.update":
            self._updated(str(args.get("channel")), str(args.get("ts")), args)
        elif method == "chat.postEphemeral":
            self._ephemeral(str(args.get("channel", "")), str(args.get("user", "")),
                            str(args.get("text", "")), args.get("blocks"),
                            str(call.response.get("message_ts", "")))
        elif method in {"views.open", "views.push", "views.update"}:
            view = call.response.get("view") or {}
            self._modal(str(args.get("trigger_id") or ""), str(view.get("id", "")),
                        args.get("view") or {})
        elif method == "views.publish":
            self._home(str(args.get("user_id", "")), args.get("view") or {})
        elif method == "conversations.create":
            channel = call.response.get("channel") or {}
            self.names.channels[str(channel.get("id"))] = str(channel.get("name"))
            name = self.names.channel(str(channel.get("id")))
            kind = "private channel" if channel.get("is_private") else "channel"
            self.screen.note(f"🆕 The bot opened the {kind} {self.style.bold(name)}")
        elif method == "conversations.invite":
            users = ", ".join(self.names.user(u) for u in str(args.get("users", "")).split(",")
                              if u)
            where = self.names.channel(str(args.get("channel")))
            self.screen.note(f"📨 Invited {users} to {where}")
        elif method == "pins.add":
            key = (str(args.get("channel")), str(args.get("timestamp")))
            self.screen.note(f"📌 Pinned {self._title(key)} in {self.names.channel(key[0])}")
        else:
            self.screen.note(self.style.dim(f"(the bot called {method})"))

    def _render(self, text: str, blocks: Any) -> list[Line]:
        return render_message(text, blocks if isinstance(blocks, list) else None, self.names,
                              self.style)

    def _posted(self, channel: str, ts: str, args: dict[str, Any]) -> None:
        lines = self._render(str(args.get("text", "")), args.get("blocks"))
        self._seen[(channel, ts)] = [_key(line) for line in lines]
        thread = str(args.get("thread_ts") or "")
        where = Where("message", channel, ts)
        if thread and thread != ts:
            heading = (f"{self.style.bold(self._place(channel))} · ↳ in the thread of "
                       f"{self._title((channel, thread))}")
            self.screen.show(heading, lines, where, indent="  │ ")
        else:
            self.screen.show(self.style.bold(self._place(channel)) + " · new message",
                             lines, where)

    def _updated(self, channel: str, ts: str, args: dict[str, Any]) -> None:
        message = self.standin.message(channel, ts)
        text = str(args.get("text", message.text if message else ""))
        blocks = args.get("blocks", message.blocks if message else None)
        lines = self._render(text, blocks)
        keys = [_key(line) for line in lines]
        before = self._seen.get((channel, ts), [])
        self._seen[(channel, ts)] = keys
        changed: list[Line] = []
        matcher = difflib.SequenceMatcher(a=before, b=keys, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op in {"replace", "insert"}:
                changed += lines[j1:j2]
            elif op == "delete":
                changed += [Line(self.style.dim("- " + old)) for old in before[i1:i2]
                            if old and not old.startswith("[")]
                if any(old.startswith("[") for old in before[i1:i2]):
                    changed.append(Line(self.style.dim("- (no buttons any more)")))
        if not changed:
            return
        heading = (f"{self.style.bold(self._place(channel))} · ↻ updated "
                   f"{self._title((channel, ts))}")
        self.screen.show(heading, changed, Where("message", channel, ts))

    def _ephemeral(self, channel: str, user: str, text: str, blocks: Any, ts: str) -> None:
        lines = self._render(text, blocks)
        where = Where("ephemeral", channel or None, ts or None, user)
        place = self._place(channel) if channel else "a direct message"
        heading = f"{self.style.bold(place)} · only {self.names.user(user)} sees this"
        self.screen.show(heading, lines, where)

    def _response(self, name: str, body: dict[str, Any]) -> None:
        user, channel = self.responders.get(name, ("", ""))
        self._ephemeral(channel, user, str(body.get("text", "")), body.get("blocks"), "")

    def _modal(self, trigger: str, view_id: str, view: dict[str, Any]) -> None:
        user = self.triggers.get(trigger)
        self.modals.append(PendingModal(trigger, view_id, view, user))
        who = self.names.user(user) if user else "someone"
        self.screen.show(self.style.bold(f"A form opens for {who}"),
                         render_view(view, self.names, self.style), Where("ephemeral"))

    def _home(self, user: str, view: dict[str, Any]) -> None:
        self.homes[user] = view
        lines = render_view(view, self.names, self.style)
        self.screen.show(self.style.bold(f"App Home of {self.names.user(user)}"), lines,
                         Where("home", user=user))

    # --- looking things up -------------------------------------------------------------------

    def _place(self, channel: str) -> str:
        """``#ops``, or the direct message with someone (a user id used as the channel)."""
        if channel[:1] in {"U", "W"}:
            return f"direct message to {self.names.user(channel)}"
        return self.names.channel(channel)

    def _title(self, key: tuple[str, str]) -> str:
        """How a message is named in headings: its header (and run id), else its first line."""
        message = self.standin.message(*key)
        if message is None:
            return "a message"
        header = next((b for b in message.blocks if b.get("type") == "header"), None)
        if header is not None:
            title = str(header.get("text", {}).get("text", ""))
        else:
            lines = self._render(message.text, message.blocks)
            title = next((Style.plain(line.text) for line in lines if line.text.strip()), "")
        title = " ".join(title.split())
        if len(title) > 48:
            title = title[:47] + "…"
        run = _RUN_ID.search(str(message.blocks))
        suffix = f" ({run.group(1)})" if run else ""
        return f"“{title}”{suffix}"

    def close_modal(self, modal: PendingModal) -> None:
        with contextlib.suppress(ValueError):
            self.modals.remove(modal)

    async def wait_modal(self, user: str, within: float, trigger: str | None = None
                         ) -> PendingModal | None:
        """The form opened for ``user`` (for ``trigger``, when given), waiting ``within`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            self.drain()
            for modal in self.modals:
                if modal.user == user and (trigger is None or modal.trigger_id == trigger):
                    return modal
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(0.02)


def _key(line: Line) -> str:
    if line.buttons:
        return "[" + "] [".join(b.label for b in line.buttons) + "]"
    return comparable(line.text)
