"""A small devnet world for the node-guard and health scenarios: one testnet devnet, a config
file for it (as an operator writes one), and the people: operators UOP/UOP2, others not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.config import BotConfig, parse_config
from bot.devnet import Devnet

OPERATORS = ("UOP", "UOP2")
RELEASE_MANAGER = "URM1"
ENV = {"PCB_RPC_PASSWORD": "devnet-password", "PARTHENON_DEPLOY_SECRET": "hook-secret"}


def world_doc(net: Devnet, **options: Any) -> dict[str, Any]:
    entry = net.config_entry(password_env="PCB_RPC_PASSWORD")
    entry.update(options)
    return {
        "environments": {net.network: entry},
        "groups": {"operators": list(OPERATORS), "release-managers": [RELEASE_MANAGER]},
        "permissions": {"default": {"start": ["operators", "release-managers"],
                                    "operate": ["operators"]}},
        "slack": {"ops_channel": "C0OPS"},
    }


def world_config(net: Devnet, **options: Any) -> BotConfig:
    return parse_config(yaml.safe_dump(world_doc(net, **options)), env=ENV)


def world_file(net: Devnet, directory: Path, **options: Any) -> Path:
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(world_doc(net, **options)), encoding="utf-8")
    return path
