"""The session-wide secret watch (tests/security/conftest.py) is on, and finds a secret wherever
a record or a recorded Slack call could carry one. The session itself fails at its end if the
watch found anything in any test (see the terminal summary)."""

from __future__ import annotations

import base64
import logging
import sys
from types import SimpleNamespace

import pytest

from tests.security.authz import AUTHZ_RPC_PASSWORD
from tests.security.conftest import watch_of
from tests.security.secretwatch import SecretWatch, discover_secrets, secret_pattern

PLANTED = "planted-value-3f9a1c"  # a "secret" of these tests only, never logged for real


def planted_watch() -> SecretWatch:
    return SecretWatch(secret_pattern({PLANTED}))


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    return logging.makeLogRecord({"name": "parthenon.test", "msg": msg, "args": args,
                                  "levelno": logging.INFO, **extra})


def test_the_watch_is_on_and_knows_the_sessions_secrets(request: pytest.FixtureRequest) -> None:
    """This session runs with the watch; it knows the secrets the test modules define."""
    watch = watch_of(request.config)
    assert watch is not None
    assert watch.pattern.search(f"x {AUTHZ_RPC_PASSWORD} y")
    assert logging.getLogger().getEffectiveLevel() <= logging.INFO
    assert watch in logging.getLogger().handlers
    assert logging.getLogger("slack_sdk.web.async_base_client").isEnabledFor(logging.DEBUG)


@pytest.mark.parametrize(
    "made",
    [
        record("login with %s", PLANTED),
        record("call failed", url=f"http://parthenon:{PLANTED}@node:8332/"),
        record("stack", stack_info=f"File x, line 1\n  password={PLANTED}"),
        record("auth header: Basic " + base64.b64encode(f"parthenon:{PLANTED}".encode()).decode()),
        record("token xoxb-1234-5678-abcdefgh in a URL"),
        record("app token xapp-1-A0B1C2-123456-abcdef"),
    ],
    ids=["args", "extra", "stack", "basic-auth", "bot-token-shape", "app-token-shape"],
)
def test_a_secret_anywhere_in_a_record_is_found(made: logging.LogRecord) -> None:
    """Message arguments, extra fields, stacks, HTTP Basic forms and Slack token shapes."""
    watch = planted_watch()
    watch.test = "tests/x.py::t"
    watch.emit(made)
    assert len(watch.leaks) == 1
    assert PLANTED not in str(watch.leaks[0])  # the report never repeats the secret


def test_a_secret_in_a_traceback_is_found() -> None:
    """An exception whose text carries the secret, logged with its traceback."""
    watch = planted_watch()
    try:
        raise RuntimeError(f"refused password={PLANTED}")
    except RuntimeError:
        made = record("boom", exc_info=sys.exc_info())
    watch.emit(made)
    assert watch.leaks


def test_clean_records_and_the_redaction_tests_are_not_flagged() -> None:
    """Ordinary text is no leak; the modules that log secrets on purpose are exempt."""
    watch = planted_watch()
    watch.test = "tests/unit/x.py::t"
    watch.emit(record("run %s approved by <@%s>", "r20250101-abc", "U123"))
    watch.test = "tests/integration/ops/test_log_secrets.py::test_no_secret_reaches_any_log_line"
    watch.emit(record("leaky %s", PLANTED))
    assert watch.leaks == []
    assert watch.records == 1


def test_a_secret_in_a_recorded_slack_call_is_found() -> None:
    """The stand-in's recorded calls, their answers and response_url posts are searched."""
    call = SimpleNamespace(method="chat.postMessage", args={"text": f"pw {PLANTED}"},
                           response={"ok": True})
    clean = SimpleNamespace(calls=[SimpleNamespace(method="auth.test", args={}, response={})],
                            responses=[], socket_messages=[])
    watch = planted_watch()
    watch.search_standin(clean)
    assert watch.leaks == []
    watch.search_standin(SimpleNamespace(calls=[call], responses=[], socket_messages=[]))
    watch.search_standin(SimpleNamespace(calls=[], responses=[("r", {"text": PLANTED})],
                                         socket_messages=[]))
    assert [leak.where for leak in watch.leaks] == ["slack stand-in", "slack stand-in"]


def test_secrets_are_discovered_by_name() -> None:
    """Constants named as secrets are found; environment variable names and URLs are not."""
    module = SimpleNamespace(
        BOT_TOKEN="xoxb-found-1", RPC_PASSWORD="found-two-2", SECRET_ENV="PCB_HOOK_SECRET",
        HOOK_SECRETS={"a": "found-three-3"}, SECRETS=("found-four-4",),
        SLACK_URL="http://x", OTHER="not-a-secret-5",
    )
    found = discover_secrets([("tests.fake", module), ("elsewhere", SimpleNamespace(
        TOKEN="ignored-elsewhere"))])
    assert {"xoxb-found-1", "found-two-2", "found-three-3", "found-four-4"} <= found
    assert not {"PCB_HOOK_SECRET", "http://x", "not-a-secret-5", "ignored-elsewhere"} & found
