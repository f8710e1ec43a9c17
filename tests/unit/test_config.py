"""The configuration file: what loads, what is refused (with which code, field and node)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import BotConfig, load_config, parse_config
from bot.configerror import ConfigError
from bot.environments import NodeRole
from bot.nodes.network import GENESIS_HASHES, Network

PASSWORD = "s3cret-rpc-password"
WEBHOOK_SECRET = "hook-secret-value"
ENV = {"RPC_PASSWORD": PASSWORD, "DEPLOY_SECRET": WEBHOOK_SECRET}


def base() -> dict[str, Any]:
    """A valid configuration with two environments."""
    return {
        "environments": {
            "testnet": {
                "network": "testnet",
                "min_peers": 1,
                "waves": [10, 50, 100],
                "max_tip_lag": 2,
                "deploy_webhook": {
                    "url": "http://127.0.0.1:9000/deploy",
                    "secret_env": "DEPLOY_SECRET",
                },
                "rpc_credentials": {"user": "parthenon", "password_env": "RPC_PASSWORD"},
                "nodes": [
                    {
                        "name": "test-1",
                        "rpc_url": "http://127.0.0.1:18332",
                        "role": "miner",
                        "canary": True,
                    },
                    {"name": "test-2", "rpc_url": "http://127.0.0.1:18333", "role": "validator"},
                    {"name": "test-3", "rpc_url": "http://127.0.0.1:18334", "role": "rpc-edge"},
                ],
            },
            "mainnet": {
                "network": "mainnet",
                "rpc_credentials": {"user": "parthenon", "password_env": "RPC_PASSWORD"},
                "nodes": [{"name": "main-1", "rpc_url": "http://127.0.0.1:8332"}],
            },
        },
        "groups": {
            "release-managers": ["U01", "U02", "U03"],
            "security": ["U04"],
            "operators": ["U01", "U05"],
            "responders": ["W05"],
        },
        "permissions": {
            "promote": {"start": ["release-managers"], "operate": ["operators"]},
            "default": {"start": ["operators"], "operate": ["operators"]},
        },
        "slack": {"ops_channel": "C123", "incident_responders": ["responders"]},
        "drills": {"restore_drill_slo_days": 90},
    }


def load(data: dict[str, Any], env: dict[str, str] | None = None) -> BotConfig:
    return parse_config(
        yaml.safe_dump(data, sort_keys=False), source="bot.yaml", env=ENV if env is None else env
    )


def mutate(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(base())
    change(data)
    return data


def test_valid_config_loads_with_secrets_resolved() -> None:
    """A valid file loads; passwords come from the environment into SecretStr, hidden in repr."""
    config = load(base())
    node = config.node("test-2")
    assert node.credentials is not None
    assert node.credentials.password.get_secret_value() == PASSWORD
    assert PASSWORD not in repr(config)
    webhook = config.environment("testnet").deploy_webhook
    assert webhook is not None
    assert webhook.secret.get_secret_value() == WEBHOOK_SECRET
    assert config.environment("mainnet").expected_genesis == GENESIS_HASHES[Network.MAINNET]
    assert config.environment_of("main-1").name == "mainnet"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change that sets a dotted path (list indexes as numbers)."""

    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return change


