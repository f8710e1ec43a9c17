"""The funded wallet of a simulated node: three assets, base units, deterministic ids."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = ["ASSETS", "Asset", "Wallet", "WalletError"]

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Asset:
    id: int
    token: str
    symbol: str
    decimals: int = 8


ASSETS: tuple[Asset, ...] = (
    Asset(0, "TALANTON", "TALN"),
    Asset(1, "DRACHMA", "DRM"),
    Asset(2, "OBOLOS", "OBL"),
)


class WalletError(Exception):
    """A wallet refusal; `message` is what the node answers with error code -1."""

    code = "wallet_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Wallet:
    """Balances survive a node restart (they live in the chain state, not in memory)."""

    def __init__(self, seed: str, funds: int) -> None:
        self._seed = seed
        self._balances = {asset.id: funds for asset in ASSETS}
        self._addresses = 0
        self._sent = 0

    def asset(self, value: object) -> Asset:
        """An asset by id (0..2, number or decimal string) or by token or symbol name."""
        for asset in ASSETS:
            if value in (asset.token, asset.symbol) or (
                not isinstance(value, bool) and value in (asset.id, str(asset.id))
            ):
                return asset
        raise WalletError("Invalid asset")

    def balance(self, asset: Asset) -> int:
        return self._balances[asset.id]

    def new_address(self) -> str:
        """A 64-hex public key, deterministic per node and call count."""
        self._addresses += 1
        return hashlib.sha256(f"{self._seed}:address:{self._addresses}".encode()).hexdigest()

    def send(self, address: object, amount: object, asset: Asset) -> str:
        if not isinstance(address, str) or not _HEX64.match(address):
            raise WalletError("Invalid address")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise WalletError("Invalid amount")
        if amount > self._balances[asset.id]:
            raise WalletError("Failed to create transaction (insufficient funds?)")
        self._balances[asset.id] -= amount
        self._sent += 1
        material = f"{self._seed}:tx:{self._sent}:{address}:{amount}:{asset.id}"
        return hashlib.sha256(material.encode()).hexdigest()
