"""`/parthenon freeze` and `unfreeze` through signed Slack requests: both are said in the ops
channel and audited; a running promotion goes on through read steps and pauses before its next
write step (said in its thread), resume is refused while frozen, and unfreeze resumes what the
freeze paused and names what stays paused. Every request for action mentions the people who can
act: approvers but never the initiator, the operators for a step without responders, the
operators of a blocked run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from bot.testing.slackworkspace import PostedMessage
from tests.scenarios.harness import (
    OPERATOR,
    OPS,
    Harness,
    running_bot,
    status_is,
    waiting_at,
)
from tests.unit.slack.definitions import INCIDENT_RELEASE, definitions
from workflows.model import Run, RunStatus, StepStatus

PROMOTE = """
name: promote
title: Promote a release
category: release
parameters:
  - {name: version, pattern: 'v\\d+\\.\\d+\\.\\d+'}
  - {name: environment, choices: [testnet]}
steps:
  - {id: gate, title: No promotion freeze, kind: bot, with: {action: require_no_freeze}}
  - id: approve
    title: A release manager approves
    kind: approval
    approval: {groups: [release-managers], quorum: 1}
  - id: deploy
    title: Deploy the release
    kind: bot
    effect: write
    with: {action: record, values: {deployed: "{{ version }}"}}
  - {id: done, title: Announce, kind: manual}
"""

MAINTENANCE = """
name: maintenance
title: Maintenance
parameters:
  - {name: environment, choices: [testnet]}
  - {name: reason}
steps:
  - {id: gate, title: No promotion freeze, kind: bot, with: {action: require_no_freeze}}
  - {id: stop, title: Stop nodes, kind: manual}
