"""Demo scripts: a console session written down, run without a person (``--script FILE``).

One directive per line (see docs/demo.md): what a person types (``/parthenon …``, ``as``,
``press``, ``submit``, ``/devnet …``), and checks: ``wait <time> for "<text>"`` (it shows up
within that time), ``expect "<text>"`` (it has shown up), each about what was shown since the
last thing the script did, or, with ``card``, about the latest run's card as it is now. The
whole file is parsed before anything starts; the first failing check ends the run with its
line number and a non-zero exit.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.console.errors import ConsoleError, ScriptError, ScriptFailed
from bot.console.screen import Screen
from bot.console.session import Session
from bot.console.users import find_user
from workflows.model import RunStatus

__all__ = ["Step", "load_script", "parse_script", "run_script"]

_DURATION = r"(\d+(?:\.\d+)?)(ms|s|m)?"
_TARGET = r"(?:(card|status)\s+)?"
_WAIT = re.compile(rf"^wait\s+(?:up\s+to\s+)?{_DURATION}\s+for\s+{_TARGET}\"(.*)\"$")
_EXPECT = re.compile(rf"^expect\s+{_TARGET}(no\s+|not\s+)?\"(.*)\"$")
_STATUSES = {s.value for s in RunStatus}
_SLEEP = re.compile(rf"^sleep\s+{_DURATION}$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}
MODAL_WAIT = 10.0  # seconds a `submit` waits for the form to open
MAX_WAIT = 600.0


@dataclass(frozen=True)
class Step:
    line: int
    text: str
    kind: str  # as | slash | press | submit | cancel | devnet | wait | expect | sleep | echo
    #            | show | buttons | home
    arg: str = ""
    # checks: "" = what was shown, "card" = the latest run's card, "status" = its Status field
    target: str = ""
    negate: bool = False
    seconds: float = 0.0
    values: dict[str, str] = field(default_factory=dict)


def _seconds(number: str, unit: str | None, line: int) -> float:
    value = float(number) * _UNITS[unit]
    if value > MAX_WAIT:
        raise ScriptError(f"line {line}: {value:g}s is longer than the {MAX_WAIT:g}s limit")
    return value


def _step(number: int, text: str) -> Step | None:
    if not text or text.startswith("#"):
        return None
    word, _, rest = text.partition(" ")
    rest = rest.strip()
    if word in {"as", "/as"}:
        if find_user(rest) is None:
            raise ScriptError(f"line {number}: no demo user {rest!r}")
        return Step(number, text, "as", rest)
    if word == "/parthenon":
        return Step(number, text, "slash", rest)
    if word == "/devnet":
        return Step(number, text, "devnet", rest)
    if word == "press":
        if not rest:
            raise ScriptError(f"line {number}: press what? (a number or a button's label)")
        return Step(number, text, "press", rest.strip('"'))
    if word == "submit":
        try:
            pairs = shlex.split(rest)
        except ValueError as exc:
            raise ScriptError(f"line {number}: {exc}") from None
        values: dict[str, str] = {}
        for pair in pairs:
            name, sep, value = pair.partition("=")
            if not sep or not name:
                raise ScriptError(f"line {number}: submit takes field=value pairs, not {pair!r}")
            values[name] = value
        return Step(number, text, "submit", values=values)
    if word in {"cancel", "show", "buttons", "home"}:
        return Step(number, text, word, rest)
    if word == "echo":
        return Step(number, text, "echo", rest)
    if (match := _WAIT.match(text)) is not None:
        return _check(Step(number, text, "wait", match.group(4), target=match.group(3) or "",
                           seconds=_seconds(match.group(1), match.group(2), number)))
    if (match := _EXPECT.match(text)) is not None:
        return _check(Step(number, text, "expect", match.group(3), target=match.group(1) or "",
                           negate=bool(match.group(2))))
    if (match := _SLEEP.match(text)) is not None:
        return Step(number, text, "sleep", seconds=_seconds(match.group(1), match.group(2),
                                                              number))
    raise ScriptError(f"line {number}: cannot read {text!r} (see docs/demo.md for the format)")


def _check(step: Step) -> Step:
    if not step.arg:
        raise ScriptError(f"line {step.line}: a check needs some text between the quotes")
    if step.target == "status" and step.arg not in _STATUSES:
        raise ScriptError(f"line {step.line}: {step.arg!r} is not a run status; one of "
                          + ", ".join(sorted(_STATUSES)))
    return step


def parse_script(text: str) -> list[Step]:
    """Every directive of a script, or the first ScriptError (with its line number)."""
    steps = []
    for number, raw in enumerate(text.splitlines(), start=1):
        step = _step(number, raw.strip())
        if step is not None:
            steps.append(step)
    return steps


def load_script(path: Path) -> list[Step]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScriptError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_script(text)


# --- running -----------------------------------------------------------------------------------


class _Runner:
    def __init__(self, session: Session, source: str, stopped: Callable[[], bool]) -> None:
        self.session = session
        self.screen: Screen = session.screen
        self.source = source
        self.stopped = stopped
        self.mark = self.screen.mark()
        self.last_action = "the start"

    def fail(self, step: Step, message: str) -> ScriptFailed:
        return ScriptFailed(f"{self.source}:{step.line}: {message}")

    async def run(self, steps: list[Step]) -> None:
        for step in steps:
            if self.stopped():
                raise ScriptFailed(f"{self.source}:{step.line}: stopped before this line")
            try:
                await self.one(step)
            except ConsoleError as exc:
                raise self.fail(step, str(exc)) from None
        self.session.feed.drain()
        for modal in self.session.feed.modals:
            who = self.session.feed.names.user(modal.user or "")
            title = str((modal.view.get("title") or {}).get("text", "a form"))
            last = steps[-1].line if steps else 0
            raise ScriptFailed(f"{self.source}:{last}: the form “{title}” is still open for "
                               f"{who} at the end (submit or cancel it)")

    def _echo(self, step: Step) -> None:
        style = self.screen.style
        if step.kind in {"wait", "expect", "sleep"}:
            self.screen.note(style.dim(f"… {step.text}"), record=False)
        elif step.kind == "echo":
            self.screen.note(style.yellow(f"# {step.arg}"), record=False)
        else:
            self.screen.note(f"{style.bold(self.session.user.name + '>')} {step.text}")

    def _acted(self, step: Step) -> None:
        """What is shown from now on is what the next checks look at."""
        self.mark = self.screen.mark()
        self.last_action = f"line {step.line} ({step.text})"

    async def one(self, step: Step) -> None:
        session = self.session
        handlers: dict[str, Callable[[Step], Awaitable[None]]] = {
            "slash": self._slash, "press": self._press, "submit": self._submit,
            "cancel": self._cancel, "devnet": self._devnet, "wait": self._wait,
            "expect": self._expect, "sleep": self._sleep, "show": self._show,
            "buttons": self._buttons, "home": self._home,
        }
        if step.kind == "as":
            session.switch(step.arg)
            return
        if step.kind == "echo":
            self._echo(step)
            return
        if step.kind not in {"submit", "cancel"}:  # those wait for the form, then echo
            self._echo(step)
        await handlers[step.kind](step)

    async def _slash(self, step: Step) -> None:
        self.session.feed.drain()
        self._acted(step)
        await self.session.command(step.arg)

    async def _press(self, step: Step) -> None:
        self.session.feed.drain()
        choice = self.session.resolve(step.arg)
        if choice.button.confirm is not None:
            title, question, yes = choice.button.confirm
            self.screen.note(self.screen.style.dim(f"  {title} {question} → {yes}"), record=False)
        self._acted(step)
        await self.session.press(choice)

    async def _submit(self, step: Step) -> None:
        modal = await self.session.wait_modal(MODAL_WAIT)
        self._echo(step)
        if modal is None:
            raise self.fail(step, f"no form opened for {self.session.user.name} within "
                                  f"{MODAL_WAIT:g}s")
        self._acted(step)
        # A refusal is shown and the form stays open (as in Slack): the script may check it
        # and `cancel`; a form left open at the end fails the script.
        await self.session.submit(modal, step.values)

    async def _cancel(self, step: Step) -> None:
        modal = await self.session.wait_modal(MODAL_WAIT)
        self._echo(step)
        if modal is None:
            raise self.fail(step, "no form is open to cancel")
        self.session.cancel(modal)

    async def _devnet(self, step: Step) -> None:
        self._acted(step)
        await self.session.devnet(step.arg.split())

    async def _show(self, step: Step) -> None:
        await self.session.show(step.arg or None)

    async def _buttons(self, step: Step) -> None:
        await self.session.buttons()

    async def _home(self, step: Step) -> None:
        self._acted(step)
        await self.session.home()

    async def _sleep(self, step: Step) -> None:
        await asyncio.sleep(step.seconds)

    async def _found(self, step: Step) -> bool:
        wanted = step.arg.lower()
        if step.target == "card":
            text = await self.session.card_text()
            return text is not None and wanted in text.lower()
        if step.target == "status":
            return await self._status() == wanted
        self.session.feed.drain()
        return wanted in "\n".join(self.screen.since(self.mark)).lower()

    async def _wait(self, step: Step) -> None:
        started = time.monotonic()
        deadline = started + step.seconds
        while not await self._found(step):
            if self.stopped():
                raise self.fail(step, "stopped while waiting")
            if time.monotonic() >= deadline:
                raise self.fail(step, await self._missing(step, f"waited {step.seconds:g}s for"))
            await asyncio.sleep(0.05)
        took = time.monotonic() - started
        self.screen.note(self.screen.style.dim(f"  ✓ after {took:.1f}s"), record=False)

    async def _expect(self, step: Step) -> None:
        found = await self._found(step)
        if found == step.negate:
            verb = "did not expect" if step.negate else "expected"
            raise self.fail(step, await self._missing(step, verb))

    async def _status(self) -> str | None:
        return await self.session.card_status()

    async def _missing(self, step: Step, verb: str) -> str:
        if step.target == "status":
            now = await self._status()
            return (f'{verb} the card of {self.session.run_id} to show the status '
                    f'"{step.arg}"; it shows {now or "no card"}')
        where = ("the latest run's card" if step.target == "card"
                 else f"what was shown since {self.last_action}")
        return f'{verb} "{step.arg}" in {where}'


async def run_script(session: Session, steps: list[Step], source: str,
                     stopped: Callable[[], bool] = lambda: False) -> None:
    """Run ``steps``; raises ScriptFailed at the first failing line."""
    await _Runner(session, source, stopped).run(steps)
