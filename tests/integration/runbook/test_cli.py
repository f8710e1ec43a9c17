"""`parthenon-bot runs` and `parthenon-bot workflows` as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.workflowscli import run_workflows
from tests.integration.runbook.conftest import Bot
from tests.unit.steps.build import SAMPLE
from workflows.model import RunStatus

ROOT = Path(__file__).resolve().parents[3]


async def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", ""), **(env or {})},
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_runs_lists_and_exports_an_incident(bot: Bot, redis_url: str) -> None:
    """The listing shows the run and the drill schedule; export prints the incident log."""
    run = await bot.start("incident-supply-chain", environment="mainnet", severity="sev3")
    await bot.at(run.id, "rebuild")
    code, out, _ = await cli("runs", "--redis-url", redis_url)
    assert code == 0
    assert run.id in out
    assert "incident-supply-chain" in out
    assert "drills (next due, UTC):" in out
    assert "restore" in out
    code, out, _ = await cli("runs", "export", run.id, "--redis-url", redis_url)
    assert code == 0
    assert out.startswith("# Incident log: Incident: dependency or supply-chain concern")
    assert "| Severity | sev3 |" in out
    assert "**parthenon-bot** Freeze release promotion: done" in out
    assert (await bot.store.get(run.id)).status is RunStatus.WAITING  # listing changed nothing


async def test_runs_export_of_an_unknown_run_fails_plainly(redis_url: str) -> None:
    """An unknown run id is one line on stderr and exit code 1."""
    code, _, err = await cli("runs", "export", "r-nope", "--redis-url", redis_url)
    assert code == 1
    assert "no run 'r-nope'" in err


async def test_runs_needs_a_redis_url() -> None:
    """Without --redis-url or REDIS_URL the command says what to give."""
    code, _, err = await cli("runs")
    assert code == 2
    assert "REDIS_URL" in err


def test_workflows_lists_every_definition(capsys: pytest.CaptureFixture[str]) -> None:
    """Each workflow with its usage and numbered steps."""
    assert run_workflows([]) == 0
    out = capsys.readouterr().out
    for name in ("promote", "startup-check", "maintenance", "backup", "restore-drill",
                 "incident-release", "rollback", "drill-dr-failover"):
        assert f"\n{name}: " in f"\n{out}"
    assert "usage:   promote <version> <git_sha> <mainnet|testnet>" in out


def test_workflows_one_in_detail(capsys: pytest.CaptureFixture[str]) -> None:
    """One workflow shows who does what in each step."""
    assert run_workflows(["maintenance"]) == 0
    out = capsys.readouterr().out
    assert "Bot: sends stop to each role in that order" in out
    assert run_workflows(["nope"]) == 2


def test_workflows_checks_a_config(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """With a config it shows the waves and says whether the definitions fit it."""
    monkeypatch.setenv("PCB_PW", "pw")
    monkeypatch.setenv("PCB_HOOK", "hook")
    good = tmp_path / "good.yaml"
    good.write_text(SAMPLE)
    assert run_workflows(["--config", str(good)]) == 0
    out = capsys.readouterr().out
    assert "mainnet: 10%: main-miner-1 | 50%: main-val-1, main-val-2" in out
    assert "all 12 definitions fit" in out
    lacking = tmp_path / "lacking.yaml"
    lacking.write_text(SAMPLE.replace("  security: [USEC1]\n", ""))
    assert run_workflows(["--config", str(lacking)]) == 1
    assert "promote.security-signoff: group security" in capsys.readouterr().out
