"""What the bot offers to start: a rollback after a halted release, a drill that is due."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.slack.payloads import ModalMetadata
from bot.testing.slackworkspace import OpenedView, PostedMessage
from tests.scenarios.harness import (
    CONFIG,
    OPERATOR,
    OPS,
    OUTSIDER,
    Harness,
    find_button,
    running_bot,
    scenario_config,
    status_is,
)
from tests.unit.slack.definitions import definition, definitions
from workflows.model import Run, RunStatus

# A promotion to mainnet whose testnet canary fails (its check does not exist) and offers a
# rollback, like the shipped promote's canary-monitor.
HALTING = """
name: promote
title: Halting promotion
category: release
parameters:
  - {name: version, pattern: 'v\\d+\\.\\d+\\.\\d+'}
  - {name: environment, choices: [mainnet, testnet]}
  - {name: wave_window, default: 10m, pattern: '\\d+[smh]'}
steps:
  - id: watch
    title: Watch the testnet canary
    kind: bot
    targets: {environment: testnet, select: canary}
    with: {action: no-such-check}
    on_failure: abort
    offer_on_failure: rollback
"""

# Shaped like the shipped rollback: the environment to roll back, the fixed build to deploy.
ROLLBACK = """
name: rollback
title: Roll back
category: recovery
offer_carries: [wave_window]
parameters:
  - {name: environment, choices: [mainnet, testnet]}
  - {name: version, pattern: 'v\\d+\\.\\d+\\.\\d+', help: the fixed build to deploy}
  - {name: wave_window, default: 10m, pattern: '\\d+[smh]'}
steps:
  - {id: ok, title: Operators agree, kind: manual}
"""

# Shaped like the shipped restore drill: it needs to be told where and from what.
RESTORE_DRILL = """
name: restore-drill
title: Restore drill
category: drill
parameters:
  - {name: environment, choices: [testnet]}
  - {name: source, help: the snapshot to restore}
steps:
  - {id: restore, title: Restore a snapshot, kind: manual}
"""

MAINNET = """  mainnet:
    network: mainnet
    rpc_credentials: {user: parthenon, password_env: SCENARIO_RPC_PASSWORD}
    nodes:
      - {name: main-1, rpc_url: "http://127.0.0.1:11", role: miner}
groups:"""


@pytest.fixture
async def harness(redis_url: str) -> AsyncIterator[Harness]:
    defs = {**definitions(), "promote": definition(HALTING), "rollback": definition(ROLLBACK)}
    config = scenario_config(CONFIG.replace("groups:", MAINNET, 1))
    async with running_bot(redis_url, defs, config=config) as h:
        yield h


async def runs_of(h: Harness, workflow: str, within: float = 10.0) -> list[Run]:
    """Every run of ``workflow`` (active or recent), once there is at least one."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        service = h.runtime.service
        found = [r for r in [*await service.active_runs(), *await service.recent_runs(50)]
                 if r.workflow == workflow]
        if found or asyncio.get_running_loop().time() > deadline:
            return list({r.id: r for r in found}.values())
        await asyncio.sleep(0.02)


async def halted(h: Harness) -> tuple[str, PostedMessage]:
    """A mainnet promotion of v1.5.0 halted at its testnet canary, and its card's offer."""
    canary_id = await h.started_run(await h.command(OPERATOR, "promote v1.5.0 mainnet 3m"))
    failed = await h.wait_run(canary_id, status_is(RunStatus.FAILED))
    assert failed.offer == "rollback"
    card = await h.card(canary_id, lambda m: "workflow.start" in str(m.blocks))
    return canary_id, card


async def offer_form(h: Harness, card: PostedMessage) -> OpenedView:
    assert (await h.click(OPERATOR, card, "workflow.start")).status == 200
    [view] = await h.standin.wait_for(lambda: h.standin.opened("modal.start"))
    return view


