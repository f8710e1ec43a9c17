"""SIGTERM to a real engine process in the middle of a step: it finishes or releases the step
within its deadline, exits, and another replica takes the run to the end."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.integration.ops.engine_main import slow_definition
from tests.integration.workflows.conftest import status_is, wait_for
from workflows.model import Retry, RunStatus
from workflows.service import WorkflowService
from workflows.store import RunStore
from workflows.testing import StaticAuthority, StaticInventory

ROOT = Path(__file__).resolve().parents[3]
LEASE = 60.0  # far longer than any wait below: a takeover must come from a release, not expiry


def slow_service(store: RunStore) -> WorkflowService:
    return WorkflowService(
        store, {"slow": slow_definition()},
        StaticInventory({"lab": [("lab-1", "validator", False)]}),
        StaticAuthority(groups={"operators": {"U_OP"}}),
    )


@contextmanager
def replica(redis_url: str, log: Path, name: str, *, deadline: float,
            slow: bool) -> Iterator[subprocess.Popen[str]]:
    args = [sys.executable, "-m", "tests.integration.ops.engine_main", "--redis", redis_url,
            "--log", str(log), "--worker", name, "--deadline", str(deadline),
            "--lease", str(LEASE)]
    if slow:
        args.append("--slow")
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def entries(log: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []


async def started(log: Path, run_id: str, step: str, timeout: float = 20.0) -> int:
    """Wait until ``step`` of the run has started somewhere; returns that process's pid."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for entry in entries(log):
            if (entry["run"], entry["step"], entry["what"]) == (run_id, step, "start"):
                return int(str(entry["pid"]))
        assert loop.time() < deadline, f"{step} never started"
        await asyncio.sleep(0.02)


async def exited(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str, str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while proc.poll() is None:
        assert loop.time() < deadline, "the process did not exit after SIGTERM"
        await asyncio.sleep(0.05)
    out, err = proc.communicate()
    return proc.returncode, out, err


def ran(log: Path, run_id: str, what: str = "start") -> list[tuple[str, int]]:
    return [(str(e["step"]), int(str(e["pid"]))) for e in entries(log)
            if e["run"] == run_id and e["what"] == what]


async def test_step_in_hand_finishes_within_the_deadline_and_another_replica_continues(
    redis_url: str, store: RunStore, tmp_path: Path
) -> None:
    """Two replicas; SIGTERM to the one in a 1.5 s write step, with a 20 s deadline: it
    completes and commits the step, takes no further step and exits; the other replica runs
    the rest; every step ran exactly once and nothing is in doubt."""
    log = tmp_path / "steps.log"
    with replica(redis_url, log, "a", deadline=20, slow=True) as a, \
            replica(redis_url, log, "b", deadline=20, slow=True) as b:
        run = await slow_service(store).start("slow", {"write_delay": "1.5"}, actor="U_OP")
        pid = await started(log, run.id, "write")
        stopping, other = (a, b) if pid == a.pid else (b, a)
        stopping.send_signal(signal.SIGTERM)
        rc, out, err = await exited(stopping, timeout=30)
        final = await wait_for(store, run.id, status_is(RunStatus.SUCCEEDED), timeout=30)
    assert rc == 0
    assert "stopped 0" in out
    assert final.status is RunStatus.SUCCEEDED
    done = ran(log, run.id, "done")
    assert [s for s, _ in ran(log, run.id)] == ["read", "write", "after"]
    assert ("write", stopping.pid) in done
    assert [p for step, p in done if step == "after"] == [other.pid]
    assert "step_in_doubt" not in [e.type for e in await store.read_audit(run.id)]
    assert "engine stopped" in err


async def test_slow_read_step_is_released_at_the_deadline_and_run_again_elsewhere(
    redis_url: str, store: RunStore, tmp_path: Path
) -> None:
    """SIGTERM during a read step longer than the 1 s deadline: it is cancelled and its lease
    released at once, so the other replica (lease 60 s) runs it again and finishes the run."""
    log = tmp_path / "steps.log"
    run = await slow_service(store).start("slow", {"read_delay": "300"}, actor="U_OP")
    with replica(redis_url, log, "a", deadline=1, slow=True) as first:
        pid_a = await started(log, run.id, "read")
        with replica(redis_url, log, "b", deadline=1, slow=False):
            first.send_signal(signal.SIGTERM)
            rc, _, _ = await exited(first, timeout=30)
            final = await wait_for(store, run.id, status_is(RunStatus.SUCCEEDED), timeout=30)
    assert rc == 0
    reads = [pid for step, pid in ran(log, run.id) if step == "read"]
    assert reads[0] == pid_a
    assert len(reads) == 2
    assert [pid for step, pid in ran(log, run.id, "done") if step == "read"] == [reads[1]]
    assert final.status is RunStatus.SUCCEEDED


async def test_write_step_cut_short_is_never_repeated_and_the_run_stays_resumable(
    redis_url: str, store: RunStore, tmp_path: Path
) -> None:
    """SIGTERM during a write step longer than the deadline: the other replica does not run it
    again (it cannot verify it, so the run blocks with the step in doubt); an operator's retry
    then resumes the run there to the end."""
    log = tmp_path / "steps.log"
    service = slow_service(store)
    run = await service.start("slow", {"write_delay": "300"}, actor="U_OP")
    with replica(redis_url, log, "a", deadline=1, slow=True) as first:
        await started(log, run.id, "write")
        with replica(redis_url, log, "b", deadline=1, slow=False):
            first.send_signal(signal.SIGTERM)
            assert (await exited(first, timeout=30))[0] == 0
            blocked = await wait_for(store, run.id, status_is(RunStatus.BLOCKED), timeout=30)
            assert [s for s, _ in ran(log, run.id)].count("write") == 1
            assert blocked.reason is not None
            assert "in doubt" in blocked.reason
            await service.command(run.id, Retry(actor="U_OP", step_id="write"))
            final = await wait_for(store, run.id, status_is(RunStatus.SUCCEEDED), timeout=30)
    assert [s for s, _ in ran(log, run.id)] == ["read", "write", "write", "after"]
    assert final.status is RunStatus.SUCCEEDED


@pytest.fixture
def store(redis: aioredis.Redis) -> RunStore:
    return RunStore(redis)

