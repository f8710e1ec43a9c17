"""Block Kit to terminal text: what the console shows for every message, modal and App Home.

Pure: blocks and the names of people and channels in, lines out. mrkdwn becomes plain text
(bold/italic as ANSI when colour is on, else just the words), mentions become ``@name``, dates
their fallback text, emoji codes their characters; text the bot escaped (``&lt;``, the
zero-width space before a literal ``*``) shows as it was typed. Buttons are kept as data on the
line that shows them, so the screen can number them and the console can press them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EMOJI",
    "Button",
    "Line",
    "Names",
    "Style",
    "comparable",
    "input_choices",
    "input_initial",
    "inputs_of",
    "mrkdwn",
    "render_blocks",
    "render_message",
    "render_view",
]

EMOJI: dict[str, str] = {
    "white_check_mark": "✅",
    "x": "❌",
    "raised_hand": "✋",
    "hourglass_flowing_sand": "⏳",
    "hourglass": "⌛",
    "arrow_forward": "▶️",
    "white_circle": "⚪",
    "fast_forward": "⏩",
    "no_entry": "⛔",
    "no_entry_sign": "🚫",
    "arrows_counterclockwise": "🔄",
    "double_vertical_bar": "⏸️",
    "octagonal_sign": "🛑",
    "rocket": "🚀",
    "alarm_clock": "⏰",
    "checkered_flag": "🏁",
    "speech_balloon": "💬",
    "rotating_light": "🚨",
    "warning": "⚠️",
    "ice_cube": "🧊",
    "sunny": "☀️",
    "stethoscope": "🩺",
    "boom": "💥",
    "calendar": "📅",
    "pushpin": "📌",
    "lock": "🔒",
    "key": "🔑",
}

_FENCE = re.compile(r"```(.*?)```", re.DOTALL)
_CODE = re.compile(r"`([^`\n]*)`")
_SPAN = re.compile(r"\x05(\d+)\x06")
_ANGLE = re.compile(r"<([^<>\n]+)>")
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
_BOLD = re.compile(r"\*([^*\n]+)\*")
# An underscore inside a word (node_name) is a letter, not the end of the italics.
_ITALIC = re.compile(
    r"(?<![A-Za-z0-9])_(?=\S)((?:[^_\n]|(?<=[A-Za-z0-9])_(?=[A-Za-z0-9]))+?)(?<=\S)_(?![A-Za-z0-9])"
)
_STRIKE = re.compile(r"~([^~\n]+)~")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_DATE_TOKEN = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})? UTC")
# A literal formatting character: the bot put a zero-width space before it (bot.slack.escape).
_LITERALS = {"\u200b*": "\x01", "\u200b_": "\x02", "\u200b~": "\x03", "\u200b`": "\x04"}
_RESTORE = {"\x01": "*", "\x02": "_", "\x03": "~", "\x04": "`"}


@dataclass(frozen=True)
class Names:
    """Who ``<@U…>`` and ``<#C…>`` are."""

    users: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)  # grows as the bot opens channels

    def user(self, user_id: str) -> str:
        return "@" + self.users.get(user_id, user_id)

    def channel(self, channel_id: str) -> str:
        return "#" + self.channels.get(channel_id, channel_id)


@dataclass(frozen=True)
class Style:
    """ANSI attributes when ``color`` is on; plain text otherwise (scripts, pipes, NO_COLOR)."""

    color: bool = False

    def _wrap(self, text: str, on: str, off: str) -> str:
        return f"\x1b[{on}m{text}\x1b[{off}m" if self.color and text else text

    def bold(self, text: str) -> str:
        return self._wrap(text, "1", "22")

    def italic(self, text: str) -> str:
        return self._wrap(text, "3", "23")

    def dim(self, text: str) -> str:
        return self._wrap(text, "2", "22")

    def strike(self, text: str) -> str:
        return self._wrap(text, "9", "29")

    def code(self, text: str) -> str:
        return self._wrap(text, "36", "39")

    def green(self, text: str) -> str:
        return self._wrap(text, "32", "39")

    def red(self, text: str) -> str:
        return self._wrap(text, "31", "39")

    def yellow(self, text: str) -> str:
        return self._wrap(text, "33", "39")

    @staticmethod
    def plain(text: str) -> str:
        return _ANSI.sub("", text)


