"""JSON-lines logs with secrets taken out where each record is made, not where it is written.

`setup_logging` registers every secret the bot holds (Slack tokens and signing secret, RPC
passwords, webhook secrets, a Redis password: every `SecretStr` in the settings and the config)
and installs a log-record factory that renders and scrubs each record's message and traceback
the moment it is created, so no handler (ours, pytest's, a library's) ever sees the secret. On
top of the known values, patterns catch secrets the bot was never told about: Slack tokens
(`xoxb-...`, `xapp-...`), `Authorization:` headers, `Basic`/`Bearer` credentials and passwords
inside URLs.

The formatter writes one JSON object per line with `run_id`, `step_id` and `node` (and any other
`extra=` field) where the call site gave them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, SecretBytes, SecretStr

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "JsonFormatter",
    "LoggingSetup",
    "Redactor",
    "secret_values",
    "setup_logging",
]

REDACTED = "[REDACTED]"

MIN_SECRET_LENGTH = 4
"""Shorter registered values are not searched for: they would blank out ordinary words."""

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Slack tokens: bot, user, app-level, config, refresh, legacy workspace tokens.
    (re.compile(r"\bxox[abposre]-[A-Za-z0-9-]+"), REDACTED),
    (re.compile(r"\bxapp-[A-Za-z0-9-]+"), REDACTED),
    # A whole Authorization header as text ("Authorization: Basic ...", "'Authorization': '...").
    (re.compile(r"(?i)(['\"]?(?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,}]+"),
     r"\1" + REDACTED),
    # "Basic <b64>" / "Bearer <token>": 8+ token characters with a digit, +/= or a capital
    # after the first (so "Basic connectivity" in prose stays).
    (re.compile(r"\b(Basic|Bearer|basic|bearer)\s+(?=[\w+/=.~-]{8,})(?=.[\w+/=.~-]*[0-9+/=A-Z])"
                r"[\w+/=.~-]+"), r"\1 " + REDACTED),
    # user:password@ inside a URL (redis://:pw@host, https://user:pw@host).
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
)

_STANDARD = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))
) | {"message", "asctime", "taskName"}
_FIRST = ("run_id", "step_id", "node")


class Redactor:
    """Known secret values plus secret-shaped patterns, replaced by ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *values: str | SecretStr | SecretBytes | None) -> None:
        """Register values to remove from every record from now on."""
        for value in values:
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, SecretBytes):
                value = value.get_secret_value().decode("utf-8", errors="replace")
            if value and len(value) >= MIN_SECRET_LENGTH:
                self._values.add(value)
        if self._values:
            ordered = sorted(self._values, key=len, reverse=True)  # longest first: no leftovers
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def redact(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def redact_value(self, value: Any) -> Any:
        """Strings scrubbed, containers walked, anything else left as it is."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, SecretStr | SecretBytes):
            return REDACTED
        if isinstance(value, Mapping):
            return {k: self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact_value(v) for v in value]
        return value

    def scrub(self, record: logging.LogRecord) -> None:
        """Render the record's message and traceback now, without the secrets."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record; keep what we can
            message = f"{record.msg!r} (unformattable arguments)"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)


def secret_values(*sources: object) -> list[str]:
    """Every SecretStr/SecretBytes value inside pydantic models (and their dicts and lists),
    and the password of any URL written with one (``redis://:password@host``)."""
    found: list[str] = []
    seen: set[int] = set()

    def walk(value: object) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, SecretBytes):
            found.append(value.get_secret_value().decode("utf-8", errors="replace"))
        elif isinstance(value, str) and "://" in value and "@" in value:
            found.append(_url_password(value))  # a Redis URL with its password in it
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name, None))
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                walk(item)

    for source in sources:
        walk(source)
    return [v for v in found if v]


def _url_password(url: str) -> str:
    try:
        return unquote(urlsplit(url).password or "")
    except ValueError:
        return ""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, run/step/node, other extras."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self._redactor = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        redact = self._redactor.redact
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for name in _FIRST:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = self._redactor.redact_value(value)
        for name, value in record.__dict__.items():
            if name not in _STANDARD and name not in entry and not name.startswith("_"):
                entry[name] = self._redactor.redact_value(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class LoggingSetup:
    """What `setup_logging` installed; `close()` puts the previous state back (tests)."""

    def __init__(
        self,
        redactor: Redactor,
        handler: logging.Handler,
        previous_factory: Callable[..., logging.LogRecord],
        previous_level: int,
    ) -> None:
        self.redactor = redactor
        self.handler = handler
        self._previous_factory = previous_factory
        self._previous_level = previous_level

    def close(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self._previous_level)
        logging.setLogRecordFactory(self._previous_factory)


_MARK = "_parthenon_handler"


def setup_logging(
    *sources: object,
    level: str | int = "INFO",
    json_lines: bool = True,
    stream: IO[str] | None = None,
    secrets: Iterable[str | SecretStr | None] = (),
) -> LoggingSetup:
    """Log JSON lines to ``stream`` (stderr) with every secret in ``sources`` redacted.

    ``sources`` are the settings and the config (any pydantic models): each `SecretStr` in them
    is registered. Calling it again replaces the handler installed before (never two).
    """
    redactor = Redactor(secret_values(*sources))
    redactor.add(*secrets)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _MARK, False):
            root.removeHandler(existing)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _MARK, True)
    if json_lines:
        handler.setFormatter(JsonFormatter(redactor))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    previous_level = root.level
    root.addHandler(handler)
    if isinstance(level, str):
        level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    root.setLevel(level)
    previous_factory = logging.getLogRecordFactory()
    base = getattr(previous_factory, "_parthenon_base", previous_factory)

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        redactor.scrub(record)
        return record

    factory._parthenon_base = base  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
    return LoggingSetup(redactor, handler, previous_factory, previous_level)
