"""Validation errors on the daemon's own dialect, through signed Slack requests: the daemon only
logs them, so where an environment's evidence is a person, the confirmers read the logs and say
what they saw in the Slack form; nobody else can, and nothing passes without their text."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.scenarios.harness import Harness
from tests.scenarios.test_release_evidence import confirm_button_for, one_workflow_on_testnet
from workflows.model import RunStatus

WATCH = """
name: startup-check
title: Watch the nodes
parameters:
  - {name: environment, choices: [testnet]}
steps:
  - id: health
    title: Health over the window
    runbook: "§2 step 4"
    description: "Bot: /health over the window."
    kind: health
    targets: {select: all}
    with: {window: 1s}
  - id: validation-errors
    title: No rise in validation errors over the window
    runbook: "§2 step 4"
    description: "Humans by default: the environment's evidence.validation_errors."
    kind: evidence
    targets: {select: all}
    with: {fact: validation_errors, window_of: health}
"""


@pytest.fixture
async def watch_bot(redis_url: str) -> AsyncIterator[Harness]:
    """testnet (peered nodes) whose validation-error evidence is the security group's word."""
    evidence = {"validation_errors": {"source": "person", "confirmers": ["security"]}}
    async with one_workflow_on_testnet(redis_url, evidence, "watch.yaml", WATCH) as h:
        yield h


async def submit_logs(h: Harness, user: str, run_id: str, seen: str) -> dict[str, Any] | None:
    """Press Confirm on the card and submit the modal with what the logs showed."""
    return await h.confirm(user, run_id, "validation-errors", {"modal.input:logs_seen": seen})


async def test_confirmers_say_what_the_logs_showed(watch_bot: Harness) -> None:
    """After the /health window, the step asks security for the logs of both nodes over the
    window: an operator's confirmation is refused, one without the text is refused on the field,
    a security member's with it passes, and the card says who saw what."""
    h = watch_bot
    run_id = await h.started_run(await h.command("UOP", "startup-check testnet"))
    run = await h.wait_run(
        run_id,
        lambda r: r.current is not None and r.current[0].id == "validation-errors"
        and r.status is RunStatus.WAITING,
        within=30,
    )
    assert run.current is not None
    note = run.current[1].note or ""
    assert note.startswith("Evidence: a person's confirmation. A member of security reads the "
                           "logs of test-1, test-2")
    card = await h.card(run_id, confirm_button_for("validation-errors"))
    assert "evidence: a person" in json.dumps(card.blocks)
    refused = await submit_logs(h, "UOP", run_id, "looked fine")
    assert "only members of security may confirm" in json.dumps(refused)
    empty = await submit_logs(h, "USEC", run_id, "")
    assert empty is not None
    assert empty["response_action"] == "errors"
    assert "modal.input:logs_seen" in json.dumps(empty["errors"])
    assert (await h.run(run_id)).status is RunStatus.WAITING
    seen = "no 'invalid block' or 'bad-txns' lines on either node"
    assert await submit_logs(h, "USEC", run_id, seen) is None
    run = await h.wait_run(run_id, lambda r: r.terminal)
    assert run.status is RunStatus.SUCCEEDED, run.reason
    final = await h.card(run_id, lambda m: m.text.endswith(": succeeded"))
    shown = json.dumps(final.blocks)
    assert "confirmed by <@USEC>" in shown
    assert "saw no 'invalid block'" in shown.replace("\\u2019", "'").replace("&#39;", "'")
