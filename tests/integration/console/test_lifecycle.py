"""The demo as a process: restarts keep the runs, failed checks fail the run, Ctrl-C stops
everything it started."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from bot.console.demo import run_demo
from tests.integration.console.conftest import (
    ROOT,
    assert_nothing_left,
    demo_command,
    demo_env,
    run_demo_script,
    write_script,
)

SUM = "9f2c4e0b7a5d3c1e8f6a4b2d0c9e7f5a3b1d8c6e4f2a0b9d7c5e3f1a8b6d4c2e"


def test_a_restarted_demo_shows_and_continues_the_runs_it_had(tmp_path: Path) -> None:
    """A backup left waiting when the demo stops is listed after a restart on the same data
    dir, its card can be shown, and confirming it moves the run on."""
    data_dir = tmp_path / "data"
    first = run_demo_script(write_script(tmp_path, """
/parthenon backup testnet
wait 20s for "Confirmation needed: Encrypted copy stored in the first location"
""", "first.demo"), data_dir)
    assert first.returncode == 0, first.tail()

    second = run_demo_script(write_script(tmp_path, f"""
/parthenon runs
expect "Backup (chainstate, blocks, wallets)"
expect "waiting"
show
expect "Encrypted copy stored in the first location — waiting for a confirmation"
press Confirm
submit location=eu-west-1/backups checksum={SUM}
wait 20s for "Confirmation needed: Encrypted copy stored in a second, separate location"
""", "second.demo"), data_dir)
    assert second.returncode == 0, second.tail()
    assert "1 run from earlier sessions" in second.stdout
    assert_nothing_left(second.stdout, data_dir)


def test_a_failing_expectation_exits_non_zero_naming_the_line(tmp_path: Path) -> None:
    """An expectation that does not hold ends the script with its file and line, exit 1,
    and still stops everything."""
    data_dir = tmp_path / "data"
    script = write_script(tmp_path, """
/parthenon runs
expect "Active (0)"
expect "a text the bot never shows"
/parthenon help
""")
    result = run_demo_script(script, data_dir)
    assert result.returncode == 1, result.tail()
    assert f"{script}:4: expected \"a text the bot never shows\" in what was shown since " \
           "line 2 (/parthenon runs)" in result.stderr
    assert "ana> /parthenon help" not in result.stdout  # nothing after the failure ran
    assert_nothing_left(result.stdout, data_dir)


def test_a_wait_that_times_out_exits_non_zero(tmp_path: Path) -> None:
    """A wait whose text does not show up in time fails the script with how long it waited."""
    data_dir = tmp_path / "data"
    script = write_script(tmp_path, """
/parthenon backup testnet
wait 1s for "Approval needed"
""")
    result = run_demo_script(script, data_dir)
    assert result.returncode == 1, result.tail()
    assert f'{script}:3: waited 1s for "Approval needed"' in result.stderr
    assert "the card of" in result.stdout  # the run's card is shown for context
    assert_nothing_left(result.stdout, data_dir)


def test_a_form_left_open_fails_the_script(tmp_path: Path) -> None:
    """A refused form that the script neither fixes nor cancels is an error at the end."""
    data_dir = tmp_path / "data"
    script = write_script(tmp_path, """
/parthenon backup testnet
wait 20s for "Confirmation needed"
press Confirm
submit location=eu checksum=not-a-checksum
expect "The form refused checksum"
""")
    result = run_demo_script(script, data_dir)
    assert result.returncode == 1, result.tail()
    assert "the form “Confirm step” is still open for @ana" in result.stderr


def test_a_malformed_script_is_refused_before_anything_starts(tmp_path: Path, capsys) -> None:
    """A script with a line the runner cannot read exits 2 and starts nothing (no data dir)."""
    data_dir = tmp_path / "data"
    script = write_script(tmp_path, "/parthenon runs\nas nobody\n")
    assert run_demo(["--script", str(script), "--data-dir", str(data_dir)]) == 2
    assert "line 2: no demo user 'nobody'" in capsys.readouterr().err
    assert not data_dir.exists()


def _read_until(process: subprocess.Popen[str], marker: str, within: float) -> str:
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} never shown:\n{''.join(seen)}")


def test_ctrl_c_stops_everything_it_started(tmp_path: Path) -> None:
    """SIGINT at the prompt stops the bot, the devnets, the stand-in and Redis: exit 130,
    nothing listening, no redis-server left."""
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        demo_command("--data-dir", str(data_dir)), cwd=ROOT, env=demo_env(), text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        banner = _read_until(process, "You are ana", within=60)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, banner + rest
    assert "Stopped:" in rest
    assert_nothing_left(banner, data_dir)
