"""`parthenon-bot check-config` on a good deployment and on each kind of bad one: devnet nodes,
a fake Slack, our own Redis."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.checkconfig import CheckOptions, Report, check_config
from bot.devnet import Devnet
from bot.runtime import DEFINITIONS_DIR
from bot.testing.redisserver import free_port
from tests.integration.ops.fakeslack import FakeSlack

ROOT = Path(__file__).resolve().parents[3]
RPC_PASSWORD = "devnet-password"  # what the devnet nodes accept
TOKEN = "xoxb-check-4321-zyxw"
SIGNING = "signing-secret-check-55"
DEPLOY = "deploy-secret-check-66"
GROUPS = {
    "operators": ["U0123ABCD", "U0789ABCD"],
    "release-managers": ["U0123ABCD", "U0123ABCE"],
    "security": ["U0456ABCD"],
}


@pytest.fixture
async def devnets() -> AsyncIterator[tuple[Devnet, Devnet]]:
    async with Devnet("testnet", nodes=3, block_interval=0) as testnet, \
            Devnet("regtest", nodes=1, block_interval=0, peers=1) as regtest:  # peered: not syncing
        yield testnet, regtest


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def config_file(tmp_path: Path, devnets: tuple[Devnet, Devnet]) -> Path:
    """A config for both devnets with the groups the shipped definitions name."""
    path = tmp_path / "config.yaml"
    for net in devnets:
        net.write_config(path)
    edit(path, groups=GROUPS)
    return path


def edit(path: Path, **top: Any) -> None:
    document = yaml.safe_load(path.read_text())
    document.update(top)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture
def env(redis_url: str, slack: FakeSlack) -> dict[str, str]:
    return {
        "PARTHENON_RPC_PASSWORD_TESTNET": RPC_PASSWORD,
        "PARTHENON_RPC_PASSWORD_REGTEST": RPC_PASSWORD,
        "PARTHENON_DEPLOY_SECRET": DEPLOY,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING,
        "SLACK_API_URL": slack.url,
        "REDIS_URL": redis_url,
    }


async def check(config: Path | None, env: dict[str, str], **options: Any) -> Report:
    options.setdefault("timeout", 2.0)
    return await check_config(CheckOptions(config, **options), env)


def failures(report: Report) -> list[tuple[str, str]]:
    return [(f.subject, f.code) for f in report.problems]


def text_of(report: Report) -> str:
    return "\n".join(f.line() for f in report.findings)


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """The real command in its own process (the devnet keeps serving in this loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "check-config", *args, cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_good_deployment_passes_every_check(
    config_file: Path, env: dict[str, str], slack: FakeSlack
) -> None:
    """Config, all twelve definitions, every node's health and genesis, Slack auth and Redis
    are fine: exit 0, and the output names each node as on its chain."""
    rc, out = await run_cli("--config", str(config_file), "--timeout", "3", env=env)
    assert rc == 0, out
    assert "FAIL" not in out
    assert "all checks passed (0 warnings)" in out
    for name in ("test-1", "test-2", "test-3", "regt-1"):
        assert f"ok    node {name} (" in out
    assert "on the testnet chain" in out
    assert "on the regtest chain" in out
    assert "ok    slack: auth.test accepted the bot token" in out
    assert "ok    redis: the server at REDIS_URL answers" in out
    assert slack.calls == ["auth.test"]
    for secret in (RPC_PASSWORD, TOKEN, SIGNING, DEPLOY):
        assert secret not in out


async def test_missing_file_is_one_specific_problem(env: dict[str, str], tmp_path: Path) -> None:
    """A config path that does not exist is reported as unreadable, with exit status 1."""
    rc, out = await run_cli(str(tmp_path / "nope.yaml"), "--offline", env=env)
    assert rc == 1
    assert "FAIL  config:" in out
    assert "cannot read the file" in out
    assert "[unreadable]" in out


async def test_no_config_at_all_is_reported(env: dict[str, str]) -> None:
    """Without FILE, --config or PARTHENON_BOT_CONFIG the check says how to give one."""
    report = await check(None, env, offline=True)
    assert failures(report) == [("config", "no_config")]


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"groups": {"operators": ["alice"]}}, "not_a_slack_id", "is not a Slack user id"),
        ({"unknown_section": 1}, "unknown_field", "unknown_section"),
        ({"environments": {}}, "invalid", "environments"),
    ],
)
async def test_invalid_config_is_refused_with_its_code(
    config_file: Path, env: dict[str, str], change: dict[str, Any], code: str, words: str
) -> None:
    """Each kind of invalid file gets the config loader's specific message and code."""
    edit(config_file, **change)
    report = await check(config_file, env, offline=True)
    assert failures(report) == [("config", code)]
    assert words in text_of(report)


