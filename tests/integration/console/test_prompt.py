"""The interactive console driven through its stdin, as a person types: commands, users,
numbered presses with their "are you sure", forms asked field by field, refusals asked again."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

from tests.integration.console.conftest import ROOT, assert_nothing_left, demo_command, demo_env

SUM = "9f2c4e0b7a5d3c1e8f6a4b2d0c9e7f5a3b1d8c6e4f2a0b9d7c5e3f1a8b6d4c2e"


class Typing:
    """The demo process with a person at its keyboard (prompts end without a newline, so the
    output is read in chunks, not lines)."""

    def __init__(self, data_dir: Path) -> None:
        self.process = subprocess.Popen(
            demo_command("--data-dir", str(data_dir)), cwd=ROOT, env=demo_env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.output = ""
        self._seen = 0
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while chunk := os.read(fd, 65536):
            with self._lock:
                self.output += chunk.decode(errors="replace")

    def wait_for(self, text: str, within: float = 30.0) -> str:
        """Wait until ``text`` is shown after what was already waited for."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self._lock:
                at = self.output.find(text, self._seen)
                if at >= 0:
                    self._seen = at + len(text)
                    return self.output
            time.sleep(0.05)
        raise AssertionError(f"{text!r} was not shown; the output ends:\n{self.output[-3000:]}")

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((line + "\n").encode())
        self.process.stdin.flush()

    def close(self) -> int:
        """End of input (like Ctrl-D), then the exit code; safe to call twice."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._reader.join(timeout=5)
            for pipe in (self.process.stdout, self.process.stderr):
                if pipe is not None:
                    pipe.close()


def test_a_person_works_a_backup_through_the_prompt(tmp_path: Path) -> None:
    """Start a backup, press Confirm by its number, answer the form's fields; a checksum the
    bot refuses is asked again; the run moves on; quit stops everything."""
    data_dir = tmp_path / "data"
    you = Typing(data_dir)
    try:
        you.wait_for("ana> ", within=60)
        you.type("/parthenon backup testnet")
        you.wait_for("Confirmation needed: Encrypted copy stored in the first location")
        you.type("buttons")  # the card's and its thread's buttons, numbered from 1 again
        you.wait_for("card of r")
        you.wait_for("[1] Confirm…")
        you.type("press 1")
        you.wait_for("A form opens for @ana")
        you.wait_for("First location (region/bucket): ")
        you.type("eu-west-1/backups")
        you.wait_for("sha256 of the stored copy: ")
        you.type("not-a-checksum")
        you.wait_for("The form refused checksum")
        you.wait_for("sha256 of the stored copy: ")  # asked again, only that field
        you.type(SUM)
        you.wait_for("(form submitted)")
        you.wait_for("Confirmation needed: Encrypted copy stored in a second, separate location")
        you.type("/as cleo")
        you.wait_for("You are now cleo")
        you.type("/devnet test-2 peers 0")
        you.wait_for("test-2: peers on (0)")
        you.type("press Abort")
        you.wait_for("Abort run")
        you.wait_for("Why abort the run?: ")
        you.type(".cancel")
        you.wait_for("(form closed without submitting)")
        you.type("quit")
        code = you.close()
    finally:
        you.close()
    assert code == 0, you.output[-3000:]
    assert "Stopped:" in you.output
    assert_nothing_left(you.output, data_dir)


def test_confirm_dialogs_ask_before_pressing(tmp_path: Path) -> None:
    """A button with an "are you sure" asks; anything but yes leaves it unpressed."""
    data_dir = tmp_path / "data"
    you = Typing(data_dir)
    try:
        you.wait_for("ana> ", within=60)
        you.type("/parthenon promote v1.4.2 abc1234 testnet")
        you.wait_for("Approval needed: Security review sign-off")
        you.type("/as sam")
        you.wait_for("You are now sam")
        you.type("press Approve")
        you.wait_for("Approve this plan?")
        you.type("n")
        you.wait_for("Not pressed.")
        you.type("press Approve")
        you.wait_for("Approve this plan?")
        you.type("y")
        you.wait_for("approved by @sam")
        you.type("quit")
        code = you.close()
    finally:
        you.close()
    assert code == 0, you.output[-3000:]
