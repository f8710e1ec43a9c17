"""Secrets in the configuration: named in the file, resolved at load, never shown.

A secret is written as a reference, `<name>_env: VAR` or `<name>_file: /path`, never inline in
the file; at load `resolve_secret` reads it into the model's `SecretStr` field (the RPC password,
a webhook's HMAC secret, an API token, a paging key). An error names the variable or the file,
never the value. With the validation context `secrets=False` the reference is checked but not
read (commands that never use the secrets).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationInfo

from bot.configerror import refuse

__all__ = ["resolve_secret", "secrets_read"]


def _env_of(info: ValidationInfo) -> Mapping[str, str]:
    context = info.context if isinstance(info.context, dict) else {}
    env = context.get("env")
    return env if isinstance(env, Mapping) else os.environ


def _from_file(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("from_file"))


def secrets_read(info: ValidationInfo) -> bool:
    """False under the validation context `secrets=False`: the structure is checked, no secret
    is read (bot.config.parse_config(secrets=False))."""
    return not (isinstance(info.context, dict) and info.context.get("secrets") is False)


def resolve_secret(data: Any, info: ValidationInfo, *, target: str, what: str) -> Any:
    """Fill `target` from the env var (`<target>_env`) or file (`<target>_file`) the data names;
    refuse inline secrets in files."""
    if not isinstance(data, dict):
        return data
    env_key, file_key = f"{target}_env", f"{target}_file"
    data = dict(data)
    env_name, file_name = data.get(env_key), data.get(file_key)
    if target in data:
        if _from_file(info) or env_name or file_name:
            raise refuse(
                "inline_secret",
                f"the {what} may not be written in the config file: use {env_key} or {file_key}",
            )
        return data
    if bool(env_name) == bool(file_name):
        raise refuse("missing_secret", f"the {what} needs exactly one of {env_key} or {file_key}")
    if not secrets_read(info):
        data[target] = "(not read)"  # structure only: the secret is named, never read
        return data
    if env_name:
        value = _env_of(info).get(str(env_name))
        if value is None:
            raise refuse(
                "missing_secret", f"{env_key}: environment variable {env_name} is not set"
            )
    else:
        try:
            value = Path(str(file_name)).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise refuse(
                "missing_secret", f"{file_key}: cannot read {file_name} ({reason})"
            ) from None
    if not value.strip():
        source = f"environment variable {env_name}" if env_name else f"file {file_name}"
        raise refuse("missing_secret", f"the {what} from {source} is empty or only whitespace")
    data[target] = value
    return data
