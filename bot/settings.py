"""The settings `parthenon-bot serve` reads from the environment, once, into one model.

Tokens and the signing secret are `SecretStr`: they print as '**********' and reach only the
Slack client and the request verifier. HTTP mode needs SLACK_SIGNING_SECRET; Socket Mode (when
SLACK_APP_TOKEN is set) needs an app-level token (xapp-...). SLACK_API_URL points the Web API
client elsewhere (GovSlack, the local stand-in in tests and the demo).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_SLACK_API_URL", "Settings", "SettingsError", "load_settings"]

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable, never its value."""

    code = "settings_invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    redis_url: str = Field(min_length=1)
    parthenon_bot_config: Path | None = None

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", mode="before")
    @classmethod
    def _not_blank(cls, value: object) -> object:
        """A secret set to nothing (``VAR=``, ``${VAR:-}`` in compose, a blank line in a Secret)
        is a mistake, not "unset": refused at start-up, naming the variable, in every mode."""
        if isinstance(value, str | SecretStr):
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not text.strip():
                raise ValueError("is set but empty or only whitespace: give it a value or unset it")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("SLACK_API_URL must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("SLACK_BOT_TOKEN must be a bot token (xoxb-...)")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("SLACK_APP_TOKEN must be an app-level token (xapp-...)")
        return value

    @model_validator(mode="after")
    def _mode(self) -> Settings:
        if self.slack_app_token is None and self.slack_signing_secret is None:
            raise ValueError(
                "HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)"
            )
        return self

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Read the settings from ``environ`` (default: the process environment) plus overrides."""
    try:
        if environ is None:
            return Settings(**overrides)  # type: ignore[arg-type]
        values = {k.lower(): v for k, v in environ.items() if k.lower() in Settings.model_fields}
        return Settings.model_validate({**values, **overrides})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]).upper() or "settings"
            problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        raise SettingsError("; ".join(problems)) from None
