"""Know the node before relying on it: `check-config` probes each node (getinfo once, /health,
/metrics), prints what it can tell, and fails every gate whose configured evidence source the
node cannot feed, naming the workflow step, the environment and the fix."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.checkconfig import CheckOptions, Report, check_config, run_check_config
from bot.devnet import Devnet
from bot.nodes.capabilities import VersionKind, metric_families, version_kind
from bot.nodes.metrics import parse_metrics
from bot.nodes.refusals import RedisRefusals, Refusal
from bot.testing.standin import SlackStandIn
from tests.integration.ops.test_serve import serving, until_ready
from workflows.connection import connect

PASSWORD = "devnet-password"
ENV = {"PARTHENON_RPC_PASSWORD_TESTNET": PASSWORD, "PARTHENON_DEPLOY_SECRET": "deploy-secret"}
GROUPS = {
    "operators": ["U0123ABCD", "U0789ABCD"],
    "release-managers": ["U0123ABCD", "U0123ABCE"],
    "security": ["U0456ABCD"],
}
DAEMON_FAMILIES = (
    "pantheon_best_block_height", "pantheon_peer_count", "pantheon_rpc_request_duration_seconds",
    "pantheon_rpc_requests_total", "pantheon_syncing",
)


def write(net: Devnet, path: Path, evidence: dict[str, Any] | None = None) -> Path:
    net.write_config(path)
    document = yaml.safe_load(path.read_text())
    document["groups"] = GROUPS
    if evidence is not None:
        document["environments"]["testnet"]["evidence"] = evidence
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


async def check(path: Path) -> Report:
    return await check_config(CheckOptions(path, timeout=3.0), ENV)


def gate_failures(report: Report) -> list[str]:
    return [f.line() for f in report.problems if f.code in ("evidence_unfed", "health_unfed")]


@pytest.fixture
async def daemon() -> AsyncIterator[Devnet]:
    """Nodes that speak as parthenond does: getinfo.version 100, five metric families."""
    async with Devnet("testnet", nodes=2, block_interval=0) as net:
        yield net


async def test_the_table_shows_what_the_daemon_can_tell(daemon: Devnet, tmp_path: Path) -> None:
    report = await check(write(daemon, tmp_path / "c.yaml"))
    assert gate_failures(report) == []  # the defaults (deploy, person) need nothing of the node
    header, *rows = report.table
    assert "getinfo.version" in header
    assert "/metrics families" in header
    assert [row.split()[0] for row in rows] == ["test-1", "test-2"]
    for row in rows:
        assert "constant 100" in row
        assert "best_height, peer_count, rpc_port, status, sync_progress, syncing" in row
        assert "5: " + ", ".join(DAEMON_FAMILIES) in row


async def test_release_from_rpc_fails_on_the_daemon_naming_step_environment_and_fix(
    daemon: Devnet, tmp_path: Path
) -> None:
    path = write(daemon, tmp_path / "c.yaml", {"release": {"source": "rpc"}})
    out = io.StringIO()
    status = await asyncio.to_thread(  # the command runs its own loop; the devnet serves here
        run_check_config, ["--config", str(path), "--timeout", "3"], env=ENV, out=out)
    text = out.getvalue()
    assert status == 1
    failed = [line for line in text.splitlines() if "[evidence_unfed]" in line]
    assert failed, text
    for line in failed:
        assert line.startswith("FAIL  workflow ")
        assert "environment testnet: evidence.release is rpc" in line
        assert "test-1 (constant 100), test-2 (constant 100)" in line
        assert "Fix: set environments.testnet.evidence.release.source to deploy" in line
    steps = {line.split(", step ")[1].split(" ")[0] for line in failed}
    assert {"canary-version", "wave.version"} <= steps, steps
    assert "node capabilities (getinfo once, GET /health, GET /metrics):" in text


async def test_a_validation_metric_the_node_does_not_export_fails(
    daemon: Devnet, tmp_path: Path
) -> None:
    evidence = {"validation_errors": {"source": "metric",
                                      "metric": "pantheon_validation_errors_total"}}
    report = await check(write(daemon, tmp_path / "c.yaml", evidence))
    failed = gate_failures(report)
    assert failed
    for line in failed:
        assert "evidence.validation_errors is metric pantheon_validation_errors_total" in line
        assert "/metrics of test-1, test-2 has no such family" in line
        assert "Fix: set environments.testnet.evidence.validation_errors.source to person" in line


async def test_a_daemon_that_reports_releases_feeds_the_rpc_source(tmp_path: Path) -> None:
    async with Devnet("testnet", nodes=2, block_interval=0, dialect="future") as net:
        evidence = {"release": {"source": "rpc"},
                    "validation_errors": {"source": "metric",
                                          "metric": "pantheon_validation_errors_total"}}
        report = await check(write(net, tmp_path / "c.yaml", evidence))
    assert gate_failures(report) == []
    assert all("release string" in row for row in report.table[1:])


def test_version_kinds() -> None:
    assert version_kind(100) is VersionKind.CONSTANT
    assert version_kind("100") is VersionKind.CONSTANT
    assert version_kind("v1.4.2") is VersionKind.RELEASE
    assert version_kind("1.4.2-rc1") is VersionKind.RELEASE
    assert version_kind(None) is VersionKind.UNKNOWN
    assert version_kind(True) is VersionKind.UNKNOWN
    assert version_kind("banana") is VersionKind.UNKNOWN


def test_families_of_the_daemons_page_with_labelled_type_lines() -> None:
    page = parse_metrics(
        '# TYPE pantheon_rpc_requests_total{method="x"} counter\n'
        'pantheon_rpc_requests_total{method="getinfo",status="ok"} 3\n'
        "# TYPE pantheon_rpc_request_duration_seconds histogram\n"
        'pantheon_rpc_request_duration_seconds_bucket{le="0.1"} 1\n'
        "pantheon_rpc_request_duration_seconds_sum 0.01\n"
        "pantheon_rpc_request_duration_seconds_count 1\n"
        "pantheon_best_block_height 12\n"
    )
    assert metric_families(page) == (
        "pantheon_best_block_height", "pantheon_rpc_request_duration_seconds",
        "pantheon_rpc_requests_total",
    )


async def test_serve_logs_each_nodes_capabilities_once_at_start(
    tmp_path: Path, redis_url: str
) -> None:
    """`serve` probes every node once at start: one structured log line per node (version
    kind, /health fields, /metrics families), a warning per gate that cannot be fed, nothing
    sent to a node the network guard refuses, and no secret in any of it."""
    token, signing = "xoxb-caps-5555-secret", "caps-signing-secret-77"
    slack = SlackStandIn(bot_token=token)
    await slack.start()
    try:
        async with Devnet("testnet", nodes=2, block_interval=0.1) as net:
            path = write(net, tmp_path / "c.yaml", {"release": {"source": "rpc"}})
            redis = connect(redis_url)  # another replica refused test-2 for a wrong genesis
            await RedisRefusals(redis).refuse(Refusal(
                "test-2", "testnet", "66" * 32, "fe" * 32, "reports another genesis", 1.0))
            await redis.aclose()
            env = {"PATH": os.environ.get("PATH", ""), "PARTHENON_BOT_CONFIG": str(path),
                   **ENV, "SLACK_BOT_TOKEN": token, "SLACK_SIGNING_SECRET": signing,
                   "SLACK_API_URL": slack.api_url, "REDIS_URL": redis_url}
            log = tmp_path / "serve.log"
            with serving(env, log) as (proc, base):
                await until_ready(proc, base)
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 30
                while True:
                    records = [json.loads(line) for line in log.read_text().splitlines()
                               if line.startswith("{")]
                    caps = [r for r in records if r.get("event") == "node_capabilities"]
                    unfed = [r for r in records if r.get("event") == "gate_unfed"]
                    if len(caps) == 2 and unfed:
                        break
                    assert loop.time() < deadline, records
                    await asyncio.sleep(0.1)
                proc.send_signal(signal.SIGTERM)
                await asyncio.to_thread(proc.wait, 30)
    finally:
        await slack.stop()
    assert sorted(r["node"] for r in caps) == ["test-1", "test-2"]
    [refused] = [r for r in caps if r["node"] == "test-2"]
    assert refused["probe_problems"] == [
        "refused by the network guard (wrong genesis): not probed"]
    assert net.node("test-2").request_log == []  # nothing at all was sent to it
    caps = [r for r in caps if r["node"] == "test-1"]
    for record in caps:
        assert record["environment"] == "testnet"
        assert record["version_kind"] == "constant"
        assert record["version"] == "100"
        assert sorted(record["metric_families"]) == list(DAEMON_FAMILIES)
        assert "peer_count" in record["health_fields"]
    assert all("evidence.release is rpc" in r["msg"] for r in unfed)
    text = log.read_text()
    for secret in (token, signing, PASSWORD, ENV["PARTHENON_DEPLOY_SECRET"]):
        assert secret not in text


async def test_a_node_on_the_wrong_chain_is_not_probed(daemon: Devnet, tmp_path: Path) -> None:
    """check-config refuses a node on another chain and sends it nothing more: no getinfo."""
    daemon.node("test-2").faults.wrong_network = True
    report = await check(write(daemon, tmp_path / "c.yaml"))
    assert ("node test-2 (testnet)", "network_mismatch") in [
        (f.subject, f.code) for f in report.problems]
    methods = [r.method for r in daemon.node("test-2").request_log if r.method]
    assert methods == ["getblock"]  # the genesis check only
    [row] = [row for row in report.table if row.startswith("test-2")]
    assert "unknown" in row
    assert "unreadable" in row
