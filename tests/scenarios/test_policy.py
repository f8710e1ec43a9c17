"""The policy core through signed Slack requests to the served bot: a skip needs the authority
that could complete the step (never the asker's word), a watch window below the environment's
minimum or of zero is refused on its field (slash command and form), a start on a locked
environment is refused naming the holder, a click from another channel is refused. Every
refusal is in the audit log; nothing that got a 200 is lost."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator

import pytest

from bot.runtime import DEFINITIONS_DIR
from tests.scenarios.harness import (
    CONFIG,
    OPERATOR,
    OPS,
    Harness,
    button_step,
    running_bot,
    scenario_config,
    status_is,
    waiting_at,
)
from tests.scenarios.test_offers_and_drills import (
    HALTING,
    MAINNET,
    ROLLBACK,
    halted,
    offer_form,
    runs_of,
)
from tests.unit.slack.definitions import definition, definitions
from workflows.definition import load_definitions
from workflows.model import RunStatus, StepStatus

SECURITY = "USEC001"
OTHER_OPERATOR = "URM0001"  # in operators (and release-managers), not in security

# Shaped like the shipped key-compromise incident's "Rotate credentials": only security confirms.
ROTATE = """
name: drill-rotate
title: Rotate the keys
category: drill
parameters:
  - {name: environment, choices: [testnet]}
steps:
  - {id: rotate, title: Rotate credentials, kind: manual, responders: [security]}
  - {id: review, title: Review, kind: manual, responders: [operators]}
"""

# A workflow that writes to the environment's nodes (its deploy system does: a webhook).
DEPLOY = """
name: drill-deploy
title: Deploy a build
category: drill
parameters:
  - {name: environment, choices: [testnet]}
steps:
  - {id: deploy, title: Deploy the build, kind: webhook, targets: {select: all},
     with: {action: deploy}}
"""


@pytest.fixture
async def h(redis_url: str) -> AsyncIterator[Harness]:
    defs = {**load_definitions(DEFINITIONS_DIR), "drill-rotate": definition(ROTATE),
            "drill-deploy": definition(DEPLOY)}
    async with running_bot(redis_url, defs, config=scenario_config(CONFIG)) as bot:
        yield bot


def text_of(reply: object) -> str:
    return json.dumps(getattr(reply, "json", None))


async def refusals(h: Harness, run_id: str) -> list[tuple[str, str | None]]:
    return [(e.type, e.actor) for e in await h.runtime.store.read_audit(run_id)
            if e.type.startswith("refused_")]


async def test_skipping_a_security_step_needs_security_never_the_asker(h: Harness) -> None:
    """An operator refused on "Rotate credentials" (only security confirms) presses Skip and
    gives a reason: nothing is skipped yet. Neither the asker nor another operator can approve
    the skip; security can, and the card says who asked, why and who approved."""
    run_id = await h.started_run(await h.command(OPERATOR, "drill rotate testnet"))
    await h.wait_run(run_id, waiting_at("rotate"))
    card = await h.card(run_id, lambda m: button_step(m, "run.confirm") == "rotate")
    assert (await h.click(OPERATOR, card, "run.confirm")).status == 200
    assert ("refused_confirm", OPERATOR) in await refusals(h, run_id)

    assert (await h.click(OPERATOR, card, "run.skip")).status == 200
    [form] = await h.standin.wait_for(lambda: h.standin.opened("modal.skip") or None)
    assert (await h.submit(OPERATOR, form, {"modal.reason": "no time"})).status == 200
    run = await h.wait_run(run_id, waiting_at("rotate"))
    request = run.steps[0].approval
    assert request is not None
    assert (request.purpose, request.requested_by, request.policy.groups) == (
        "skip", OPERATOR, ["security"])
    assert run.steps[0].status is StepStatus.WAITING  # not skipped on the asker's word

    card = await h.card(run_id, lambda m: button_step(m, "run.approve") == "rotate")
    for refused in (OPERATOR, OTHER_OPERATOR):
        assert (await h.click(refused, card, "run.approve")).status == 200
        assert ("refused_approve", refused) in await refusals(h, run_id)
    assert (await h.run(run_id)).steps[0].status is StepStatus.WAITING

    assert (await h.click(SECURITY, card, "run.approve")).status == 200
    run = await h.wait_run(run_id, waiting_at("review"))
    assert run.steps[0].status is StepStatus.SKIPPED
    note = f"skipped at <@{OPERATOR}>'s request (no time); approved by <@{SECURITY}>"
    assert run.steps[0].note == note
    await h.card(run_id, lambda m: "no time" in json.dumps(m.blocks)
                 and SECURITY in json.dumps(m.blocks))


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("canary_window=0s", "canary_window may not be zero"),
        ("canary_window=30m", "canary_window 30m is shorter than testnet's minimum of 1h "
                              "(policy.min_canary_window)"),
        ("wave_window=5m", "wave_window 5m is shorter than testnet's minimum of 10m "
                           "(policy.min_wave_window)"),
    ],
)
async def test_a_window_below_the_minimum_is_refused_on_the_slash_command(
    h: Harness, window: str, expected: str
) -> None:
    reply = await h.command(OPERATOR, f"promote v1.4.2 abc1234 testnet {window}")
    assert reply.status == 200
    assert expected in text_of(reply)
    assert await h.runtime.service.active_runs() == []
    refused = await h.runtime.store.refused_starts()
    assert [r["actor"] for r in refused] == [OPERATOR]
    assert expected in refused[0]["detail"]


async def test_a_start_on_a_locked_environment_names_the_holder(h: Harness) -> None:
    """Two runs that write to testnet: the second is refused, the holder named, audited on the
    holder; once the first ends the lock is free."""
    first = await h.started_run(await h.command(OPERATOR, "drill deploy testnet"))
    await h.wait_run(first, waiting_at("deploy"))
    reply = await h.command(OTHER_OPERATOR, "drill deploy testnet")
    assert reply.status == 200
    assert f"testnet is locked by run {first} (Deploy a build: testnet, started by " in text_of(
        reply)
    assert "Nothing was started" in text_of(reply)
    assert ("refused_start", OTHER_OPERATOR) in await refusals(h, first)
    assert [r.id for r in await h.runtime.service.active_runs()] == [first]

    assert (await h.command(OPERATOR, f"abort {first} wrong build")).status == 200
    await h.wait_run(first, status_is(RunStatus.ABORTED))
    second = await h.started_run(await h.command(OTHER_OPERATOR, "drill deploy testnet"))
    assert second != first


async def test_a_click_from_another_channel_is_refused(h: Harness) -> None:
    """The card's Pause pressed from a copy of it in another channel changes nothing."""
    run_id = await h.started_run(await h.command(OPERATOR, "drill rotate testnet"))
    card = await h.card(run_id, lambda m: button_step(m, "run.confirm") == "rotate")
    assert card.channel == OPS
    elsewhere = dataclasses.replace(card, channel="C0ELSEWHERE")
    assert (await h.click(OPERATOR, elsewhere, "run.pause")).status == 200
    assert ("refused_click", OPERATOR) in await refusals(h, run_id)
    assert (await h.run(run_id)).status is RunStatus.WAITING
    assert (await h.click(OPERATOR, card, "run.pause")).status == 200
    await h.wait_run(run_id, status_is(RunStatus.PAUSED))


