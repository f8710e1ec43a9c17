"""The run API's tokens: `api: {tokens: [{name: ci, secret_env: VAR, start: [promote]}]}`.

A token acts as `api:<name>` (in the audit log, on the card) and may start only the workflows it
lists; it never approves, confirms or operates a run (people do that in Slack). Its secret comes
from an environment variable or a file like every other secret, and is a `SecretStr`, so the log
scrubber knows it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.secrets import resolve_secret, secrets_read

__all__ = ["API_ACTOR_PREFIX", "ApiConfig", "ApiToken", "api_actor"]

API_ACTOR_PREFIX = "api:"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
MIN_SECRET = 24  # characters: a bearer token an attacker could guess is no token


def api_actor(name: str) -> str:
    return f"{API_ACTOR_PREFIX}{name}"


class ApiToken(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    secret_env: str | None = None
    secret_file: Path | None = None
    secret: SecretStr
    start: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _resolve(cls, data: Any, info: ValidationInfo) -> Any:
        return resolve_secret(data, info, target="secret", what="API token")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("an API token's name is lowercase letters, digits and '-' "
                             "(it appears as api:<name> in the audit log)")
        return value

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if not secrets_read(info):
            return value
        if len(value.get_secret_value().strip()) < MIN_SECRET:
            raise ValueError(f"an API token's secret needs at least {MIN_SECRET} characters")
        return value


class ApiConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tokens: tuple[ApiToken, ...] = ()
    requests_per_minute: int = Field(default=60, ge=1, le=6000)  # per token, all replicas

    @model_validator(mode="after")
    def _distinct(self, info: ValidationInfo) -> ApiConfig:
        names = [t.name for t in self.tokens]
        if len(set(names)) != len(names):
            raise ValueError("two API tokens have the same name")
        if not secrets_read(info):
            return self
        secrets = [t.secret.get_secret_value() for t in self.tokens]
        if len(set(secrets)) != len(secrets):
            raise ValueError("two API tokens have the same secret")
        return self

    def may_start(self, actor: str, workflow: str) -> bool:
        token = self.token(actor)
        return token is not None and workflow in token.start

    def token(self, actor: str) -> ApiToken | None:
        if not actor.startswith(API_ACTOR_PREFIX):
            return None
        name = actor.removeprefix(API_ACTOR_PREFIX)
        return next((t for t in self.tokens if t.name == name), None)
