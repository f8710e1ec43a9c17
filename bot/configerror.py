"""How the configuration is refused: `ConfigError` and its stable codes.

A model's validator raises `refuse(code, message)`; the loader (bot/configload.py) turns the first
such problem into a `ConfigError` that names the file, the field and the node. Codes are stable
(tests and check-config rely on them); pydantic's own error types are mapped by `error_code`.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError

from workflows.ports import ConfigProblem

__all__ = ["OWN_CODES", "ConfigError", "error_code", "refuse"]


class ConfigError(ConfigProblem):
    """The configuration was refused; `code` is stable, the text never contains a secret."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        node: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.file = file
        self.field = field
        self.node = node
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.field) if p]
        if self.node and self.node not in (self.field or ""):
            parts.append(f"node {self.node}")
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


def refuse(code: str, message: str, **ctx: Any) -> PydanticCustomError:
    """A validation error with our own stable code; `ctx` may carry field/node for the report."""
    return PydanticCustomError(code, message, ctx or None)


OWN_CODES = frozenset(
    {
        "bad_evidence",
        "bad_genesis",
        "bad_name",
        "bad_url",
        "bad_waves",
        "duplicate_node",
        "duplicate_rpc_url",
        "genesis_mismatch",
        "inline_secret",
        "invalid",
        "missing_credentials",
        "missing_secret",
        "not_a_slack_id",
        "unknown_group",
        "unknown_network",
    }
)
"""The codes `refuse` is called with; a validation error of another type is pydantic's own."""

_PYDANTIC_CODES = {"extra_forbidden": "unknown_field", "missing": "missing_field"}


def error_code(kind: str) -> str:
    """The stable code of a validation error's type: ours as they are, pydantic's mapped."""
    return kind if kind in OWN_CODES else _PYDANTIC_CODES.get(kind, "invalid")
