"""`serve --definitions DIR` and `definitions_dir:` in the config: check-config validates a
team's directory with the shipped definitions and names a broken file and step; serve refuses
to start on one, before it touches Redis or Slack."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import yaml

from bot.checkconfig import CheckOptions, check_config

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
OWN = ROOT / "examples" / "workflows"


def secrets() -> dict[str, str]:
    document = yaml.safe_load((DEPLOY / "k8s" / "secret.example.yaml").read_text())
    return dict(document["stringData"])


def broken_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "ours"
    folder.mkdir()
    text = (OWN / "drill-rpc-exposure.yaml").read_text()
    (folder / "drill-rpc-exposure.yaml").write_text(text.replace("kind: manual", "kind: nope"))
    return folder


def config_with(tmp_path: Path, definitions: str) -> Path:
    document = yaml.safe_load((DEPLOY / "config.example.yaml").read_text())
    document["definitions_dir"] = definitions
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_check_config_validates_the_configured_directory(tmp_path: Path) -> None:
    """A good directory loads beside the shipped workflows; a broken one fails on its file,
    naming the step, through the config's definitions_dir (relative to the config file)."""
    good = asyncio.run(check_config(
        CheckOptions(config_with(tmp_path, str(OWN)), offline=True), secrets()))
    assert good.problems == []
    assert any("drill-rpc-exposure" in f.message for f in good.findings)
    broken_copy(tmp_path)
    bad = asyncio.run(check_config(
        CheckOptions(config_with(tmp_path, "ours"), offline=True), secrets()))
    [problem] = bad.problems
    assert problem.subject == "definition drill-rpc-exposure.yaml"
    assert "firewall" in problem.message


def test_serve_refuses_to_start_on_a_broken_definition(tmp_path: Path) -> None:
    """`serve --definitions DIR` with a broken file exits 2 at once, naming file and step."""
    folder = broken_copy(tmp_path)
    env = {"PATH": os.environ.get("PATH", ""), **secrets(),
           "PARTHENON_BOT_CONFIG": str(DEPLOY / "config.example.yaml")}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--definitions", str(folder)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "drill-rpc-exposure.yaml" in done.stderr
    assert "firewall" in done.stderr
