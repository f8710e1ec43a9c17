"""The console's output: what was shown (kept as plain text for the script's expectations) and
the numbers given to the buttons shown, so ``press N`` knows which button N is.

Numbers start again at 1 with each thing the person does; a number keeps pointing at the
button it was shown with until it is given again. Output that arrives while the person is
typing is printed above their prompt, and the prompt is drawn again.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import TextIO

from bot.console.render import Button, Line, Style

__all__ = ["Choice", "Screen", "Where"]


@dataclass(frozen=True)
class Where:
    """Where a shown button lives: a channel message, an ephemeral one, or someone's App Home."""

    kind: str  # "message" | "ephemeral" | "home"
    channel: str | None = None
    ts: str | None = None
    user: str | None = None  # whose ephemeral message or App Home


@dataclass(frozen=True)
class Choice:
    number: int
    button: Button
    where: Where


class Screen:
    def __init__(self, out: TextIO | None = None, style: Style | None = None) -> None:
        self.out = out or sys.stdout
        self.style = style or Style()
        self.transcript: list[str] = []  # every line shown, without colours
        self._choices: dict[int, Choice] = {}
        self._shown: list[Choice] = []  # in the order shown, most recent last
        self._next = 1
        self._prompt: str | None = None
        self._lock = threading.Lock()
        self._line_buffer = _readline_buffer

    # --- numbers -----------------------------------------------------------------------------

    def renumber(self) -> None:
        """The next buttons shown are numbered from 1 again."""
        self._next = 1

    def choice(self, number: int) -> Choice | None:
        return self._choices.get(number)

    def recent_choices(self) -> list[Choice]:
        """Buttons in the order they were shown, most recent first."""
        return list(reversed(self._shown))

    def _number(self, button: Button, where: Where) -> Choice:
        choice = Choice(self._next, button, where)
        self._choices[self._next] = choice
        self._shown.append(choice)
        del self._shown[:-200]
        self._next += 1
        return choice

    def buttons_text(self, buttons: tuple[Button, ...], where: Where) -> str:
        parts = []
        for button in buttons:
            choice = self._number(button, where)
            label = f"[{choice.number}] {button.label}"
            if button.style == "primary":
                label = self.style.green(label)
            elif button.style == "danger":
                label = self.style.red(label)
            parts.append(label)
        return "   ".join(parts)

    # --- output ------------------------------------------------------------------------------

    def show(self, heading: str | None, lines: list[Line], where: Where,
             indent: str = "  ") -> None:
        """A heading and the lines under it; button lines get their numbers now."""
        rows: list[str] = []
        if heading is not None:
            rows.append(heading)
        for line in lines:
            text = self.buttons_text(line.buttons, where) if line.buttons else line.text
            rows.append(indent + text if text else indent.rstrip())
        self.write(rows)

    def note(self, text: str, *, record: bool = True) -> None:
        self.write([text], record=record)

    def write(self, rows: list[str], *, record: bool = True) -> None:
        """Print ``rows``; unless ``record`` is off (the console's own narration), they are
        kept for the checks of a script."""
        with self._lock:
            text = "\n".join(rows)
            if record:
                self.transcript.extend(Style.plain(text).split("\n"))
            redraw = self._prompt is not None and self.style.color
            if redraw:
                self.out.write("\r\x1b[K")
            self.out.write(text + "\n")
            if redraw and self._prompt is not None:
                self.out.write(self._prompt + self._line_buffer())
            self.out.flush()

    def prompting(self, prompt: str | None) -> None:
        """The prompt now on screen (None: no prompt), so output can be drawn above it."""
        with self._lock:
            self._prompt = prompt

    def mark(self) -> int:
        """A position in the transcript: what is shown from here on is "since" it."""
        return len(self.transcript)

    def since(self, mark: int) -> list[str]:
        return self.transcript[mark:]


def _readline_buffer() -> str:
    try:
        import readline
    except ImportError:  # pragma: no cover (no readline on this platform)
        return ""
    return readline.get_line_buffer()