async def test_missing_secret_names_the_variable_not_a_value(
    config_file: Path, env: dict[str, str]
) -> None:
    """An RPC password variable that is not set is named; no secret is printed."""
    del env["PARTHENON_RPC_PASSWORD_REGTEST"]
    report = await check(config_file, env, offline=True)
    assert failures(report) == [("config", "missing_secret")]
    assert "PARTHENON_RPC_PASSWORD_REGTEST is not set" in text_of(report)
    assert DEPLOY not in text_of(report)


async def test_bad_definitions_directory_is_reported(
    config_file: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """A definitions path that is not a directory, or one without definitions, is a problem."""
    report = await check(config_file, env, offline=True, definitions=tmp_path / "missing")
    assert failures(report) == [("definitions", "no_definitions")]
    empty = tmp_path / "empty"
    empty.mkdir()
    report = await check(config_file, env, offline=True, definitions=empty)
    assert failures(report) == [("definitions", "no_definitions")]


async def test_each_bad_definition_file_is_named(
    config_file: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """Every broken file is reported on its own (not only the first); good ones still load;
    a second file defining the same workflow is refused."""
    folder = tmp_path / "defs"
    folder.mkdir()
    backup = (DEFINITIONS_DIR / "backup.yaml").read_text()
    (folder / "backup.yaml").write_text(backup)
    (folder / "copy.yaml").write_text(backup)
    (folder / "broken.yaml").write_text("name: broken\ntitle: [unclosed\n")
    (folder / "nosteps.yaml").write_text("name: nosteps\ntitle: No steps\n")
    report = await check(config_file, env, offline=True, definitions=folder)
    assert sorted(failures(report)) == [
        ("definition broken.yaml", "definition_invalid"),
        ("definition copy.yaml", "duplicate_workflow"),
        ("definition nosteps.yaml", "definition_invalid"),
    ]
    assert "1 workflows load: backup" in text_of(report)


async def test_definition_naming_a_group_the_config_lacks_fails(
    config_file: Path, env: dict[str, str]
) -> None:
    """Approvals by a group the config does not define could never be given: a problem."""
    edit(config_file, groups={k: v for k, v in GROUPS.items() if k != "security"})
    report = await check(config_file, env, offline=True)
    problems = failures(report)
    assert problems
    assert {code for _, code in problems} == {"unknown_group"}
    assert "names group 'security'" in text_of(report)


async def test_definition_naming_a_missing_environment_is_a_warning(
    tmp_path: Path, devnets: tuple[Devnet, Devnet], env: dict[str, str]
) -> None:
    """Without the regtest environment the promote workflow cannot run: warned, not failed."""
    path = tmp_path / "testnet-only.yaml"
    devnets[0].write_config(path)
    edit(path, groups=GROUPS)
    report = await check(path, env, offline=True)
    assert report.problems == []
    warned = [(f.subject, f.code) for f in report.warnings]
    assert ("workflow promote", "unknown_environment") in warned


async def test_unreachable_node_is_a_problem(
    config_file: Path, env: dict[str, str], devnets: tuple[Devnet, Devnet]
) -> None:
    """A node whose RPC port refuses connections fails the check and is named."""
    devnets[0].node("test-2").faults.refuse_connections = True
    report = await check(config_file, env)
    assert failures(report) == [("node test-2 (testnet)", "node_unreachable")]
    assert "cannot connect" in text_of(report)


async def test_node_on_the_wrong_chain_is_a_problem(
    config_file: Path, env: dict[str, str], devnets: tuple[Devnet, Devnet]
) -> None:
    """A testnet node reporting mainnet's genesis is refused by the network guard."""
    devnets[0].node("test-3").faults.wrong_network = True
    report = await check(config_file, env)
    assert failures(report) == [("node test-3 (testnet)", "network_mismatch")]
    assert "the mainnet genesis" in text_of(report)


async def test_refused_rpc_login_is_a_problem(
    config_file: Path, env: dict[str, str]
) -> None:
    """A wrong RPC password shows as a refused login for each node using it, password unseen."""
    env["PARTHENON_RPC_PASSWORD_REGTEST"] = "not-the-password"
    report = await check(config_file, env)
    assert failures(report) == [("node regt-1 (regtest)", "node_auth")]
    assert "not-the-password" not in text_of(report)


async def test_syncing_node_is_a_warning(
    config_file: Path, env: dict[str, str], devnets: tuple[Devnet, Devnet]
) -> None:
    """A node with no peers answers /health as syncing: warned, the check still passes."""
    devnets[0].node("test-1").faults.peers = 0
    report = await check(config_file, env)
    assert report.problems == []
    assert [(f.subject, f.code) for f in report.warnings] == [
        ("node test-1 (testnet)", "node_not_ok")
    ]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-revoked-0000"}, "slack_auth"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token-0000"}, "bad_token"),
        ({"SLACK_SIGNING_SECRET": None}, "no_signing_secret"),
        ({"SLACK_SIGNING_SECRET": ""}, "blank_secret"),
        ({"SLACK_SIGNING_SECRET": "  "}, "blank_secret"),
        ({"SLACK_APP_TOKEN": ""}, "blank_secret"),
        ({"SLACK_APP_TOKEN": "xoxb-not-an-app-token"}, "bad_token"),
    ],
)
async def test_slack_problems_are_specific(
    config_file: Path, env: dict[str, str], changes: dict[str, str | None], code: str
) -> None:
    """A refused token, a token of the wrong kind, no signing secret in HTTP mode, a secret
    set to nothing (refused by serve at start-up, so check-config fails it too)."""
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    report = await check(config_file, env)
    assert failures(report) == [("slack", code)]
    for value in changes.values():
        if value and value.strip():
            assert value not in text_of(report)


