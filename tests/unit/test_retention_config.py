"""`retention:` in the config: defaults, durations as people write them, refusals on the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.configerror import ConfigError

BASE = """
environments:
  testnet:
    network: testnet
    rpc_credentials: {user: parthenon, password_env: RPC_PASSWORD}
    nodes: [{name: test-1, rpc_url: "http://127.0.0.1:18332", role: miner}]
"""


def test_defaults_keep_finished_runs_30_days_in_the_default_archive() -> None:
    retention = parse_config(BASE, secrets=False).retention
    assert retention.finished_runs == timedelta(days=30)
    assert retention.archive_dir == Path("/var/lib/parthenon-bot/archive")
    assert retention.enabled


def test_durations_and_the_directory_as_written() -> None:
    text = BASE + "retention: {finished_runs: 90d, archive_dir: /srv/archive, sweep_every: 1m}\n"
    retention = parse_config(text, secrets=False).retention
    assert retention.finished_runs == timedelta(days=90)
    assert retention.archive_dir == Path("/srv/archive")
    assert retention.sweep_every == timedelta(minutes=1)


@pytest.mark.parametrize("bad", ["{finished_runs: 10m}", "{finished_runs: 23h}",
                                 "{finished_runs: soon}",
                                 "{sweep_every: 0s}", "{keep: 30d}"])
def test_refusals_name_the_field(bad: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(BASE + f"retention: {bad}\n", secrets=False)
    assert "retention" in str(refused.value)