@dataclass(frozen=True)
class Button:
    """A button as the message carried it (``value`` is sent back when it is pressed)."""

    action_id: str
    label: str
    value: str
    block_id: str = ""
    style: str | None = None
    confirm: tuple[str, str, str] | None = None  # (title, question, yes) already plain text

    def payload(self) -> dict[str, Any]:
        """The ``actions[0]`` Slack sends when this button is clicked (without action_ts)."""
        return {
            "type": "button",
            "action_id": self.action_id,
            "block_id": self.block_id or "b",
            "value": self.value,
            "text": {"type": "plain_text", "text": self.label, "emoji": True},
        }


@dataclass(frozen=True)
class Line:
    """One line to show; a line of buttons carries them (their numbers are the screen's)."""

    text: str
    buttons: tuple[Button, ...] = ()


def comparable(text: str) -> str:
    """A line as it matters for "did it change": no colours, no times."""
    return _DATE_TOKEN.sub("<time>", Style.plain(text))


# --- mrkdwn ------------------------------------------------------------------------------------


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _angle(token: str, names: Names, style: Style) -> str:
    """``<@U1>``, ``<#C1|name>``, ``<!here>``, ``<!date^…|fallback>``, ``<url|label>``."""
    if token.startswith("@"):
        return style.bold(names.user(token[1:].split("|", 1)[0]))
    if token.startswith("#"):
        channel, _, label = token[1:].partition("|")
        return style.bold("#" + label) if label else style.bold(names.channel(channel))
    if token.startswith("!"):
        body, _, fallback = token[1:].partition("|")
        if body.startswith("date^"):
            return fallback or body
        return style.bold("@" + (fallback or body.split("^", 1)[0]))
    url, _, label = token.partition("|")
    return f"{label} ({url})" if label else url


def _inline(segment: str, names: Names, style: Style) -> str:
    """mrkdwn outside code spans."""
    out = _ANGLE.sub(lambda m: _angle(m.group(1), names, style), segment)
    out = _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), out)
    out = _BOLD.sub(lambda m: style.bold(m.group(1)), out)
    out = _ITALIC.sub(lambda m: style.italic(m.group(1)), out)
    out = _STRIKE.sub(lambda m: style.strike(m.group(1)), out)
    return _unescape(out)


def _spans(text: str, names: Names, style: Style) -> str:
    """Code spans are set aside (nothing inside them is formatting), the rest converted with
    placeholders in their place (bold may run across a span), then the spans put back."""
    spans: list[str] = []

    def aside(match: re.Match[str]) -> str:
        spans.append(style.code("`" + _unescape(match.group(1)) + "`"))
        return f"\x05{len(spans) - 1}\x06"

    out = _inline(_CODE.sub(aside, text), names, style)
    return _SPAN.sub(lambda m: spans[int(m.group(1))], out)


def mrkdwn(text: str, names: Names | None = None, style: Style | None = None) -> str:
    """Slack mrkdwn as terminal text (may span several lines)."""
    names = names or Names()
    style = style or Style()
    for literal, placeholder in _LITERALS.items():
        text = text.replace(literal, placeholder)
    pieces: list[str] = []
    last = 0
    for match in _FENCE.finditer(text):
        pieces.append(_spans(text[last : match.start()], names, style))
        body = _unescape(match.group(1)).strip("\n")
        pieces.append("\n" + "\n".join("  " + row for row in body.split("\n")) + "\n")
        last = match.end()
    pieces.append(_spans(text[last:], names, style))
    out = "".join(pieces).replace("\u200b", "")
    for placeholder, literal in _RESTORE.items():
        out = out.replace(placeholder, literal)
    return out.strip("\n")


