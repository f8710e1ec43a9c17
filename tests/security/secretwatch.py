"""The session-wide secret watch: every log record of the test session, at every level, and
every call recorded by a Slack stand-in a test holds, is searched for a secret.

Which strings are secrets: every module-level constant of the test and bench modules whose name
says so (``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``, ``*SIGNING*``, the members of ``*SECRETS``
collections), the devnet's default RPC password and deploy secret, their HTTP Basic forms, and
anything shaped like a Slack token (``xoxb-…``, ``xapp-…``). Records are searched raw, before
the production log formatter would redact them: the bot must not put a secret into a record in
the first place; the redactor is the second line. The modules that test that second line by
logging secrets on purpose are exempt (their tests check the formatted output themselves).
"""

from __future__ import annotations

import base64
import logging
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.devnet import DEFAULT_DEPLOY_SECRET

__all__ = ["EXEMPT", "Leak", "SecretWatch", "discover_secrets", "secret_pattern"]

#: Test modules that log secrets on purpose, to test the redacting formatter.
EXEMPT = (
    "tests/integration/ops/test_log_secrets.py",
    "tests/unit/ops/test_logs.py",
)

_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|SIGNING", re.IGNORECASE)
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_SLACK_TOKEN = r"xox[abposr]-[A-Za-z0-9-]{8,}|xapp-\d-[A-Za-z0-9-]{8,}"
_DEVNET_PASSWORD = "devnet-password"
_STANDARD = frozenset(vars(logging.makeLogRecord({})))
_FORMATTER = logging.Formatter()


def _secret_value(value: object) -> bool:
    return (isinstance(value, str) and len(value) >= 8 and not _ENV_NAME.fullmatch(value)
            and "://" not in value and " " not in value)


def discover_secrets(modules: Iterable[tuple[str, Any]] | None = None) -> set[str]:
    """Secret values named as such in the loaded test and bench modules, plus the devnet's."""
    found = {_DEVNET_PASSWORD, DEFAULT_DEPLOY_SECRET}
    items = modules if modules is not None else list(sys.modules.items())
    for name, module in items:
        if module is None or not name.startswith(("tests.", "bench.")):
            continue
        for attr, value in list(vars(module).items()):
            if not attr.isupper() or attr.endswith("_ENV"):
                continue
            if isinstance(value, tuple | list | set | frozenset) and attr.endswith("SECRETS"):
                found.update(v for v in value if _secret_value(v))
            elif isinstance(value, dict) and _NAME.search(attr):
                found.update(v for v in value.values() if _secret_value(v))
            elif _NAME.search(attr) and _secret_value(value):
                found.add(value)
    return found


def secret_pattern(secrets: Iterable[str]) -> re.Pattern[str]:
    """One regex for every secret, its HTTP Basic forms, and Slack-token shapes."""
    forms: set[str] = set()
    for secret in secrets:
        forms.add(re.escape(secret))
        for user in ("parthenon", "user"):
            forms.add(re.escape(base64.b64encode(f"{user}:{secret}".encode()).decode()))
    return re.compile("|".join([*sorted(forms, key=len, reverse=True), _SLACK_TOKEN]))


@dataclass(frozen=True)
class Leak:
    test: str
    where: str  # a logger name, or "slack stand-in"
    shown: str  # the start of what matched, never the whole secret

    def __str__(self) -> str:
        return f"{self.test}: {self.where}: {self.shown}"


def record_text(record: logging.LogRecord) -> str:
    """Everything a formatter could write of a record: message, traceback, stack, extras."""
    parts = [record.getMessage()]
    if record.exc_info:
        parts.append(_FORMATTER.formatException(record.exc_info))
    elif record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    parts += [f"{k}={v!r}" for k, v in vars(record).items() if k not in _STANDARD]
    return "\n".join(parts)


@dataclass
class SecretWatch(logging.Handler):
    """A root handler that searches each record as it is emitted."""

    pattern: re.Pattern[str]
    test: str = "(collection)"
    records: int = 0
    calls: int = 0
    leaks: list[Leak] = field(default_factory=list)
    loggers: Counter[str] = field(default_factory=Counter)  # records searched, by top logger

    def __post_init__(self) -> None:
        logging.Handler.__init__(self, logging.NOTSET)

    def __hash__(self) -> int:
        return id(self)

    def emit(self, record: logging.LogRecord) -> None:
        if self.test.split("::")[0] in EXEMPT:
            return
        try:
            text = record_text(record)
        except Exception:
            return
        self.records += 1
        self.loggers[record.name.split(".")[0]] += 1
        found = self.pattern.search(text)
        if found:
            self.leaks.append(Leak(self.test, record.name, found.group(0)[:6] + "…"))

    def search_standin(self, standin: Any) -> None:
        """Search what a stand-in recorded: each call's arguments and answer (it never keeps
        the token), the response_url posts and the Socket Mode messages."""
        calls = list(getattr(standin, "calls", []))
        texts = [repr((c.method, c.args, c.response)) for c in calls]
        texts.append(repr(getattr(standin, "responses", [])))
        texts.append(repr(getattr(standin, "socket_messages", [])))
        self.calls += len(calls)
        for text in texts:
            found = self.pattern.search(text)
            if found:
                self.leaks.append(Leak(self.test, "slack stand-in", found.group(0)[:6] + "…"))
