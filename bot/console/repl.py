"""The interactive console: a prompt as the current user; forms ask for their fields.

Lines are read on a daemon thread (``input()``, with line editing where readline exists) and
handed to the event loop, so the bot, the engine and the notifier keep running while the
person types, and what they post is drawn above the prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading

from bot.console.errors import ConsoleError
from bot.console.feed import PendingModal
from bot.console.screen import Screen
from bot.console.session import HELP, PressOutcome, Session

__all__ = ["LineReader", "run_repl"]

MODAL_WAIT = 5.0


class LineReader:
    """Reads one line at a time with a given prompt; None at end of input."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen
        self._asks: queue.Queue[str] = queue.Queue()
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._read, name="console-input", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 (line editing and history for input())
        while True:
            prompt = self._asks.get()
            try:
                line: str | None = input(prompt)
            except (EOFError, OSError):
                line = None
            except KeyboardInterrupt:  # pragma: no cover (SIGINT goes to the loop's handler)
                line = None
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
            if line is None:
                return

    async def ask(self, prompt: str, stop: asyncio.Event) -> str | None:
        self.screen.prompting(prompt)
        self._asks.put(prompt)
        getter = asyncio.ensure_future(self._lines.get())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.screen.prompting(None)
            stopper.cancel()
        if not getter.done():
            getter.cancel()
            return None
        return getter.result()


async def _fill(session: Session, reader: LineReader, stop: asyncio.Event,
                modal: PendingModal) -> None:
    """Ask for each field of the form, submit it, ask again for what the bot refused."""
    fields = session.fields(modal)
    values: dict[str, str] = {}
    todo = list(fields)
    session.screen.note(session.style.dim("Fill in the form ('.cancel' closes it):"))
    while True:
        for field in todo:
            while True:
                extra = " (optional)" if field.optional else ""
                if field.choices:
                    extra += f" ({' | '.join(field.choices)})"
                if field.initial:
                    extra += f" [{field.initial}]"
                answer = await reader.ask(f"  {field.label}{extra}: ", stop)
                if answer is None or answer.strip() == ".cancel":
                    session.cancel(modal)
                    return
                typed = answer.strip() or field.initial
                problem = session.check_field(field, typed)
                if problem is None:
                    values[field.name] = typed
                    break
                session.screen.note(f"  ✗ {problem}")
        errors = await session.submit(modal, values)
        if not errors:
            return
        todo = [f for f in fields if f.name in errors] or fields


async def _press(session: Session, reader: LineReader, stop: asyncio.Event, which: str) -> None:
    choice = session.resolve(which)
    if choice.button.confirm is not None:
        title, question, yes = choice.button.confirm
        answer = await reader.ask(f"{title} {question} {yes}? [y/N] ", stop)
        if (answer or "").strip().lower() not in {"y", "yes"}:
            session.screen.note("Not pressed.")
            return
    outcome = await session.press(choice)
    await _after(session, reader, stop, outcome)


async def _after(session: Session, reader: LineReader, stop: asyncio.Event,
                 outcome: PressOutcome) -> None:
    """When the bot opens a form for what was just done, fill it in now."""
    if not outcome.modal_expected:
        await asyncio.sleep(0.3)  # let the immediate effects show before the next prompt
        session.feed.drain()
        return
    modal = await session.wait_modal(MODAL_WAIT, outcome.trigger)
    if modal is not None:
        await _fill(session, reader, stop, modal)


async def handle_line(session: Session, reader: LineReader, stop: asyncio.Event,
                      line: str) -> bool:
    """Do one typed line; False when the person wants to leave."""
    text = line.strip()
    word, _, rest = text.partition(" ")
    rest = rest.strip()
    if not text:
        session.feed.drain()
        return True
    if word in {"quit", "exit", "/quit", "/exit"}:
        return False
    if word in {"help", "/help", "?"}:
        session.screen.write(HELP.split("\n"))
    elif word in {"/as", "as"}:
        if rest:
            session.switch(rest)
        else:
            session.screen.write(session.users_lines())
    elif word == "/parthenon":
        outcome = await session.command(rest)
        await _after(session, reader, stop, outcome)
    elif word == "press":
        await _press(session, reader, stop, rest)
    elif word == "/devnet":
        await session.devnet(rest.split())
    elif word == "show":
        await session.show(rest or None)
    elif word == "buttons":
        await session.buttons()
    elif word == "home":
        await session.home()
        await asyncio.sleep(0.3)
        session.feed.drain()
    elif word.isdigit():
        await _press(session, reader, stop, word)
    else:
        raise ConsoleError(f"unknown console command {word!r}; type help")
    return True


async def run_repl(session: Session, stop: asyncio.Event) -> None:
    """Prompt until quit, end of input, or ``stop`` (Ctrl-C)."""
    reader = LineReader(session.screen)
    while not stop.is_set():
        line = await reader.ask(f"{session.user.name}> ", stop)
        if line is None:
            break
        try:
            if not await handle_line(session, reader, stop, line):
                break
        except ConsoleError as exc:
            session.screen.note(f"✗ {exc}")
