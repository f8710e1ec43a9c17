"""Fault knobs of one simulated node, switched at runtime by tests, the bench and the control API.

Every knob defaults to off. Changes take effect on the node's next request; the node also
subscribes to changes so that knobs with a moment of onset (a stalled tip, a divergence, a closed
listening socket) start exactly when they are set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from bot.devnet.errors import DevnetError
from bot.devnet.genesis import NETWORKS

__all__ = ["FaultListener", "NodeFaults"]

FaultListener = Callable[[str, Any], None]

_HANG_DEFAULT = 3600.0
_TRICKLE_DEFAULT = 0.5
_HUGE_DEFAULT = 16 * 1024 * 1024


@dataclass
class NodeFaults:
    """What is wrong with a node. Booleans switch a fault on with a sensible default size.

    - latency: seconds added before every response (RPC, /health, /metrics).
    - http_5xx: POST / answers 503 (True) or the given 5xx status, with a plain-text body.
    - refuse_connections: the listening socket is closed (connection refused); off re-opens it on
      the same port.
    - wrong_network: the node reports another network's chain (True: mainnet for a testnet or
      regtest node, testnet for a mainnet node; or a network name).
    - stalled_tip: the height stops advancing (True: at the height when it was set; an int: at
      that height).
    - peers: how many real peers exchange blocks with the node (0 = none, so `syncing` turns
      true). `peer_count` counts inbound connections ever accepted since the node started, as
      the daemon does: new peers raise it, lost ones do not lower it (a restart does).
    - divergent_tip: the node's block hashes differ from the others' from height H on (True: from
      the tip at the moment it was set).
    - validation_errors: the node logs one validation error when set and one each block (the
      deploy receiver's `check-logs` reports them); only the `future` dialect also exports them
      as `pantheon_validation_errors_total` on /metrics.
    - hanging_stop: a `stop` request does not answer for that many seconds (True: an hour) while
      /health still says ok; afterwards the node answers and stops.
    - huge_reply: RPC replies are valid JSON padded to that many bytes (True: 16 MiB).
    - garbage_reply: RPC replies are HTTP 200 with a non-JSON body.
    - slow_trickle: RPC reply bodies are sent one byte per that many seconds (True: 0.5 s).
    """

    latency: float = 0.0
    http_5xx: bool | int = False
    refuse_connections: bool = False
    wrong_network: bool | str = False
    stalled_tip: bool | int = False
    peers: int | None = None
    divergent_tip: bool | int = False
    validation_errors: bool = False
    hanging_stop: bool | float = False
    huge_reply: bool | int = False
    garbage_reply: bool = False
    slow_trickle: bool | float = False
    _listener: FaultListener | None = field(default=None, init=False, repr=False, compare=False)

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_"):
            _check(name, value)
        object.__setattr__(self, name, value)
        listener = self.__dict__.get("_listener")
        if listener is not None and not name.startswith("_"):
            listener(name, value)

    def subscribe(self, listener: FaultListener | None) -> None:
        """Call `listener(name, value)` after every change (one listener: the owning node)."""
        object.__setattr__(self, "_listener", listener)

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply several knobs by name; unknown names and bad values are rejected first."""
        names = self.knob_names()
        for name, value in changes.items():
            if name not in names:
                raise DevnetError(f"unknown fault knob: {name}")
            _check(name, value)
        for name, value in changes.items():
            setattr(self, name, value)

    def reset(self) -> None:
        """Switch every fault off."""
        self.update({f.name: f.default for f in fields(self) if f.init})

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.knob_names()}

    @classmethod
    def knob_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.init)

    # Effective values, with the defaults that `True` stands for.

    def hang_seconds(self) -> float:
        return _seconds(self.hanging_stop, _HANG_DEFAULT)

    def trickle_seconds(self) -> float:
        return _seconds(self.slow_trickle, _TRICKLE_DEFAULT)

    def huge_bytes(self) -> int:
        if self.huge_reply is True:
            return _HUGE_DEFAULT
        return int(self.huge_reply) if self.huge_reply else 0

    def error_status(self) -> int | None:
        if self.http_5xx is True:
            return 503
        return int(self.http_5xx) if self.http_5xx else None


def _seconds(value: bool | float, default: float) -> float:
    if value is True:
        return default
    return float(value) if value else 0.0


def _check(name: str, value: Any) -> None:
    """Reject values the node could not act on, before anything changes."""
    bad = False
    if name in ("refuse_connections", "validation_errors", "garbage_reply"):
        bad = not isinstance(value, bool)
    elif name == "latency":
        bad = isinstance(value, bool) or not isinstance(value, int | float) or value < 0
    elif name == "http_5xx":
        bad = not isinstance(value, bool) and not (isinstance(value, int) and 500 <= value <= 599)
    elif name == "wrong_network":
        bad = not isinstance(value, bool) and value not in NETWORKS
    elif name in ("stalled_tip", "divergent_tip", "huge_reply"):
        bad = not isinstance(value, bool) and not (isinstance(value, int) and value >= 1)
    elif name == "peers":
        bad = value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        )
    elif name in ("hanging_stop", "slow_trickle"):
        bad = not isinstance(value, bool) and not (isinstance(value, int | float) and value >= 0)
    if bad:
        raise DevnetError(f"bad value for fault {name}: {value!r}")
