"""`parthenon-bot devnet` as a process: prints URLs, obeys the control API, stops on SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from bot.devnet.cli import run_devnet

ROOT = Path(__file__).resolve().parents[3]


async def _read_until_ready(stream: asyncio.StreamReader) -> list[str]:
    lines: list[str] = []
    while True:
        line = (await asyncio.wait_for(stream.readline(), 30)).decode().strip()
        if not line:
            raise AssertionError(f"devnet exited before ready: {lines}")
        lines.append(line)
        if line == "ready":
            return lines


def _port_closed(url: str) -> bool:
    host, _, port = url.removeprefix("http://").split("/")[0].rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, int(port))) != 0


async def test_cli_runs_until_sigint(tmp_path: Path) -> None:
    """The command prints node, deploy and control URLs, serves them, closes them on SIGINT."""
    config = tmp_path / "bot.yaml"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.devnet.cli",
        "--network",
        "testnet",
        "--nodes",
        "3",
        "--block-interval",
        "0",
        "--write-config",
        str(config),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    try:
        lines = await _read_until_ready(process.stdout)
        nodes = {w[1]: w[2] for w in (line.split() for line in lines) if w[0] == "node"}
        deploy = next(line.split()[1] for line in lines if line.startswith("deploy "))
        control = next(line.split()[1] for line in lines if line.startswith("control "))
        assert list(nodes) == ["test-1", "test-2", "test-3"]
        assert (
            yaml.safe_load(config.read_text())["environments"]["testnet"]["nodes"][0]["rpc_url"]
            == nodes["test-1"]
        )
        async with aiohttp.ClientSession() as session:
            for url in nodes.values():
                async with session.get(url + "/health") as response:
                    assert (await response.json())["status"] == "ok"
            async with session.post(
                control + "/faults/test-2", json={"peers": 0, "stalled_tip": True}
            ) as response:
                assert response.status == 200
            async with session.get(nodes["test-2"] + "/health") as response:
                health = await response.json()
                # peers gone: syncing; peer_count still counts every connection accepted
                assert (health["syncing"], health["peer_count"]) == (True, 2)
            async with session.post(control + "/faults/test-2", json={"bogus": 1}) as response:
                assert response.status == 400
            async with session.post(control + "/faults/test-9", json={}) as response:
                assert response.status == 404
            async with session.post(control + "/nodes/test-3/stop") as response:
                assert (await response.json())["running"] is False
            async with session.get(control + "/nodes") as response:
                listing = await response.json()
            assert [n["running"] for n in listing["nodes"]] == [True, True, False]
            assert listing["nodes"][1]["faults"]["stalled_tip"] is True
        process.send_signal(signal.SIGINT)
        rest = (await asyncio.wait_for(process.stdout.read(), 30)).decode()
        assert await asyncio.wait_for(process.wait(), 30) == 0
        assert "stopped" in rest
        for url in [*nodes.values(), deploy, control]:
            assert _port_closed(url)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_cli_reports_a_busy_port() -> None:
    """A port that is already taken makes the command fail with status 1, not a traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert run_devnet(["--nodes", "1", "--port-base", str(port)]) == 1


def test_cli_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    """Bad arguments end with argparse's status 2 and a usage message."""
    assert run_devnet(["--network", "devnet"]) == 2
    assert "usage: parthenon-bot devnet" in capsys.readouterr().err