def initial(view: OpenedView, name: str) -> str | None:
    [block] = [b for b in view.view["blocks"] if b.get("block_id") == f"modal.param:{name}"]
    element = block["element"]
    if element["type"] == "static_select":
        return (element.get("initial_option") or {}).get("value")
    return element.get("initial_value")


async def test_the_offer_opens_a_form_for_the_failed_environment_without_the_broken_build(
    harness: Harness,
) -> None:
    """Pressing "Start rollback…" on a mainnet promotion halted at its testnet canary starts
    nothing: it opens "Start rollback" prefilled with testnet (where it failed) and the
    promotion's wave_window, with the fixed build's version left empty for the operator."""
    h = harness
    canary_id, card = await halted(h)
    assert find_button(card.blocks, "workflow.start")["text"]["text"] == "Start rollback…"
    view = await offer_form(h, card)
    assert view.view["title"]["text"] == "Start rollback"
    assert initial(view, "environment") == "testnet"
    assert initial(view, "version") is None
    assert initial(view, "wave_window") == "3m"
    assert "Watch the testnet canary" in str(view.view["blocks"][0])
    assert ModalMetadata.parse(view.view["private_metadata"]).b.r == canary_id
    assert await runs_of(h, "rollback", within=0.3) == []


async def test_submitting_the_form_starts_one_rollback_linked_to_the_halted_run(
    harness: Harness,
) -> None:
    """The submitted values start the rollback in the halted run's channel, linked to it; a
    double submit, at once or later, starts no second run."""
    h = harness
    canary_id, card = await halted(h)
    view = await offer_form(h, card)
    values = {"modal.param:version": "v1.4.3"}
    replies = [*await asyncio.gather(*(h.submit(OPERATOR, view, values) for _ in range(2))),
               await h.submit(OPERATOR, view, values)]
    assert [(r.status, r.text) for r in replies] == [(200, "")] * 3  # each closes the modal
    [rollback] = await runs_of(h, "rollback")
    assert rollback.params == {"environment": "testnet", "version": "v1.4.3",
                               "wave_window": "3m"}
    assert rollback.environment == "testnet"
    assert rollback.parent_run_id == canary_id
    assert rollback.channel == OPS
    assert rollback.initiator == OPERATOR
    await h.standin.wait_for(lambda: [m for m in h.standin.calls
                                      if rollback.id in str(m)])
    assert len(await runs_of(h, "rollback")) == 1


async def test_a_bad_value_is_shown_on_its_field_and_nothing_starts(harness: Harness) -> None:
    """A version that is no release tag is refused on the version field; nothing starts, and
    the corrected form then starts the rollback."""
    h = harness
    _, card = await halted(h)
    view = await offer_form(h, card)
    reply = await h.submit(OPERATOR, view, {"modal.param:version": "the-good-one"})
    assert reply.json["response_action"] == "errors"
    assert list(reply.json["errors"]) == ["modal.param:version"]
    assert "version 'the-good-one' is not valid" in reply.json["errors"]["modal.param:version"]
    assert "Usage" not in reply.json["errors"]["modal.param:version"]
    assert await runs_of(h, "rollback", within=0.3) == []
    assert (await h.submit(OPERATOR, view, {"modal.param:version": "v1.4.3",
                                            "modal.param:environment": "mainnet"})).text == ""
    [rollback] = await runs_of(h, "rollback")
    assert rollback.params["environment"] == "mainnet"


async def test_the_offer_is_refused_to_someone_who_may_not_start_it(harness: Harness) -> None:
    """An outsider pressing "Start rollback…" is told why; no form opens, nothing starts."""
    h = harness
    _, card = await halted(h)
    await h.click(OUTSIDER, card, "workflow.start")
    [(_, answer)] = await h.standin.wait_for(lambda: h.standin.responses)
    assert "not allowed to start rollback" in answer["text"]
    assert h.standin.opened("modal.start") == []
    assert await runs_of(h, "rollback", within=0.3) == []


