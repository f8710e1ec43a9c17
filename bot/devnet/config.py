"""The bot-config fragment that points an environment at a devnet (the agreed YAML shape).

The node-layer helper owns the config schema; this writes only the shape agreed with it, merging
into an existing file so one config can hold several devnets (the demo runs three).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from bot.devnet.network import Devnet

__all__ = ["DEFAULT_WAVES", "environment_config", "merge_config_file"]

DEFAULT_WAVES: tuple[int, ...] = (10, 50, 100)


def environment_config(
    devnet: Devnet,
    *,
    min_peers: int = 1,
    waves: Sequence[int] = DEFAULT_WAVES,
    secret_env: str = "PARTHENON_DEPLOY_SECRET",  # noqa: S107 - a variable name
    password_env: str | None = None,
) -> dict[str, Any]:
    """One entry of `environments:` for this devnet's nodes, deploy receiver and credentials."""
    password_env = password_env or f"PARTHENON_RPC_PASSWORD_{devnet.network.upper()}"
    return {
        "network": devnet.network,
        "min_peers": min_peers,
        "waves": list(waves),
        "deploy_webhook": {"url": devnet.deploy.url, "secret_env": secret_env},
        # The devnet's deploy receiver reads the node logs (`check-logs`): the daemon exports no
        # validation-error metric, so that is where this environment's gates get them.
        "evidence": {"validation_errors": {"source": "deploy"}},
        "rpc_credentials": {"user": devnet.rpc_user, "password_env": password_env},
        "nodes": [
            {"name": n.name, "rpc_url": n.url, "role": n.role, "canary": n.canary}
            for n in devnet.nodes
        ],
    }


def merge_config_file(path: Path, environment: str, entry: dict[str, Any]) -> None:
    """Write `entry` under `environments.<environment>`, keeping whatever else the file holds."""
    document: dict[str, Any] = {}
    if path.exists():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            document = loaded
    environments = document.get("environments")
    if not isinstance(environments, dict):
        environments = {}
    environments[environment] = entry
    document["environments"] = environments
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