"""

OPERATORS = "<@UOP0001> <@URM0001>"  # the scenario config's operators group


@pytest.fixture
async def h(redis_url: str) -> AsyncIterator[Harness]:
    async with running_bot(redis_url, definitions(PROMOTE, MAINTENANCE, INCIDENT_RELEASE)) as bot:
        yield bot


def text_of(message: PostedMessage) -> str:
    return json.dumps(message.blocks)


async def thread_says(h: Harness, card: PostedMessage, words: str) -> PostedMessage:
    found = await h.standin.wait_for(lambda: [
        r for r in h.standin.replies(card.channel, card.ts) if words in text_of(r)])
    return found[-1]


async def ops_says(h: Harness, words: str) -> PostedMessage:
    found = await h.standin.wait_for(lambda: [
        m for m in h.standin.channel_messages(OPS) if words in text_of(m)])
    return found[-1]


async def started(h: Harness, user: str, text: str) -> Run:
    reply = await h.command(user, text)
    assert reply.status == 200, reply.text
    return await h.run(await h.started_run(reply))


async def test_freeze_holds_a_promotion_before_its_write_step_and_unfreeze_resumes_it(
    h: Harness,
) -> None:
    run = await started(h, "URM0001", "promote v1.4.2 testnet")
    await h.wait_run(run.id, waiting_at("approve"))
    card = await h.card(run.id)
    request = await h.reply_with(card, "run.approve")
    asked = request.blocks[0]["text"]["text"]
    assert "<@URM0002> <@URM0003>" in asked
    assert "<@URM0001>" not in asked  # the initiator may not approve: never asked to

    reply = await h.command(OPERATOR, "freeze supply-chain concern <!channel>")
    assert reply.status == 200
    assert reply.json["response_type"] == "ephemeral"
    assert run.id in reply.text
    assert "Promotions to every environment are frozen" in reply.text
    posted = await ops_says(h, "Promotions are frozen on every environment")
    assert "<@UOP0001>" in text_of(posted)
    assert run.id in text_of(posted)
    assert "<!channel>" not in text_of(posted)  # the reason is shown, never a broadcast
    said = await thread_says(h, card, "pauses before its next write step")
    assert "supply-chain concern" in text_of(said)
    refused = await h.command("URM0001", "promote v1.4.3 testnet")
    assert "frozen" in refused.text
    assert len(await h.runtime.service.active_runs()) == 1

    # The approval is a read step: it is given; the run stops before the write step.
    assert (await h.click("URM0002", request, "run.approve")).status == 200
    held = await h.wait_run(run.id, status_is(RunStatus.PAUSED))
    assert held.current is not None
    step, state = held.current
    assert step.id == "deploy"
    assert state.status is StepStatus.READY
    assert state.attempt == 0  # never begun
    paused = await thread_says(h, card, "Paused before Deploy the release")
    assert OPERATORS in text_of(paused)
    resume = await h.command(OPERATOR, f"resume {run.id}")
    assert "stays paused before Deploy the release" in resume.text
    assert (await h.run(run.id)).status is RunStatus.PAUSED

    reply = await h.command(OPERATOR, "unfreeze")
    assert "The promotion freeze on every environment is lifted" in reply.text
    assert f"Resumed: `{run.id}`" in reply.text
    lifted = await ops_says(h, "is lifted")
    assert run.id in text_of(lifted)
    await thread_says(h, card, "The freeze is lifted; the run resumes")
    run = await h.wait_run(run.id, waiting_at("done"))
    assert run.values["deployed"] == "v1.4.2"
    confirm = await h.reply_with(card, "run.confirm")
    assert f"{OPERATORS}: confirm when it is done" in text_of(confirm)

    kinds = [e.type for e in await h.runtime.service.audit(run.id)]
    assert kinds.index("hold") < kinds.index("release_hold")
    log = await h.runtime.store.freezes.log()
    assert [(e["type"], e["actor"]) for e in log] == [("freeze_set", OPERATOR),
                                                      ("freeze_lifted", OPERATOR)]


async def test_a_run_paused_by_hand_stays_paused_and_a_blocked_run_mentions_its_operators(
    h: Harness,
) -> None:
    run = await started(h, "URM0001", "promote v1.4.2 testnet")
    await h.wait_run(run.id, waiting_at("approve"))
    assert (await h.command(OPERATOR, f"pause {run.id} vendor call")).status == 200
    await h.command(OPERATOR, "freeze environment=testnet canary looks odd")
    await ops_says(h, "Promotions are frozen on testnet")
    status = await h.command("URM0002", "status")
    assert "Promotions to testnet are frozen by <@UOP0001>: canary looks odd" in status.text

    blocked = await started(h, OPERATOR, "maintenance testnet disk swap")
    await h.wait_run(blocked.id, status_is(RunStatus.BLOCKED))
    card = await h.card(blocked.id)
    said = await thread_says(h, card, "promotions to testnet are frozen")
    assert OPERATORS in text_of(said)

    reply = await h.command(OPERATOR, "unfreeze testnet")
    assert f"Still paused (paused by hand; resume them yourself): `{run.id}`" in reply.text
    await ops_says(h, "Still paused")
    assert (await h.run(run.id)).status is RunStatus.PAUSED
    assert (await h.command(OPERATOR, "unfreeze")).text.count("There was no promotion freeze")


async def test_an_incidents_freeze_step_holds_running_promotions_and_says_so(h: Harness) -> None:
    """The release incident's `freeze` step (every environment, until lifted) acts like the
    command: the ops channel is told and a running promotion is held."""
    run = await started(h, "URM0001", "promote v1.4.2 testnet")
    await h.wait_run(run.id, waiting_at("approve"))
    incident = await started(h, OPERATOR, "incident release node 3 forked")
    await h.wait_run(incident.id, waiting_at("triage"))
    posted = await ops_says(h, "Promotions are frozen on every environment")
    assert run.id in text_of(posted)
    assert incident.id in text_of(posted)
    held = await h.run(run.id)
    assert held.hold is not None
    reply = await h.command(OPERATOR, "unfreeze")
    assert "is lifted" in reply.text
    assert (await h.run(run.id)).hold is None


async def test_freeze_refusals_change_nothing(h: Harness) -> None:
    outsider = await h.command("UOUT001", "freeze because")
    assert "not allowed to freeze" in outsider.text
    unknown = await h.command(OPERATOR, "freeze environment=moon because")
    assert "there is no environment 'moon'" in unknown.text
    assert await h.runtime.service.freezes() == []


async def test_a_freeze_set_on_one_replica_holds_the_run_on_every_replica(
    h: Harness, redis_url: str,
) -> None:
    """A second replica (its own HTTP server, engine and notifier, the same Redis and Slack)
    takes the freeze command; the first one's engine still never begins the write step."""
    defs = definitions(PROMOTE, MAINTENANCE, INCIDENT_RELEASE)
    async with running_bot(redis_url, defs, standin=h.standin) as other:
        run = await started(h, "URM0001", "promote v1.4.2 testnet")
        await h.wait_run(run.id, waiting_at("approve"))
        reply = await other.command(OPERATOR, "freeze environment=testnet hold it")
        assert run.id in reply.text
        request = await h.reply_with(await h.card(run.id), "run.approve")
        assert (await h.click("URM0002", request, "run.approve")).status == 200
        held = await h.wait_run(run.id, status_is(RunStatus.PAUSED))
        assert held.current is not None
        assert held.current[0].id == "deploy"
        await asyncio.sleep(0.5)  # both engines had time to (wrongly) begin it
        assert (await h.run(run.id)).steps[held.index_of("deploy") or 0].attempt == 0
        assert "Resumed" in (await other.command(OPERATOR, "unfreeze testnet")).text
        await h.wait_run(run.id, waiting_at("done"))