def _add_node(env: str, node: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["environments"][env]["nodes"].append(node)

    return change


TESTNET_GENESIS = GENESIS_HASHES[Network.TESTNET]

REFUSALS: list[tuple[str, Callable[[dict[str, Any]], None], str, str, str | None]] = [
    # (case, change, code, text in the message (field included), node named)
    (
        "same node name in two environments",
        _add_node("mainnet", {"name": "test-1", "rpc_url": "http://127.0.0.1:8399"}),
        "duplicate_node",
        "already used in environment testnet",
        "test-1",
    ),
    (
        "same rpc url in two environments",
        _add_node("mainnet", {"name": "main-2", "rpc_url": "http://127.0.0.1:18333/"}),
        "duplicate_rpc_url",
        "already node test-2 in environment testnet",
        "main-2",
    ),
    (
        "unknown network",
        _set("environments.testnet.network", "devnet"),
        "unknown_network",
        "environments.testnet.network: unknown network 'devnet'",
        None,
    ),
    (
        "mainnet pinned to the testnet genesis",
        _set("environments.mainnet.genesis_hash", TESTNET_GENESIS),
        "genesis_mismatch",
        "is the testnet genesis but the environment's network is mainnet",
        None,
    ),
    (
        "mainnet pinned to an unknown genesis",
        _set("environments.mainnet.genesis_hash", "ab" * 32),
        "genesis_mismatch",
        "must pin the mainnet genesis",
        None,
    ),
    (
        "testnet pinned to the mainnet genesis",
        _set("environments.testnet.genesis_hash", GENESIS_HASHES[Network.MAINNET]),
        "genesis_mismatch",
        "is the mainnet genesis",
        None,
    ),
    (
        "a genesis hash that is not 64 hex",
        _set("environments.testnet.genesis_hash", "xyz"),
        "bad_genesis",
        "64 hexadecimal",
        None,
    ),
    (
        "display name in a group",
        _set("groups.operators", ["U01", "alice"]),
        "not_a_slack_id",
        "groups.operators: 'alice' in group operators is not a Slack user id",
        None,
    ),
    (
        "an @-mention in a group",
        _set("groups.security", ["@bob"]),
        "not_a_slack_id",
        "'@bob'",
        None,
    ),
    (
        "undefined group in permissions",
        _set("permissions.promote", {"start": ["release-mgrs"]}),
        "unknown_group",
        "permissions.promote.start: group release-mgrs is not defined",
        None,
    ),
    (
        "undefined group as incident responders",
        _set("slack.incident_responders", ["oncall"]),
        "unknown_group",
        "slack.incident_responders: group oncall",
        None,
    ),
    (
        "a channel name instead of an id",
        _set("slack.ops_channel", "#ops"),
        "not_a_slack_id",
        "not a Slack channel id",
        None,
    ),
    (
        "waves not increasing",
        _set("environments.testnet.waves", [50, 10, 100]),
        "bad_waves",
        "must increase strictly",
        None,
    ),
    (
        "waves repeating a percentage",
        _set("environments.testnet.waves", [50, 50, 100]),
        "bad_waves",
        "must increase strictly",
        None,
    ),
    (
        "waves not ending at 100",
        _set("environments.testnet.waves", [10, 50]),
        "bad_waves",
        "the last wave must be 100",
        None,
    ),
    (
        "waves above 100",
        _set("environments.testnet.waves", [10, 150]),
        "bad_waves",
        "between 1 and 100",
        None,
    ),
    ("no waves", _set("environments.testnet.waves", []), "bad_waves", "at least one", None),
    (
        "password env var missing",
        _set(
            "environments.testnet.nodes.1.credentials",
            {"user": "x", "password_env": "NOT_SET_ANYWHERE"},
        ),
        "missing_secret",
        "environments.testnet.nodes.test-2.credentials: password_env: environment variable "
        "NOT_SET_ANYWHERE is not set",
        "test-2",
    ),
    (
        "environment default password missing",
        _set(
            "environments.mainnet.rpc_credentials",
            {"user": "x", "password_env": "MAIN_PASSWORD"},
        ),
        "missing_secret",
        "environments.mainnet.rpc_credentials: password_env: environment variable "
        "MAIN_PASSWORD is not set",
        None,
    ),
    (
        "password file missing",
        _set(
            "environments.mainnet.rpc_credentials",
            {"user": "x", "password_file": "/nonexistent/parthenon/password"},
        ),
        "missing_secret",
        "cannot read /nonexistent/parthenon/password",
        None,
    ),
    (
        "webhook secret env var missing",
        _set(
            "environments.testnet.deploy_webhook",
            {"url": "http://127.0.0.1:9000/", "secret_env": "NO_SUCH_SECRET"},
        ),
        "missing_secret",
        "environment variable NO_SUCH_SECRET is not set",
        None,
    ),
    (
        "a password written into the file",
        _set(
            "environments.mainnet.rpc_credentials",
            {"user": "x", "password": "inline-password"},
        ),
        "inline_secret",
        "may not be written in the config file",
        None,
    ),
    (
        "credentials naming neither env nor file",
        _set("environments.mainnet.rpc_credentials", {"user": "x"}),
        "missing_secret",
        "exactly one of password_env or password_file",
        None,
    ),
    (
        "a node without credentials anywhere",
        _drop("environments.mainnet.rpc_credentials"),
        "missing_credentials",
        "node main-1: the node has no credentials",
        "main-1",
    ),
    (
        "credentials in the URL",
        _set("environments.mainnet.nodes.0.rpc_url", "http://u:p@127.0.0.1:8332"),
        "bad_url",
        "credentials may not be written into a URL",
        "main-1",
    ),
    (
        "a path in the RPC URL",
        _set("environments.mainnet.nodes.0.rpc_url", "http://127.0.0.1:8332/chain/info"),
        "bad_url",
        "scheme://host:port only",
        "main-1",
    ),
    (
        "an unknown field",
        _set("environments.mainnet.min_peer", 3),
        "unknown_field",
        "environments.mainnet.min_peer",
        None,
    ),
    (
        "an unknown role",
        _set("environments.mainnet.nodes.0.role", "archiver"),
        "invalid",
        "environments.mainnet.nodes.main-1.role: unknown role 'archiver'",
        "main-1",
    ),
    (
        "an environment without nodes",
        _set("environments.mainnet.nodes", []),
        "invalid",
        "environments.mainnet.nodes",
        None,
    ),
    (
        "a workflow name with capitals",
        _set("permissions.Promote", {"start": ["operators"]}),
        "bad_name",
        "workflow name 'Promote'",
        None,
    ),
]


@pytest.mark.parametrize(
    ("change", "code", "text", "node"),
    [pytest.param(*case[1:], id=case[0]) for case in REFUSALS],
)
def test_refusals(
    change: Callable[[dict[str, Any]], None], code: str, text: str, node: str | None
) -> None:
    """Each kind of bad configuration is refused with its own code, the field and the node."""
    with pytest.raises(ConfigError) as caught:
        load(mutate(change))
    error = caught.value
    assert error.code == code, str(error)
    assert text in str(error)
    assert str(error).startswith("bot.yaml: ")
    if node is not None:
        assert error.node == node
        assert node in str(error)
    assert PASSWORD not in str(error)
    assert WEBHOOK_SECRET not in str(error)


def test_secret_values_never_appear_in_errors() -> None:
    """Even when the failing credentials block has a resolved password, the text omits it."""
    data = mutate(
        _set(
            "environments.testnet.nodes.0.credentials",
            {"user": "a:b", "password_env": "RPC_PASSWORD"},
        )
    )
    with pytest.raises(ConfigError) as caught:
        load(data)
    assert "cannot contain ':'" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in repr(caught.value.__dict__)
    assert caught.value.__cause__ is None


def test_inline_password_value_is_not_echoed() -> None:
    """A password written into the file is refused without repeating it."""
    data = mutate(
        _set("environments.mainnet.rpc_credentials", {"user": "x", "password": "hunter2-inline"})
    )
    with pytest.raises(ConfigError) as caught:
        load(data)
    assert "hunter2-inline" not in str(caught.value)


def test_password_from_file(tmp_path: Path) -> None:
    """password_file is read at load, trailing newline dropped."""
    secret = tmp_path / "rpc-password"
    secret.write_text("from-a-file\n")
    data = mutate(
        _set(
            "environments.mainnet.rpc_credentials",
            {"user": "parthenon", "password_file": str(secret)},
        )
    )
    creds = load(data).node("main-1").credentials
    assert creds is not None
    assert creds.password.get_secret_value() == "from-a-file"


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_empty_secret_is_refused(tmp_path: Path, blank: str) -> None:
    """An empty or whitespace password (env var or file) is refused, not sent."""
    data = base()
    with pytest.raises(ConfigError) as caught:
        load(data, env={**ENV, "RPC_PASSWORD": blank})
    assert caught.value.code == "missing_secret"
    assert "is empty or only whitespace" in str(caught.value)


def test_node_credentials_override_the_environment_default() -> None:
    """A node's own credentials win over the environment's rpc_credentials."""
    data = mutate(
        _set(
            "environments.testnet.nodes.2.credentials",
            {"user": "edge-user", "password_env": "DEPLOY_SECRET"},
        )
    )
    config = load(data)
    edge = config.node("test-3").credentials
    other = config.node("test-1").credentials
    assert edge is not None
    assert other is not None
    assert (edge.user, edge.password.get_secret_value()) == ("edge-user", WEBHOOK_SECRET)
    assert other.user == "parthenon"


def test_duplicate_yaml_key_is_refused() -> None:
    """An environment written twice is refused instead of silently keeping the last one."""
    text = yaml.safe_dump(base()) + "environments: {}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="bot.yaml", env=ENV)
    assert caught.value.code == "duplicate_key"
    assert "'environments'" in str(caught.value)


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    """Broken YAML and an unreadable path give their own codes and name the file."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("environments: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        load_config(bad, env=ENV)
    assert caught.value.code == "yaml"
    assert str(bad) in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml", env=ENV)
    assert caught.value.code == "unreadable"
    not_a_mapping = tmp_path / "list.yaml"
    not_a_mapping.write_text("- 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(not_a_mapping, env=ENV)
    assert caught.value.code == "invalid"


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    """load_config reads the path and resolves secrets from the given environment."""
    path = tmp_path / "bot.yaml"
    path.write_text(yaml.safe_dump(base()))
    config = load_config(path, env=ENV)
    assert [n.name for n in config.nodes("testnet")] == ["test-1", "test-2", "test-3"]


def test_shipped_example_config_loads() -> None:
    """deploy/config.example.yaml is a valid configuration."""
    example = Path(__file__).resolve().parents[2] / "deploy" / "config.example.yaml"
    env = {
        "PARTHENON_RPC_PASSWORD_TESTNET": "x",
        "PARTHENON_RPC_PASSWORD_MAINNET": "y",
        "PARTHENON_RPC_PASSWORD_REGTEST": "z",
        "PARTHENON_DEPLOY_SECRET": "w",
    }
    config = load_config(example, env=env)
    assert config.environments


@pytest.mark.parametrize(
    ("count", "waves", "expected"),
    [
        (10, [10, 50, 100], [1, 4, 5]),
        (3, [10, 50, 100], [1, 1, 1]),
        (2, [10, 50, 100], [1, 1]),
        (1, [10, 50, 100], [1]),
        (7, [100], [7]),
        (200, [10, 50, 100], [20, 80, 100]),
        (4, [25, 50, 75, 100], [1, 1, 1, 1]),
        (5, [1, 2, 100], [1, 4]),
    ],
)
def test_waves_split(count: int, waves: list[int], expected: list[int]) -> None:
    """Waves are cumulative percentages (ceil), never empty, every node exactly once."""
    nodes = [{"name": f"n-{i}", "rpc_url": f"http://127.0.0.1:{20000 + i}"} for i in range(count)]
    data = mutate(_set("environments.testnet.nodes", nodes))
    data["environments"]["testnet"]["waves"] = waves
    config = load(data)
    split = config.waves("testnet")
    assert [len(w) for w in split] == expected
    flat = [n.name for wave in split for n in wave]
    assert sorted(flat) == sorted(n["name"] for n in nodes)
    assert len(set(flat)) == count
    assert config.waves("testnet") == split  # deterministic


def test_waves_put_canaries_first() -> None:
    """Canary nodes go in the first wave, the rest keep file order."""
    nodes = [
        {"name": f"n-{i}", "rpc_url": f"http://127.0.0.1:{20000 + i}", "canary": i == 7}
        for i in range(10)
    ]
    config = load(mutate(_set("environments.testnet.nodes", nodes)))
    split = config.waves("testnet")
    assert [n.name for n in split[0]] == ["n-7"]
    assert [n.name for n in split[1]] == ["n-0", "n-1", "n-2", "n-3"]


def test_nodes_by_role_and_canary() -> None:
    """Nodes can be selected by role (rpc/edge accepted for rpc-edge) and by canary."""
    config = load(base())
    assert [n.name for n in config.nodes("testnet", role=NodeRole.MINER)] == ["test-1"]
    assert [n.name for n in config.nodes("testnet", role=NodeRole("rpc"))] == ["test-3"]
    assert [n.name for n in config.nodes("testnet", canary=True)] == ["test-1"]
    assert [n.name for n in config.nodes("testnet", canary=False)] == ["test-2", "test-3"]


def test_members_and_permissions() -> None:
    """Workflow permissions use the workflow's own entry, then default, then 'operators'."""
    config = load(base())
    assert config.members("release-managers") == {"U01", "U02", "U03"}
    assert config.may_start("U02", "promote")
    assert not config.may_start("U05", "promote")
    assert config.may_operate("U05", "promote")
    assert config.may_start("U05", "backup")  # default
    assert not config.may_start("U02", "backup")
    with pytest.raises(ConfigError) as caught:
        config.members("nobody")
    assert caught.value.code == "unknown_group"


def test_permission_fallbacks_without_permissions_section() -> None:
    """Without a permissions section, the 'operators' group may start and operate everything."""
    data = base()
    del data["permissions"]
    config = load(data)
    assert config.may_start("U05", "promote")
    assert config.may_operate("U01", "rollback")
    assert not config.may_start("U04", "promote")
    del data["groups"]["operators"]
    assert not load(data).may_start("U05", "promote")  # no such group: nobody


def test_partial_workflow_permission_falls_back_per_kind() -> None:
    """A workflow entry with only `start` takes `operate` from default."""
    data = mutate(_set("permissions.backup", {"start": ["security"]}))
    data["permissions"]["default"]["operate"] = ["responders"]
    config = load(data)
    assert config.may_start("U04", "backup")
    assert config.may_operate("W05", "backup")
    assert not config.may_operate("U01", "backup")


def test_unknown_lookups_raise_config_errors() -> None:
    """Looking up an environment or node that does not exist is a ConfigError with a code."""
    config = load(base())
    with pytest.raises(ConfigError) as caught:
        config.environment("staging")
    assert caught.value.code == "unknown_environment"
    assert "mainnet, testnet" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        config.node("ghost")
    assert caught.value.code == "unknown_node"


def test_rpc_url_is_normalised() -> None:
    """Trailing slashes and host case do not hide a duplicate URL."""
    data = mutate(_add_node("mainnet", {"name": "main-2", "rpc_url": "HTTP://LOCALHOST:8400/"}))
    data["environments"]["testnet"]["nodes"][0]["rpc_url"] = "http://localhost:8400"
    with pytest.raises(ConfigError) as caught:
        load(data)
    assert caught.value.code == "duplicate_rpc_url"


def test_config_is_immutable() -> None:
    """The loaded configuration cannot be changed by accident."""
    config = load(base())
    with pytest.raises(ValueError, match="frozen"):
        config.environment("testnet").min_peers = 5  # type: ignore[misc]


@st.composite
def _wave_plans(draw: st.DrawFn) -> list[int]:
    inner = draw(st.lists(st.integers(1, 99), unique=True, max_size=5))
    return [*sorted(inner), 100]


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 60), waves=_wave_plans(), canaries=st.integers(0, 3))
def test_waves_partition_property(count: int, waves: list[int], canaries: int) -> None:
    """For any node count and plan: no empty wave, every node once, cumulative sizes = ceil."""
    nodes = [
        {"name": f"n-{i}", "rpc_url": f"http://127.0.0.1:{20000 + i}", "canary": i < canaries}
        for i in range(count)
    ]
    data = mutate(_set("environments.testnet.nodes", nodes))
    data["environments"]["testnet"]["waves"] = waves
    split = load(data).waves("testnet")
    assert all(split)
    flat = [n.name for wave in split for n in wave]
    assert sorted(flat) == sorted(n["name"] for n in nodes)
    cumulative = {sum(len(w) for w in split[: i + 1]) for i in range(len(split))}
    assert cumulative == {-(-pct * count // 100) for pct in waves}
    first_wave = {n.name for n in split[0]}
    assert all(f"n-{i}" in first_wave for i in range(min(canaries, len(split[0]))))
