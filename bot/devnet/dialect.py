"""Which daemon a devnet node imitates.

`daemon` (the default) is the node daemon as it really is (docs/node-dialect.md):
`getinfo.version` is the constant integer 100 and `protocolversion` 70015 whatever release is
installed, and /metrics has exactly the five documented families. `future` models a future
daemon for tests of the bot's richer evidence sources: `getinfo.version` is the installed release
string (`rpc` release evidence can work) and /metrics also exports a validation-error counter.
Nothing the bot relies on may exist only in `future`: a real deployment may have only `daemon`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DAEMON_PROTOCOL_VERSION", "DAEMON_VERSION", "Dialect"]

DAEMON_VERSION = 100
"""The daemon's `getinfo.version`: a constant compiled into it, not the release."""
DAEMON_PROTOCOL_VERSION = 70015
"""The daemon's `getinfo.protocolversion`, also a constant."""


class Dialect(StrEnum):
    DAEMON = "daemon"
    """The real daemon (docs/node-dialect.md): constant versions, five metric families."""
    FUTURE = "future"
    """A model of a future daemon: release strings in getinfo.version, extra metrics."""
