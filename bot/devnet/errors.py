"""The devnet's one exception type; each error carries a stable `code`."""

from __future__ import annotations

__all__ = ["DevnetError", "UnknownNodeError"]


class DevnetError(Exception):
    """Something the devnet simulator cannot do (bad argument, port in use, unknown node)."""

    code = "devnet_error"


class UnknownNodeError(DevnetError, KeyError):
    """No node of that name in this devnet."""

    code = "unknown_node"

    def __str__(self) -> str:  # KeyError's repr-quoting would garble the message
        return str(self.args[0]) if self.args else self.code
