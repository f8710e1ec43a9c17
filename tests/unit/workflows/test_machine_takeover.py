"""Taking a run's environment locks over (pure machine): the run pauses, and stays paused until
a person resumes it, even when a freeze that had paused it is lifted (it would otherwise go on
writing without its locks)."""

from __future__ import annotations

import pytest

from tests.unit.workflows.runs import apply, go, make_run, started, step
from workflows.errors import InvalidCommand
from workflows.machine import next_action
from workflows.model import Abort, HoldRun, ReleaseHold, Resume, RunStatus, TakeOver

BOT = "parthenon-bot"


def test_a_take_over_pauses_a_running_run_and_says_so() -> None:
    run = started(make_run(step("deploy", "rpc", effect="write"), step("after")))
    run, effects = apply(run, TakeOver(actor="U1", reason="a rollback needs testnet"))
    assert run.status is RunStatus.PAUSED
    assert run.paused_from is RunStatus.RUNNING
    assert next_action(run, run.updated_at) is None  # no worker begins the write step
    assert [e.kind for e in effects] == ["run_paused"]
    assert "took this run's environment locks over: a rollback needs testnet" in effects[0].text
    run, _ = apply(run, Resume(actor="U1"))
    assert run.status is RunStatus.RUNNING


def test_a_run_paused_by_a_freeze_and_taken_over_stays_paused_when_the_freeze_lifts() -> None:
    run = started(make_run(step("deploy", "rpc", effect="write"), step("after")))
    run = go(run, HoldRun(actor=BOT, freeze_id="f1", reason="frozen"))
    assert run.status is RunStatus.PAUSED
    assert run.hold is not None
    assert run.hold.paused
    run, _ = apply(run, TakeOver(actor="U1", reason="rollback"))
    run, effects = apply(run, ReleaseHold(actor=BOT, freeze_id="f1"))
    assert run.status is RunStatus.PAUSED
    assert "stays paused" in effects[0].text


def test_a_finished_run_cannot_be_taken_over() -> None:
    run = go(started(make_run(step("deploy", "rpc", effect="write"))), Abort(actor="U1",
                                                                             reason="x"))
    with pytest.raises(InvalidCommand):
        apply(run, TakeOver(actor="U1", reason="late"))
