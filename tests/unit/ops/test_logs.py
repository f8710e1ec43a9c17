"""JSON-lines logging and secret redaction at the source."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import BaseModel, SecretStr

from bot.config import BotConfig
from bot.observability import REDACTED, JsonFormatter, Redactor, secret_values, setup_logging
from bot.observability.logs import LoggingSetup

RPC_PASSWORD = "rpc-pass-8f3a"
WEBHOOK_SECRET = "hook-secret-77c1"
BOT_TOKEN = "xoxb-1111-2222-abcdefabcdef"
SIGNING = "signing-secret-0d9e"

CONFIG = {
    "environments": {
        "testnet": {
            "network": "testnet",
            "rpc_credentials": {"user": "parthenon", "password_env": "PW"},
            "deploy_webhook": {"url": "https://deploy.example/x", "secret_env": "HOOK"},
            "nodes": [{"name": "test-1", "rpc_url": "http://127.0.0.1:18332", "role": "miner"}],
        }
    },
    "groups": {"operators": ["U0123ABCD"]},
}


class SettingsLike(BaseModel):
    """The shape of bot.settings.Settings that matters here: SecretStr fields and a Redis URL."""

    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    redis_url: str


def settings() -> SettingsLike:
    return SettingsLike(
        slack_bot_token=SecretStr(BOT_TOKEN), slack_signing_secret=SecretStr(SIGNING),
        redis_url="redis://:redis-pass-41aa@127.0.0.1:6390/0",
    )


def config() -> BotConfig:
    return BotConfig.model_validate(
        CONFIG, context={"env": {"PW": RPC_PASSWORD, "HOOK": WEBHOOK_SECRET}}
    )


@pytest.fixture
def logs() -> Iterator[tuple[LoggingSetup, io.StringIO]]:
    stream = io.StringIO()
    setup = setup_logging(settings(), config(), stream=stream, level="DEBUG")
    try:
        yield setup, stream
    finally:
        setup.close()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_secret_values_finds_every_secret_in_settings_and_config() -> None:
    """Tokens, the signing secret, RPC passwords, webhook secrets and a Redis URL password."""
    found = set(secret_values(settings(), config()))
    assert {BOT_TOKEN, SIGNING, RPC_PASSWORD, WEBHOOK_SECRET, "redis-pass-41aa"} <= found


def test_a_line_is_json_with_run_step_and_node(
    logs: tuple[LoggingSetup, io.StringIO],
) -> None:
    """run_id, step_id and node given via extra= become top-level fields of the JSON line."""
    _, stream = logs
    logging.getLogger("parthenon.test").warning(
        "step %s failed", "deploy", extra={"run_id": "r-1", "step_id": "deploy", "node": "n1",
                                           "attempt": 2},
    )
    (entry,) = lines(stream)
    assert entry["msg"] == "step deploy failed"
    assert (entry["run_id"], entry["step_id"], entry["node"]) == ("r-1", "deploy", "n1")
    assert entry["attempt"] == 2
    assert entry["level"] == "warning"
    assert entry["logger"] == "parthenon.test"


def test_registered_secrets_are_removed_from_message_args_extras_and_tracebacks(
    logs: tuple[LoggingSetup, io.StringIO], caplog: pytest.LogCaptureFixture,
) -> None:
    """Every registered secret is gone from our lines and from what other handlers capture."""
    _, stream = logs
    log = logging.getLogger("parthenon.test")
    with caplog.at_level(logging.DEBUG):
        log.info("calling with password %s", RPC_PASSWORD)
        log.info("hook secret is " + WEBHOOK_SECRET, extra={"node": f"n1 {SIGNING}"})
        try:
            raise RuntimeError(f"token {BOT_TOKEN} refused")
        except RuntimeError:
            log.exception("slack said no")
        log.debug("redis at redis://:redis-pass-41aa@127.0.0.1:6390/0")
    text = stream.getvalue()
    for secret in (RPC_PASSWORD, WEBHOOK_SECRET, SIGNING, BOT_TOKEN, "redis-pass-41aa"):
        assert secret not in text
        assert all(secret not in r.getMessage() for r in caplog.records)
        assert all(secret not in (r.exc_text or "") for r in caplog.records)
    assert REDACTED in text
    assert len(lines(stream)) == 4
    assert "RuntimeError" in str(lines(stream)[2]["exc"])


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("token xoxb-9999-8888-zzzzzz in use", "xoxb-9999"),
        ("app token xapp-1-A0001-123-abc", "xapp-1"),
        ("headers {'Authorization': 'Basic cGFydGhlbm9uOnB3'}", "cGFydGhlbm9uOnB3"),
        ("Authorization: Bearer abc.def.ghi123", "abc.def"),
        ("sent Basic dXNlcjpwYXNzd29yZA== to node", "dXNlcjpwYXNzd29yZA"),
        ("redis+sentinel://:s3cret@10.0.0.1:26379/main", "s3cret"),
        ("https://user:pw12345@deploy.example/x", "pw12345"),
    ],
)
def test_secret_shaped_text_is_redacted_without_being_registered(text: str, gone: str) -> None:
    """Slack tokens, Authorization headers, Basic/Bearer credentials, URL passwords."""
    out = Redactor().redact(text)
    assert gone not in out
    assert REDACTED in out


@pytest.mark.parametrize(
    "text",
    ["Basic connectivity to node test-1 is fine", "authorization failed for U123",
     "GET http://127.0.0.1:18332/health", "approved by 2 of 3"],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    """Prose that merely resembles a secret pattern is not mangled."""
    assert Redactor(["abc"]).redact(text) == text


def test_setup_twice_installs_one_handler_and_close_restores() -> None:
    """Re-running setup replaces our handler; close removes it and the record factory."""
    root = logging.getLogger()
    before = list(root.handlers)
    factory = logging.getLogRecordFactory()
    first = setup_logging(stream=io.StringIO())
    second = setup_logging(stream=io.StringIO())
    assert len(root.handlers) == len(before) + 1
    second.close()
    first.close()
    assert root.handlers == before
    assert logging.getLogRecordFactory() is factory


def test_formatter_redacts_secret_fields_in_extras() -> None:
    """A SecretStr or a secret inside a dict passed as extra never reaches the line."""

    class Creds(BaseModel):
        password: SecretStr

    formatter = JsonFormatter(Redactor(["topsecret-1"]))
    record = logging.LogRecord("x", logging.INFO, "f", 1, "m", None, None)
    record.creds = Creds(password=SecretStr("pw-abc"))
    record.headers = {"x": "topsecret-1", "secret": SecretStr("hidden-1")}
    line = formatter.format(record)
    assert "topsecret-1" not in line
    assert "hidden-1" not in line
    assert "pw-abc" not in line
