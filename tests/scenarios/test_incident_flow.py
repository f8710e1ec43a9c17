"""A key-compromise incident on the devnet driven to its end from Slack, then its incident log
exported into the incident channel's thread, by command and by the card's button."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import pytest

from bot.devnet import Devnet
from bot.runtime import DEFINITIONS_DIR
from bot.testing.slackworkspace import PostedMessage
from tests.integration.runbook.conftest import config_for
from tests.scenarios.harness import (
    OPS,
    Harness,
    action_ids,
    running_bot,
    status_is,
    waiting_at,
)
from workflows.definition import load_definitions
from workflows.model import RunStatus, StepStatus

SUMMARY = "validator key seen on a paste site"
REVIEW = {
    "modal.input:root_cause": "a validator key was kept on a shared build host <!channel> & "
                              "copied into a ```debug``` bundle. " + "Details follow. " * 120,
    "modal.input:remediation": "host rebuilt from the trusted image, keys rotated",
    "modal.input:follow_ups": "- keys only in the HSM\n- alert on key use from new hosts",
}


@pytest.fixture
async def testnet() -> AsyncIterator[Devnet]:
    """Four nodes here, where the scenarios' conftest gives three."""
    net = Devnet("testnet", nodes=4, block_interval=0.1, canaries=1)
    await net.start()
    yield net
    await net.stop()


@pytest.fixture
async def h(redis_url: str, testnet: Devnet) -> AsyncIterator[Harness]:
    config, _ = config_for({"testnet": testnet})
    async with running_bot(redis_url, load_definitions(DEFINITIONS_DIR), config=config) as bot:
        yield bot


def log_parts(h: Harness, card: PostedMessage) -> list[PostedMessage]:
    return [r for r in h.standin.replies(card.channel, card.ts)
            if r.text.startswith("Incident log of")]


def markdown_of(parts: list[PostedMessage]) -> str:
    """The Markdown the parts carry, put back together as one text."""
    texts = []
    for part in parts:
        body = part.blocks[1]["text"]["text"]
        assert len(body) <= 3000
        assert body.startswith("```\n")
        assert body.endswith("\n```")
        texts.append(body[4:-4])
    joined = "\n".join(texts)
    return joined.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def test_key_compromise_walked_through_slack_and_exported(h: Harness) -> None:
    """Responders confirm each manual step with its inputs through the modals (a release manager
    is refused), the bot verifies the restored nodes, the run succeeds with a final card in the
    incident channel, and `/parthenon export` posts a log whose timeline is right."""
    reply = await h.command("UOP", f"incident key-compromise testnet sev2 {SUMMARY}")
    run_id = await h.started_run(reply)
    card = await h.card(run_id)
    channel = h.standin.channels[card.channel]
    assert channel.name.startswith("inc-")
    assert channel.name.endswith("-key-compromise-1")
    assert await h.standin.wait_for(lambda: card.ts in channel.pins)  # pinned after the post
    assert "UOP" in channel.members
    assert action_ids(card.blocks)[-1] == "run.export"

    refused = await h.confirm("URM1", run_id, "isolate", {"modal.input:host": "test-3.example"})
    assert refused is not None
    assert "only members of operators, security" in json.dumps(refused)
    assert await h.confirm("USEC", run_id, "isolate",
                           {"modal.input:host": "test-3.example"}) is None
    await h.wait_run(run_id, waiting_at("rotate"))
    await h.confirm("USEC2", run_id, "rotate",
                    {"modal.input:rotated": "RPC password, API tokens, TLS certificates"})
    run = await h.wait_run(run_id, waiting_at("review"), within=60)  # restore, network, health
    assert {s.id: s.status for s in run.steps}["health"] is StepStatus.SUCCEEDED
    await h.confirm("UOP2", run_id, "review", REVIEW)

    run = await h.wait_run(run_id, status_is(RunStatus.SUCCEEDED, RunStatus.FAILED,
                                             RunStatus.ABORTED, RunStatus.BLOCKED))
    assert run.status is RunStatus.SUCCEEDED, run.reason
    assert all(s.status is StepStatus.SUCCEEDED for s in run.steps)
    final = await h.card(run_id, lambda m: m.text.endswith(": succeeded"))
    assert final.channel == channel.id
    assert action_ids(final.blocks) == ["run.export"]
    assert str(final.blocks).count(":white_check_mark:") >= len(run.steps)

    outsider = await h.command("UOUT001", f"export {run_id}")
    assert "only members of a configured group" in outsider.json["text"]
    reply = await h.command("UOP", f"export {run_id}", channel=OPS)
    assert "Posting the incident log" in json.dumps(reply.json)
    await h.bot.deferred.drain()
    parts = log_parts(h, final)
    assert len(parts) >= 2  # the long root cause does not fit one message
    assert [p.text for p in parts] == [f"Incident log of {run_id} ({i}/{len(parts)})"
                                       for i in range(1, len(parts) + 1)]
    log = markdown_of(parts)
    assert "| Severity | sev2 |" in log
    assert f"| Summary | {SUMMARY} |" in log
    assert "| Affected host | test-3.example |" in log
    assert "<!channel> & copied into a `\u200b`\u200b`debug" in log  # shown, never a fence
    assert "host rebuilt from the trusted image, keys rotated" in log
    assert "- [ ] keys only in the HSM\n- [ ] alert on key use from new hosts" in log
    timeline = [line for line in log.splitlines() if re.match(r"- \d{4}-\d\d-\d\d ", line)]
    # people by name beside their id (users.info through the stand-in: name "uop" -> "Uop")
    order = [
        "**Uop (UOP)** started the run (environment=testnet, severity=sev2",
        "**Urm1 (URM1)** was refused (confirm Isolate the affected host): only members of",
        "**Usec (USEC)** confirmed Isolate the affected host (host: test-3.example)",
        "**Usec2 (USEC2)** confirmed Rotate credentials, tokens and certificates (rotated:",
        "**parthenon-bot** Restore services from a trusted build and verified backups: done",
        "**parthenon-bot** The restored nodes are on the environment's chain: done",
        "**parthenon-bot** The restored nodes are healthy: done",
        "**Uop2 (UOP2)** confirmed Post-incident review and control updates (root_cause:",
    ]
    at = [next(i for i, line in enumerate(timeline) if want in line) for want in order]
    assert at == sorted(at)
    times = [line[2:25] for line in timeline]
    assert times == sorted(times)
    assert all(t.endswith(" UTC") for t in times)

    before = len(parts)
    for _ in range(2):  # a double click on the card posts the log once more, not twice
        assert (await h.click("UOP2", final, "run.export")).status == 200
    await h.bot.deferred.drain()
    again = log_parts(h, final)[before:]
    assert len(again) == before
    assert markdown_of(again) == log

    body = h.command_body("UOP", f"export {run_id}")  # Slack delivers it again: posted once
    assert (await h.post(body)).status == 200
    assert (await h.post(body, headers={"X-Slack-Retry-Num": "1",
                                        "X-Slack-Retry-Reason": "http_timeout"})).status == 200
    await h.bot.deferred.drain()
    assert len(log_parts(h, final)) == 3 * before