# The offered start form: a mainnet promotion halted at its testnet canary offers a rollback
# whose wave_window is a production wave window (tests/scenarios/test_offers_and_drills.py).
WAVE_ROLLBACK = ROLLBACK.replace("pattern: '\\d+[smh]'}", "pattern: '\\d+[smh]', window: wave}")


@pytest.fixture
async def offers(redis_url: str) -> AsyncIterator[Harness]:
    assert "window: wave" in WAVE_ROLLBACK
    defs = {**definitions(), "promote": definition(HALTING),
            "rollback": definition(WAVE_ROLLBACK)}
    config = scenario_config(CONFIG.replace("groups:", MAINNET, 1))
    async with running_bot(redis_url, defs, config=config) as bot:
        yield bot


async def test_a_window_below_the_minimum_is_refused_on_the_form_field(offers: Harness) -> None:
    """The offered rollback's form with a 1m wave window: refused on that field, naming the
    minimum, audited on the halted run; nothing starts. At the minimum it starts."""
    h = offers
    canary_id, card = await halted(h)
    view = await offer_form(h, card)
    reply = await h.submit(OPERATOR, view, {"modal.param:version": "v1.4.3",
                                            "modal.param:wave_window": "1m"})
    assert reply.json["response_action"] == "errors"
    assert reply.json["errors"] == {"modal.param:wave_window": (
        "wave_window 1m is shorter than testnet's minimum of 10m (policy.min_wave_window)")}
    assert await runs_of(h, "rollback", within=0.3) == []
    assert ("refused_start", OPERATOR) in await refusals(h, canary_id)
    reply = await h.submit(OPERATOR, view, {"modal.param:version": "v1.4.3",
                                            "modal.param:wave_window": "10m"})
    assert reply.status == 200
    [rollback] = await runs_of(h, "rollback")
    assert rollback.parent_run_id == canary_id


async def test_take_over_from_slack_pauses_the_holder_and_frees_the_lock(h: Harness) -> None:
    """`/parthenon takeover` by someone outside the takeover approvers is refused (audited);
    by an operator it pauses the holder and frees testnet for another run."""
    first = await h.started_run(await h.command(OPERATOR, "drill deploy testnet"))
    await h.wait_run(first, waiting_at("deploy"))
    reply = await h.command(SECURITY, f"takeover {first} canary looks bad")
    assert "policy.takeover_approvers" in text_of(reply)
    assert ("refused_takeover", SECURITY) in await refusals(h, first)
    reply = await h.command(OTHER_OPERATOR, f"takeover {first} canary looks bad")
    assert "Took" in text_of(reply)
    await h.wait_run(first, status_is(RunStatus.PAUSED))
    second = await h.started_run(await h.command(OTHER_OPERATOR, "drill deploy testnet"))
    assert second != first
    reply = await h.command(OPERATOR, f"resume {first}")
    assert f"now locked by run {second}" in text_of(reply)
    assert (await h.run(first)).status is RunStatus.PAUSED
