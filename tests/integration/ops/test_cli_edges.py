"""The command line's small edges, run as an operator runs them (a subprocess): `--version`, a
listing piped into `head` (the reader goes away), and `workflows --config` on the example config
in a shell where none of its secrets is set."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "deploy" / "config.example.yaml"


def bare_env() -> dict[str, str]:
    """PATH only: no secret of the example config is set."""
    return {"PATH": os.environ.get("PATH", "")}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, env=bare_env(), cwd=ROOT, timeout=60, check=False)


def test_version_prints_the_installed_version() -> None:
    for flag in ("--version", "-V"):
        done = cli(flag)
        assert done.returncode == 0
        assert done.stdout.strip() == f"parthenon-bot {version('parthenon-bot')}"


def test_the_usage_names_version() -> None:
    assert "--version" in cli("--help").stdout


def test_a_listing_whose_reader_went_away_ends_quietly() -> None:
    """`parthenon-bot workflows | head`: the reader closes the pipe before the listing is
    written (here: before the process even starts writing). Exit 0, nothing on stderr, no
    traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        done = subprocess.run([sys.executable, "-m", "bot.cli", "workflows"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, env=bare_env(), cwd=ROOT,
                              timeout=60, check=False)
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 0


def test_workflows_with_the_example_config_needs_none_of_its_secrets() -> None:
    """The example config names its secrets by environment variable; none is set here, and the
    listing still checks the definitions against it."""
    assert "PARTHENON_DEPLOY_SECRET" in EXAMPLE.read_text()
    done = cli("workflows", "--config", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    assert "promote: Promote a release" in done.stdout
    assert "waves per environment:" in done.stdout
    assert "definitions fit" in done.stdout
    assert "not set" not in done.stderr


def test_a_config_that_names_no_secret_is_still_refused_by_workflows(tmp_path: Path) -> None:
    """Structure is still checked: an RPC credential that names neither an env var nor a file
    is refused, with the field."""
    text = EXAMPLE.read_text().replace(
        "password_env: PARTHENON_RPC_PASSWORD_TESTNET", "note: none", 1)
    bad = tmp_path / "config.yaml"
    bad.write_text(text)
    done = cli("workflows", "--config", str(bad))
    assert done.returncode == 1
    assert "password_env or password_file" in done.stderr