async def test_slack_unset_is_only_a_warning(config_file: Path, env: dict[str, str]) -> None:
    """Without SLACK_BOT_TOKEN there is nothing to check in Slack: a warning, not a failure."""
    del env["SLACK_BOT_TOKEN"]
    report = await check(config_file, env)
    assert report.problems == []
    assert [(f.subject, f.code) for f in report.warnings] == [("slack", "no_token")]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        (f"redis://127.0.0.1:{free_port()}/0", "redis_unreachable"),
        ("http://127.0.0.1:6380", "redis_url"),
        ("redis+sentinel://127.0.0.1:26379", "redis_url"),
    ],
    ids=["nothing-listening", "not-redis", "sentinel-without-service"],
)
async def test_redis_problems_are_specific(
    config_file: Path, env: dict[str, str], url: str, code: str
) -> None:
    """An unusable REDIS_URL or one where nothing answers is a problem of its own."""
    env["REDIS_URL"] = url
    report = await check(config_file, env)
    assert failures(report) == [("redis", code)]


async def test_several_problems_are_all_reported_with_exit_status_1(
    config_file: Path, env: dict[str, str], devnets: tuple[Devnet, Devnet]
) -> None:
    """Problems do not hide each other: a dead node, a wrong chain and a refused token at once."""
    devnets[0].node("test-1").faults.refuse_connections = True
    devnets[0].node("test-2").faults.wrong_network = True
    env["SLACK_BOT_TOKEN"] = "xoxb-revoked-0000"
    rc, out = await run_cli(str(config_file), "--timeout", "3", env=env)
    assert rc == 1
    assert "FAIL  node test-1 (testnet)" in out
    assert "FAIL  node test-2 (testnet)" in out
    assert "FAIL  slack: slack auth.test: invalid_auth" in out
    assert "3 problems, 0 warnings" in out
    assert "xoxb-revoked-0000" not in out


def set_release_evidence(path: Path, release: dict[str, object], **top: Any) -> None:
    document = yaml.safe_load(path.read_text())
    document["environments"]["testnet"].setdefault("evidence", {})["release"] = release
    document.update(top)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


async def test_person_release_evidence_with_nobody_to_confirm_fails(
    config_file: Path, env: dict[str, str]
) -> None:
    """A person source whose confirmers nobody is in: its gates could never be confirmed."""
    set_release_evidence(config_file, {"source": "person"}, groups={**GROUPS, "operators": []})
    report = await check(config_file, env, offline=True)
    assert ("config", "no_confirmers") in failures(report)
    assert (
        "environments.testnet.evidence.release: source person, but nobody is in its "
        "confirmers (operators)"
    ) in text_of(report)
    set_release_evidence(config_file, {"source": "person", "confirmers": ["security"]})
    report = await check(config_file, env, offline=True)
    assert "no_confirmers" not in {code for _, code in failures(report)}
