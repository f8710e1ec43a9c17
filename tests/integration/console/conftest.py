"""Running `parthenon-bot demo` as a real process, and checking what it leaves behind."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.demo"))
_PORTS = re.compile(r"^\s+ports\s+([\d ]+)$", re.MULTILINE)


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.stdout.splitlines()[-lines:]) + "\n--- stderr ---\n" + self.stderr


def demo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", "demo", *args]


def demo_env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}


_DEFINITIONS = re.compile(r"^# definitions: (\S+)$", re.MULTILINE)


def run_demo_script(script: Path, data_dir: Path, timeout: float = 100.0) -> Finished:
    """The demo on ``script``; a `# definitions: DIR` line in it adds `--definitions DIR`."""
    extra = _DEFINITIONS.search(script.read_text(encoding="utf-8"))
    more = ["--definitions", str(ROOT / extra.group(1))] if extra else []
    done = subprocess.run(
        demo_command("--script", str(script), "--data-dir", str(data_dir), *more),
        cwd=ROOT, env=demo_env(), capture_output=True, text=True, timeout=timeout, check=False,
    )
    return Finished(done.returncode, done.stdout, done.stderr)


def write_script(directory: Path, text: str, name: str = "check.demo") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def banner_ports(stdout: str) -> list[int]:
    found = _PORTS.search(stdout)
    assert found is not None, "the banner lists no ports"
    return [int(p) for p in found.group(1).split()]


def listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def processes_using(data_dir: Path) -> list[str]:
    """Command lines of live processes that name the data dir (the demo's redis-server)."""
    needle = str(data_dir.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if needle in cmdline:
            found.append(cmdline)
    return found


def assert_nothing_left(stdout: str, data_dir: Path) -> None:
    ports = banner_ports(stdout)
    assert len(ports) >= 20  # bot, stand-in, redis, 14 nodes, 3 deploy receivers
    assert [p for p in ports if listening(p)] == []
    assert processes_using(data_dir) == []