def _plain_text(obj: Any, names: Names, style: Style) -> str:
    """A text object: plain_text is shown as it is (unescaped), mrkdwn converted."""
    if not isinstance(obj, dict):
        return str(obj or "")
    raw = str(obj.get("text", ""))
    if obj.get("type") == "mrkdwn":
        return mrkdwn(raw, names, style)
    return _unescape(raw).replace("\u200b", "")


# --- blocks ------------------------------------------------------------------------------------


def _button(element: dict[str, Any], block_id: str, names: Names, style: Style) -> Button:
    confirm = None
    spec = element.get("confirm")
    if isinstance(spec, dict):
        confirm = (
            _plain_text(spec.get("title"), names, style),
            Style.plain(_plain_text(spec.get("text"), names, Style())),
            _plain_text(spec.get("confirm"), names, style) or "Yes",
        )
    return Button(
        action_id=str(element.get("action_id", "")),
        label=_plain_text(element.get("text"), names, Style()),
        value=str(element.get("value", "")),
        block_id=block_id,
        style=element.get("style"),
        confirm=confirm,
    )


def _lines(text: str) -> list[Line]:
    return [Line(row) for row in text.split("\n")]


def _field(obj: Any, names: Names, style: Style) -> str:
    """A section field ``*Label*\\nvalue`` as ``Label: value`` on one line."""
    raw = str(obj.get("text", "")) if isinstance(obj, dict) else str(obj)
    head, sep, rest = raw.partition("\n")
    if sep and head.startswith("*") and head.endswith("*") and len(head) > 2:
        label = _plain_text({"type": "mrkdwn", "text": head[1:-1]}, names, Style())
        value = _plain_text({"type": "mrkdwn", "text": rest}, names, style).replace("\n", " ")
        return f"{style.dim(label + ':')} {value}"
    return _plain_text(obj, names, style).replace("\n", " ")


def _fields(fields: list[Any], names: Names, style: Style) -> list[Line]:
    cells = [_field(f, names, style) for f in fields]
    width = max((len(Style.plain(c)) for c in cells[::2]), default=0)
    width = min(width, 40)
    rows: list[Line] = []
    for i in range(0, len(cells), 2):
        left = cells[i]
        if i + 1 < len(cells):
            pad = " " * max(2, width - len(Style.plain(left)) + 3)
            rows.append(Line(left + pad + cells[i + 1]))
        else:
            rows.append(Line(left))
    return rows


def _element_text(element: Any, names: Names, style: Style) -> str:
    if not isinstance(element, dict):
        return ""
    kind = element.get("type")
    if kind in {"mrkdwn", "plain_text"}:
        return _plain_text(element, names, style)
    if kind == "image":
        return f"[{element.get('alt_text', 'image')}]"
    if kind == "text":
        return str(element.get("text", ""))
    if kind == "user":
        return names.user(str(element.get("user_id", "")))
    if kind == "link":
        return str(element.get("text") or element.get("url", ""))
    if kind == "emoji":
        return EMOJI.get(str(element.get("name", "")), f":{element.get('name')}:")
    elements = element.get("elements")
    if isinstance(elements, list):
        return "".join(_element_text(e, names, style) for e in elements)
    return ""


