"""Settings from the environment: secrets stay secret, each mode says what it needs."""

from __future__ import annotations

import pytest

from bot.settings import DEFAULT_SLACK_API_URL, SettingsError, load_settings

BASE = {"SLACK_BOT_TOKEN": "xoxb-1-secret-value", "REDIS_URL": "redis://127.0.0.1:1/0"}


def test_http_mode_needs_the_signing_secret() -> None:
    """Without SLACK_APP_TOKEN, SLACK_SIGNING_SECRET is required, and the error says so."""
    with pytest.raises(SettingsError) as caught:
        load_settings(BASE)
    assert "SLACK_SIGNING_SECRET" in str(caught.value)


def test_socket_mode_is_chosen_by_the_app_token() -> None:
    """An xapp- token selects Socket Mode; the signing secret is then optional."""
    settings = load_settings({**BASE, "SLACK_APP_TOKEN": "xapp-1-secret"})
    assert settings.socket_mode
    assert settings.slack_api_url == DEFAULT_SLACK_API_URL


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"SLACK_BOT_TOKEN": "xoxp-user-token-secret"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_APP_TOKEN": "xoxb-not-an-app-token-secret"}, "SLACK_APP_TOKEN"),
        ({"SLACK_API_URL": "ftp://x"}, "SLACK_API_URL"),
        ({"REDIS_URL": ""}, "REDIS_URL"),
    ],
)
def test_malformed_settings_name_the_variable_never_the_value(
    extra: dict[str, str], needle: str
) -> None:
    """A bad value is refused naming the variable; the message never contains the value."""
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE, "SLACK_SIGNING_SECRET": "sig-secret", **extra})
    message = str(caught.value)
    assert needle in message
    for value in extra.values():
        if value:
            assert value not in message


def test_secrets_do_not_print() -> None:
    """repr and str of the settings show no token or secret."""
    settings = load_settings({**BASE, "SLACK_SIGNING_SECRET": "sig-secret-value",
                              "SLACK_API_URL": "http://127.0.0.1:9/api"})
    shown = repr(settings) + str(settings)
    assert "xoxb-1-secret-value" not in shown
    assert "sig-secret-value" not in shown
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"


@pytest.mark.parametrize("blank", ["", " ", "\t\n"])
@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("SLACK_SIGNING_SECRET", {"SLACK_SIGNING_SECRET": None}),
        ("SLACK_APP_TOKEN", {"SLACK_SIGNING_SECRET": "sig-secret"}),
        ("SLACK_APP_TOKEN", {}),
        ("SLACK_BOT_TOKEN", {"SLACK_APP_TOKEN": "xapp-1-secret"}),
        ("SLACK_BOT_TOKEN", {"SLACK_SIGNING_SECRET": "sig-secret"}),
    ],
)
def test_a_blank_secret_is_a_start_up_error_naming_the_variable(
    blank: str, name: str, mode: dict[str, str | None]
) -> None:
    """An empty or whitespace secret (compose's `${VAR:-}`) is refused in HTTP and Socket
    Mode alike, naming the variable; it never counts as "unset" and never starts a bot that
    answers every Slack request 500."""
    env = {**BASE, **{k: v for k, v in mode.items() if v is not None}, name: blank}
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert f"{name}: is set but empty or only whitespace" in str(caught.value)
