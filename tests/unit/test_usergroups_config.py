"""Groups that follow a Slack user group, in the config: accepted by id, empty until read,
refused when the reference is not a user group id; check-config does not count them offline."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from bot.checkconfig import CheckOptions, check_config
from bot.config import parse_config
from bot.configerror import ConfigError

ROOT = Path(__file__).resolve().parents[2]
BASE = """
environments:
  testnet:
    network: testnet
    rpc_credentials: {user: parthenon, password_env: RPC_PW}
    nodes: [{name: t1, rpc_url: "http://127.0.0.1:9"}]
"""


def test_a_followed_group_starts_empty_and_names_its_user_group() -> None:
    """`{slack_usergroup: S...}` is a group with no members until bot.usergroups reads it."""
    config = parse_config(BASE + "groups: {operators: [U0OP], rm: {slack_usergroup: S0RM1}}",
                          env={"RPC_PW": "pw"})
    assert config.groups == {"operators": frozenset({"U0OP"}), "rm": frozenset()}
    assert config.slack_usergroups == {"rm": "S0RM1"}


@pytest.mark.parametrize("value", ["{slack_usergroup: U0NOTAGROUP}", "{slack_usergroup: 12}",
                                   "{slack_usergroup: S0RM1, extra: 1}", "{name: rm}"])
def test_a_reference_that_is_not_a_user_group_id_is_refused(value: str) -> None:
    """Only a user group id (S...) alone is accepted, naming the group's field."""
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + f"groups: {{rm: {value}}}", env={"RPC_PW": "pw"})
    assert "groups.rm" in str(caught.value)


def test_check_config_does_not_count_a_followed_group_offline(tmp_path: Path) -> None:
    """The example config with release-managers and security following user groups has no
    'empty group' or 'quorum' problem offline: their members are known at run time."""
    document = yaml.safe_load((ROOT / "deploy" / "config.example.yaml").read_text())
    document["groups"]["release-managers"] = {"slack_usergroup": "S0RELEASE"}
    document["groups"]["security"] = {"slack_usergroup": "S0SECURITY"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    env = yaml.safe_load((ROOT / "deploy" / "k8s" / "secret.example.yaml").read_text())
    report = asyncio.run(check_config(CheckOptions(path, offline=True), env["stringData"]))
    assert [f.line() for f in report.problems] == []
