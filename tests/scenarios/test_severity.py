"""Severity acts, through signed Slack requests, on the shipped workflows and devnets: a sev1 key
compromise on mainnet opens a private channel with the responders and security invited, freezes
promotions to mainnet and pauses a running mainnet promotion before its next write step; the
freeze ends with the incident and the promotion resumes. A sev4 does neither. The incident has a
commander, shown on its card and handed over by command."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.config import SlackConfig
from bot.devnet import Devnet
from bot.runtime import DEFINITIONS_DIR
from bot.testing.slackworkspace import PostedMessage
from tests.integration.runbook.conftest import SHA, config_for
from tests.integration.runbook.conftest import devnets as devnets  # the fixture
from tests.scenarios.harness import OPS, Harness, running_bot, status_is, waiting_at
from workflows.definition import load_definitions
from workflows.export import render_incident_log
from workflows.model import Run, RunStatus, StepStatus

RESPONDERS = ("URESP01", "URESP02")
SECURITY = {"USEC", "USEC2"}


@pytest.fixture
async def h(redis_url: str, devnets: dict[str, Devnet]) -> AsyncIterator[Harness]:
    config, _ = config_for(devnets)
    config = config.model_copy(update={
        "groups": {**config.groups, "responders": frozenset(RESPONDERS)},
        "slack": SlackConfig(ops_channel=OPS, incident_responders=("responders",)),
    })
    async with running_bot(redis_url, load_definitions(DEFINITIONS_DIR), config=config) as bot:
        await bot.seed_restore_drill(days_ago=1,
                                     details={"rto_seconds": 120.0, "rpo_seconds": 3600.0})
        yield bot


def text_of(message: PostedMessage) -> str:
    return json.dumps(message.blocks)


async def started(h: Harness, user: str, text: str) -> Run:
    reply = await h.command(user, text)
    assert reply.status == 200, reply.text
    return await h.run(await h.started_run(reply))


async def promotion_at_signoff(h: Harness) -> tuple[Run, PostedMessage]:
    """A mainnet promotion started by a security engineer, waiting for the sign-off."""
    run = await started(h, "USEC", f"promote v1.4.2 {SHA[:7]} mainnet")
    run = await h.wait_run(run.id, waiting_at("security-signoff"), within=30)
    card = await h.card(run.id)
    request = await h.reply_with(card, "run.approve")
    asked = request.blocks[0]["text"]["text"]
    assert "<@USEC2>" in asked
    assert "<@USEC>" not in asked  # the initiator may not sign off: never asked to
    return run, request


async def test_sev1_key_compromise_freezes_mainnet_and_pauses_the_promotion(h: Harness) -> None:
    promotion, request = await promotion_at_signoff(h)
    incident = await started(h, "UOP2", "incident key-compromise mainnet sev1 key on a paste site")

    card = await h.card(incident.id)
    channel = h.standin.channels[card.channel]
    assert channel.is_private
    assert channel.members >= {*RESPONDERS, *SECURITY, "UOP2"}
    create = h.standin.calls_of("conversations.create")[-1]
    assert create.args["is_private"] in (True, "true")
    assert "*Commander*\\n<@UOP2>" in text_of(card)

    frozen = await h.standin.wait_for(lambda: [
        m for m in h.standin.channel_messages(OPS)
        if "Promotions are frozen on mainnet" in text_of(m)])
    assert promotion.id in text_of(frozen[-1])
    assert incident.id in text_of(frozen[-1])
    refused = await h.command("URM1", f"promote v1.4.3 {SHA[:7]} mainnet")
    assert "promotions to mainnet are frozen" in refused.text

    # The sign-off (a read step) is given; the promotion stops before the CI gate (a write).
    assert (await h.click("USEC2", request, "run.approve")).status == 200
    held = await h.wait_run(promotion.id, status_is(RunStatus.PAUSED), within=30)
    assert held.current is not None
    step, state = held.current
    assert step.id == "ci-gate"
    assert state.status is StepStatus.READY
    assert state.attempt == 0
    promo_card = await h.card(promotion.id)
    await h.standin.wait_for(lambda: [
        r for r in h.standin.replies(promo_card.channel, promo_card.ts)
        if "Paused before" in text_of(r) and "<@UOP>" in text_of(r)])

    # The commander hands over; an outsider may not.
    outsider = await h.command("URM1", f"commander {incident.id} <@URM1|ren>")
    assert "only the incident commander or an operator" in outsider.text
    stranger = await h.command("UOP2", f"commander {incident.id} U0NOBODY")
    assert "is in no configured group" in stranger.text
    handed = await h.command("UOP2", f"commander {incident.id} <@USEC|sam>")
    assert "is now the commander" in handed.text
    await h.card(incident.id, lambda m: "*Commander*\\n<@USEC>" in text_of(m))
    log = render_incident_log(await h.run(incident.id),
                              await h.runtime.service.audit(incident.id))
    assert "handed incident command to USEC" in log

    # The incident ends: its freeze goes with it and the promotion resumes.
    assert (await h.command("UOP2", f"abort {incident.id} false alarm")).status == 200
    await h.wait_run(promotion.id, lambda r: r.hold is None and r.status is not RunStatus.PAUSED,
                     within=15)
    lifted = await h.standin.wait_for(lambda: [
        m for m in h.standin.channel_messages(OPS) if "is lifted" in text_of(m)])
    assert promotion.id in text_of(lifted[-1])
    assert await h.runtime.store.freezes.all() == []
    kinds = [e.type for e in await h.runtime.service.audit(promotion.id)]
    assert "hold" in kinds
    assert "release_hold" in kinds


async def test_sev4_neither_freezes_nor_pauses(h: Harness) -> None:
    promotion, request = await promotion_at_signoff(h)
    incident = await started(h, "UOP2", "incident key-compromise mainnet sev4 stale token found")
    card = await h.card(incident.id)
    assert h.standin.channels[card.channel].is_private  # private by kind, whatever the severity
    assert await h.runtime.store.freezes.all() == []
    assert (await h.click("USEC2", request, "run.approve")).status == 200
    run = await h.wait_run(promotion.id, lambda r: r.steps[r.index_of("ci-gate") or 0].attempt > 0,
                           within=30)
    assert run.hold is None
    assert not [m for m in h.standin.channel_messages(OPS) if "frozen" in text_of(m)]


async def test_a_release_incident_channel_stays_public(h: Harness) -> None:
    incident = await started(h, "UOP", "incident release mainnet sev3 odd fork")
    card = await h.card(incident.id)
    assert not h.standin.channels[card.channel].is_private
    assert h.standin.channels[card.channel].members >= {*RESPONDERS, *SECURITY, "UOP"}
