"""The node's RPC methods over a node's state (no I/O; `stop` is handled by the node itself).

Every method-level failure is a `MethodError`, answered with code -1 and the daemon's message.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any, Protocol

from bot.devnet.dialect import DAEMON_PROTOCOL_VERSION, DAEMON_VERSION, Dialect
from bot.devnet.wallet import Asset, Wallet, WalletError

__all__ = ["METHODS", "MONETARY_SPEC_HASH", "PROTOCOL_VERSION", "MethodError", "NodeView", "call"]

PROTOCOL_VERSION = DAEMON_PROTOCOL_VERSION
MONETARY_SPEC_HASH = hashlib.sha256(b"parthenon-monetary-spec-v1").hexdigest()
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})+$")
_DECIMAL = re.compile(r"^-?[0-9]+$")


class MethodError(Exception):
    code = "method_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NodeView(Protocol):
    """What the methods read from a node."""

    @property
    def height(self) -> int: ...

    @property
    def version(self) -> str: ...

    @property
    def dialect(self) -> Dialect: ...

    @property
    def wallet(self) -> Wallet: ...

    def peer_count(self) -> int: ...

    def syncing(self) -> bool: ...

    def block(self, height: int) -> dict[str, Any]: ...

    def queue_transaction(self, txid: str) -> None: ...


Params = list[Any] | dict[str, Any] | None


def _positional(params: Params, method: str) -> list[Any]:
    """Methods with arguments need `params`; an object counts as no positional arguments."""
    if params is None:
        raise MethodError(f"Missing params for {method}")
    return params if isinstance(params, list) else []


def _info(node: NodeView, params: Params) -> dict[str, Any]:
    peers = node.peer_count()
    return {
        "blocks": node.height,
        "connections": peers,
        "protocolversion": PROTOCOL_VERSION,
        # The daemon's version is a constant; only the `future` dialect reports the release.
        "version": node.version if node.dialect is Dialect.FUTURE else DAEMON_VERSION,
        "syncing": node.syncing(),
        "sync_progress": 100.0,
    }


def _chain_info(node: NodeView, params: Params) -> dict[str, Any]:
    return {**_info(node, params), "monetary_spec_hash": MONETARY_SPEC_HASH}


def _blockcount(node: NodeView, params: Params) -> int:
    return node.height


def _getblock(node: NodeView, params: Params) -> dict[str, Any]:
    args = _positional(params, "getblock")
    if not args:
        raise MethodError("Missing height parameter")
    raw = args[0]
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise MethodError("Invalid height parameter")
    if isinstance(raw, str):
        if not _DECIMAL.match(raw.strip()):
            raise MethodError("Invalid height parameter")
        raw = int(raw.strip())
    if raw < 1 or raw > node.height:
        raise MethodError(f"Block not found at height {raw}")
    return node.block(raw)


def _asset(node: NodeView, value: Any) -> Asset:
    try:
        return node.wallet.asset(value)
    except WalletError as exc:
        raise MethodError(exc.message) from exc


def _getbalance(node: NodeView, params: Params) -> dict[str, Any]:
    args = _positional(params, "getbalance")
    asset = _asset(node, args[0]) if args else _asset(node, 0)
    denom = args[1] if len(args) > 1 else asset.symbol
    raw = node.wallet.balance(asset)
    if denom == asset.symbol:
        whole, frac = divmod(raw, 10**asset.decimals)
        amount = f"{whole}.{frac:0{asset.decimals}d}"
    elif denom == "base":
        amount = str(raw)
    else:
        raise MethodError("Invalid denomination")
    return {
        "asset": asset.id,
        "token": asset.token,
        "balance": raw,
        "amount_raw": raw,
        "amount": amount,
        "amount_formatted": f"{amount} {denom}",
        "denom_used": denom,
        "decimals": asset.decimals,
    }


def _getnewaddress(node: NodeView, params: Params) -> str:
    _positional(params, "getnewaddress")
    return node.wallet.new_address()


def _sendtoaddress(node: NodeView, params: Params) -> str:
    args = _positional(params, "sendtoaddress")
    if len(args) < 2:
        raise MethodError("sendtoaddress requires address and amount")
    asset = _asset(node, args[2]) if len(args) > 2 else _asset(node, 0)
    try:
        txid = node.wallet.send(args[0], args[1], asset)
    except WalletError as exc:
        raise MethodError(exc.message) from exc
    node.queue_transaction(txid)
    return txid


def _sendrawtransaction(node: NodeView, params: Params) -> str:
    args = _positional(params, "sendrawtransaction")
    if not args or not isinstance(args[0], str) or not _HEX.match(args[0]):
        raise MethodError("TX decode failed")
    txid = hashlib.sha256(hashlib.sha256(bytes.fromhex(args[0])).digest()).hexdigest()
    node.queue_transaction(txid)
    return txid


METHODS: dict[str, Callable[[NodeView, Params], Any]] = {
    "getinfo": _info,
    "chain/info": _chain_info,
    "getblockcount": _blockcount,
    "getblock": _getblock,
    "getbalance": _getbalance,
    "getnewaddress": _getnewaddress,
    "sendtoaddress": _sendtoaddress,
    "sendrawtransaction": _sendrawtransaction,
}


def call(node: NodeView, method: str, params: Params) -> Any:
    handler = METHODS.get(method)
    if handler is None:
        raise MethodError(f"Method not found: {method}")
    return handler(node, params)