def _block(block: dict[str, Any], names: Names, style: Style) -> list[Line]:
    kind = block.get("type")
    block_id = str(block.get("block_id", ""))
    if kind == "header":
        title = _plain_text(block.get("text"), names, Style())
        return [Line(style.bold(f"━━ {title} ━━"))]
    if kind == "section":
        out: list[Line] = []
        if block.get("text"):
            out += _lines(_plain_text(block["text"], names, style))
        if isinstance(block.get("fields"), list):
            out += _fields(block["fields"], names, style)
        accessory = block.get("accessory")
        if isinstance(accessory, dict):
            if accessory.get("type") == "button":
                out.append(Line("", (_button(accessory, block_id, names, style),)))
            else:
                out.append(Line(style.dim(f"[{accessory.get('type', 'element')}]")))
        return out
    if kind == "context":
        parts = [_element_text(e, names, style) for e in block.get("elements", [])]
        text = " · ".join(p for p in parts if p)
        return [Line(style.dim(row)) for row in text.split("\n")]
    if kind == "divider":
        return [Line(style.dim("─" * 48))]
    if kind == "actions":
        buttons: list[Button] = []
        others: list[str] = []
        for element in block.get("elements", []):
            if isinstance(element, dict) and element.get("type") == "button":
                buttons.append(_button(element, block_id, names, style))
            elif isinstance(element, dict):
                others.append(f"[{element.get('type', 'element')}]")
        out = [Line("", tuple(buttons))] if buttons else []
        if others:
            out.append(Line(style.dim(" ".join(others))))
        return out
    if kind == "input":
        return _input(block, names, style)
    if kind == "image":
        return [Line(style.dim(f"[image: {block.get('alt_text', '')}]"))]
    if kind == "rich_text":
        return _lines(_element_text(block, names, style))
    return [Line(style.dim(f"[{kind} block]"))]


def _input(block: dict[str, Any], names: Names, style: Style) -> list[Line]:
    element = block.get("element") or {}
    label = _plain_text(block.get("label"), names, Style())
    name = element.get("action_id", "")
    optional = " (optional)" if block.get("optional") else ""
    prefilled = input_initial(element)
    value = f" = {prefilled}" if prefilled else ""
    out = [Line(f"✎ {style.bold(label)}{optional}{value}  {style.dim(f'[field {name}]')}")]
    choices = input_choices(element)
    if choices:
        out.append(Line("  " + style.dim("one of: " + ", ".join(choices))))
    if block.get("hint"):
        out.append(Line("  " + style.dim(_plain_text(block["hint"], names, Style()))))
    return out


def input_initial(element: dict[str, Any]) -> str:
    """What an input of a modal is prefilled with: a text's value, a select's option."""
    if element.get("type") == "static_select":
        return str((element.get("initial_option") or {}).get("value") or "")
    return str(element.get("initial_value") or "")


def input_choices(element: dict[str, Any]) -> tuple[str, ...]:
    """A select's option values (a text input has none)."""
    if element.get("type") != "static_select":
        return ()
    return tuple(str(o.get("value", "")) for o in element.get("options") or []
                 if isinstance(o, dict))


def render_blocks(blocks: list[dict[str, Any]], names: Names | None = None,
                  style: Style | None = None) -> list[Line]:
    names = names or Names()
    style = style or Style()
    out: list[Line] = []
    for block in blocks:
        if isinstance(block, dict):
            out += _block(block, names, style)
    return out


def render_message(text: str, blocks: list[dict[str, Any]] | None, names: Names | None = None,
                   style: Style | None = None) -> list[Line]:
    """A message: its blocks, or its text when it has none."""
    if blocks:
        return render_blocks(blocks, names, style)
    return _lines(mrkdwn(text or "", names, style))


def render_view(view: dict[str, Any], names: Names | None = None,
                style: Style | None = None) -> list[Line]:
    """A modal or App Home: title, blocks, and the submit/close labels."""
    names = names or Names()
    style = style or Style()
    out: list[Line] = []
    title = _plain_text(view.get("title"), names, Style())
    if title:
        out.append(Line(style.bold(f"┌─ {title} ─")))
    out += render_blocks(list(view.get("blocks") or []), names, style)
    submit = _plain_text(view.get("submit"), names, Style())
    close = _plain_text(view.get("close"), names, Style())
    if submit or close:
        out.append(Line(style.dim(f"└─ {submit or 'Submit'} / {close or 'Cancel'}")))
    return out


def inputs_of(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The input blocks of a modal, in order."""
    return [b for b in view.get("blocks") or [] if isinstance(b, dict) and b.get("type") == "input"]
