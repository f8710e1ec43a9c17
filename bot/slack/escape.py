"""Making text safe to put in a Slack message.

Slack parses ``&``, ``<`` and ``>`` in every text object (plain_text too): ``<!channel>``,
``<@U123>``, ``<https://x|label>`` are mentions and links. Anything a person typed (a reason, a
summary, a parameter) or a node answered is escaped so it shows as typed and pings nobody.
mrkdwn formatting characters in free text are broken with a zero-width space so ``*x*`` stays
literal; values (versions, hashes) go in code spans, which Slack does not format.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from workflows.userid import USER_ID, USER_ID_PATTERN

__all__ = [
    "code",
    "escape",
    "inline",
    "mention",
    "mentions",
    "plain",
    "text",
    "truncate",
    "trusted_mentions",
]

_ZWSP = "\u200b"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A marker opens formatting only at a word boundary (git_sha stays as typed); backticks always.
_FORMATTING = re.compile(r"(?<![A-Za-z0-9])([*_~])|(`)")
_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_QUOTE = re.compile(r"^(&gt;)", re.MULTILINE)
_USER_ID = re.compile(USER_ID_PATTERN)
_ESCAPED_MENTION = re.compile(rf"&lt;@({USER_ID})&gt;")


def escape(value: str) -> str:
    """Slack's three control characters as HTML entities, and nothing else."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    return value[: max(limit - 1, 0)] + "…"


def plain(value: object, limit: int = 3000) -> str:
    """For plain_text objects: escaped, control characters dropped, one line, within ``limit``."""
    flat = _CONTROL.sub("", str(value)).replace("\r", " ").replace("\n", " ")
    return truncate(escape(flat), limit)


def text(value: object, limit: int = 3000, *, single_line: bool = False) -> str:
    """Free text a person or a node wrote, for mrkdwn: shows as written, formats nothing."""
    raw = _CONTROL.sub("", str(value)).replace("\r", "")
    if single_line:
        raw = raw.replace("\n", " ")
    safe = escape(raw)
    safe = _FORMATTING.sub(lambda m: _ZWSP + m.group(0) + _ZWSP, safe)
    safe = _BROADCAST.sub("@" + _ZWSP, safe)
    safe = _QUOTE.sub(_ZWSP + r"\1", safe)
    return truncate(safe, limit)


def inline(value: object, limit: int = 300) -> str:
    """Free text on one line (titles, labels inside mrkdwn)."""
    return text(value, limit, single_line=True)


def code(value: object, limit: int = 300) -> str:
    """A value (version, hash, node name) as an inline code span: no formatting, no links."""
    raw = _CONTROL.sub("", str(value)).replace("\r", " ").replace("\n", " ").replace("`", "\u02cb")
    if not raw.strip():
        return "_(empty)_"
    return "`" + truncate(escape(raw), limit) + "`"


def mention(user: str) -> str:
    """A real mention of a Slack user id; anything that is not an id is shown as text."""
    if _USER_ID.match(user):
        return f"<@{user}>"
    return code(user, 60)


def mentions(users: Collection[str]) -> str:
    return " ".join(mention(u) for u in sorted(users))


def trusted_mentions(value: str, people: Collection[str], limit: int = 3000) -> str:
    """Text composed by the bot that embeds mentions of known people and free text of others.

    Everything is neutralised first, then only mentions of ``people`` (the run's participants and
    the configured groups) become mentions again; a ``<@U123>`` or ``<!channel>`` typed into a
    reason stays text.
    """
    known = set(people)

    def restore(match: re.Match[str]) -> str:
        user = match.group(1)
        return f"<@{user}>" if user in known else match.group(0)

    return _ESCAPED_MENTION.sub(restore, text(value, limit))
