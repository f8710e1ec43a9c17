"""`parthenon-bot serve` refuses to start on a secret set to nothing, naming the variable, in
HTTP and Socket Mode alike (compose's `${VAR:-}` used to start a bot that answered every Slack
request 500 while /readyz said ready)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BASE = {"PATH": os.environ.get("PATH", ""), "REDIS_URL": "redis://127.0.0.1:9/0",
        "SLACK_BOT_TOKEN": "xoxb-blank-test-token", "PARTHENON_BOT_CONFIG": "/nonexistent.yaml"}


@pytest.mark.parametrize(
    ("blank", "mode"),
    [
        ("SLACK_SIGNING_SECRET", {}),
        ("SLACK_APP_TOKEN", {"SLACK_SIGNING_SECRET": "signing-secret-1"}),
        ("SLACK_APP_TOKEN", {}),
        ("SLACK_BOT_TOKEN", {"SLACK_APP_TOKEN": "xapp-1-blank-test"}),
    ],
)
@pytest.mark.parametrize("value", ["", "   "])
def test_serve_exits_at_start_naming_the_blank_variable(
    blank: str, mode: dict[str, str], value: str
) -> None:
    """The process exits 2 at once with `VAR: is set but empty or only whitespace` on stderr,
    before reading the config or touching Redis or Slack, and prints no other secret."""
    env = {**BASE, **mode, blank: value}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert f"{blank}: is set but empty or only whitespace" in done.stderr
    for name, secret in env.items():
        if name.startswith("SLACK_") and secret.strip() and name != "SLACK_API_URL":
            assert secret not in done.stderr + done.stdout