async def test_a_form_submitted_by_an_outsider_starts_nothing(harness: Harness) -> None:
    """The permission is checked again on submit: a form passed on to an outsider is refused
    inside the form."""
    h = harness
    _, card = await halted(h)
    view = await offer_form(h, card)
    reply = await h.submit(OUTSIDER, view, {"modal.param:version": "v1.4.3"})
    assert reply.json["response_action"] == "errors"
    assert "not allowed to start rollback" in str(reply.json["errors"])
    assert await runs_of(h, "rollback", within=0.3) == []


async def test_an_offer_without_parameters_starts_at_once_and_once(redis_url: str) -> None:
    """A follow-up with nothing to ask starts on the press, linked to the halted run; a double
    press starts one run."""
    no_params = "name: rollback\ntitle: Roll back\nenvironment_param: null\n" \
        "steps: [{id: ok, title: Agree, kind: manual}]\n"
    defs = {**definitions(), "promote": definition(HALTING), "rollback": definition(no_params)}
    config = scenario_config(CONFIG.replace("groups:", MAINNET, 1))
    async with running_bot(redis_url, defs, config=config) as h:
        canary_id, card = await halted(h)
        assert find_button(card.blocks, "workflow.start")["text"]["text"] == "Start rollback…"
        for _ in range(2):
            assert (await h.click(OPERATOR, card, "workflow.start")).status == 200
        [rollback] = await runs_of(h, "rollback")
        assert rollback.parent_run_id == canary_id
        assert rollback.channel == OPS
        assert h.standin.opened("modal.start") == []


async def test_a_due_drill_is_reminded_in_the_ops_channel_with_a_start_button(
    harness: Harness,
) -> None:
    """The drill scheduler's reminder is posted to the ops channel; its button starts a drill
    that needs nothing more at once (drills whose workflow is not loaded get no button)."""
    h = harness
    queued = await h.bot.drills.tick()
    assert {r.workflow for r in queued} >= {"restore-drill"}
    posted = await h.standin.wait_for(lambda: [
        m for m in h.standin.channel_messages(OPS) if "restore drill" in m.text.lower()])
    reminder = posted[0]
    assert find_button(reminder.blocks, "workflow.start")["text"]["text"] == "Start drill"
    # it asks for action: the people who may start the drill are mentioned
    asked = reminder.blocks[0]["text"]["text"]
    assert "<@UOP0001> <@URM0001> <@URM0002> <@URM0003>" in asked
    assert "<@UOUT001>" not in asked
    others = [m for m in h.standin.channel_messages(OPS)
              if "drill" in m.text.lower() and m is not reminder]
    assert all("workflow.start" not in str(m.blocks) for m in others)
    await h.click(OPERATOR, reminder, "workflow.start")
    [drill] = await runs_of(h, "restore-drill")
    assert drill.initiator == OPERATOR
    assert h.standin.opened("modal.start") == []


async def test_a_drill_that_needs_parameters_asks_for_them_first(redis_url: str) -> None:
    """A drill with required parameters opens the start form (nothing known, nothing
    prefilled) and starts with what was submitted."""
    defs = {**definitions(), "restore-drill": definition(RESTORE_DRILL)}
    async with running_bot(redis_url, defs) as h:
        await h.bot.drills.tick()
        [reminder] = await h.standin.wait_for(lambda: [
            m for m in h.standin.channel_messages(OPS) if "restore drill" in m.text.lower()])
        await h.click(OPERATOR, reminder, "workflow.start")
        [view] = await h.standin.wait_for(lambda: h.standin.opened("modal.start"))
        assert initial(view, "environment") is None
        assert await runs_of(h, "restore-drill", within=0.3) == []
        reply = await h.submit(OPERATOR, view, {"modal.param:environment": "testnet",
                                                "modal.param:source": "snap-42"})
        assert reply.text == ""
        [drill] = await runs_of(h, "restore-drill")
        assert drill.params == {"environment": "testnet", "source": "snap-42"}
        assert drill.parent_run_id is None
