"""`/parthenon` commands end to end: answers, wrong forms, operations, App Home, errors."""

from __future__ import annotations

import json
import logging

import pytest

from tests.scenarios.harness import (
    OPERATOR,
    OUTSIDER,
    Harness,
    button_step,
    status_is,
    waiting_at,
)
from workflows import keys
from workflows.model import RunStatus


async def test_wrong_arguments_say_what_and_the_form_and_start_nothing(harness: Harness) -> None:
    """A promote with a missing argument is answered with the right form; no run starts."""
    reply = await harness.command("URM0001", "promote v1.4.2")
    assert reply.status == 200
    body = reply.json
    assert body["response_type"] == "ephemeral"
    assert "missing git_sha, environment" in body["text"]
    assert ("`/parthenon promote &lt;version&gt; &lt;git_sha&gt; [config_checksum] "
            "&lt;testnet|mainnet&gt;`") in body["text"]
    assert await harness.runtime.service.active_runs() == []


async def test_a_bad_value_is_refused_by_the_definition(harness: Harness) -> None:
    """A value that does not fit the definition's pattern is refused with the usage."""
    reply = await harness.command("URM0001", "promote 1.4 abc1234 testnet")
    assert "version" in reply.json["text"]
    assert "Usage" in reply.json["text"]
    assert await harness.runtime.service.active_runs() == []


async def test_someone_not_allowed_cannot_start(harness: Harness) -> None:
    """A person outside the start groups is told so; nothing starts."""
    reply = await harness.command(OUTSIDER, "promote v1.4.2 abc1234 testnet")
    assert "not allowed to start promote" in reply.json["text"]
    assert await harness.runtime.service.active_runs() == []


async def test_help_and_each_commands_help(harness: Harness) -> None:
    """`help` lists every command; `<command> help` shows that command's form."""
    overview = json.dumps((await harness.command(OUTSIDER, "")).json)
    for name in ("promote", "incident", "status", "freeze", "health"):
        assert f"/parthenon {name}" in overview
    own = json.dumps((await harness.command(OUTSIDER, "rollback help")).json)
    assert "rollback &lt;testnet|mainnet&gt; [reason]" in own


async def test_status_and_runs_list_runs(harness: Harness) -> None:
    """`status` lists active runs, `status <id>` shows the card, `runs` lists them too."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(run_id, waiting_at("approve"))
    listed = json.dumps((await h.command(OUTSIDER, "status")).json)
    assert run_id in listed
    card = (await h.command("URM0002", f"status {run_id}")).json
    assert card["blocks"][0]["type"] == "header"
    assert "run.approve" in json.dumps(card["blocks"])  # URM0002 may approve
    outsider = (await h.command(OUTSIDER, f"status {run_id}")).json
    assert "run.approve" not in json.dumps(outsider["blocks"])
    assert run_id in json.dumps((await h.command(OUTSIDER, "runs")).json)
    missing = (await h.command(OUTSIDER, "status r20990101-nope")).json
    assert "no run 'r20990101-nope'" in missing["text"]


async def test_freeze_blocks_promotions_until_unfrozen(harness: Harness) -> None:
    """An operator's freeze refuses promote with who and why; unfreeze lifts it."""
    h = harness
    assert "not allowed" in (await h.command("URM0002", "freeze nope")).json["text"]
    assert "frozen" in (await h.command(OPERATOR, "freeze incident <@U999> open")).json["text"]
    refused = (await h.command("URM0001", "promote v1.4.2 abc1234 testnet")).json["text"]
    assert f"frozen by <@{OPERATOR}>" in refused
    assert "<@U999>" not in refused
    assert await h.runtime.service.active_runs() == []
    assert "lifted" in (await h.command(OPERATOR, "unfreeze")).json["text"]
    started = await h.command("URM0001", "promote v1.4.2 abc1234 testnet")
    assert "Started" in started.text


async def test_pause_resume_and_abort_by_command_and_by_modal(harness: Harness) -> None:
    """Pause and resume by command; abort without a reason opens a modal that aborts the run."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(run_id, waiting_at("approve"))
    assert "not allowed to resume" in (await h.command("URM0002", f"resume {run_id}")).json[
        "text"]
    assert "Paused" in (await h.command(OPERATOR, f"pause {run_id} lunch")).json["text"]
    await h.wait_run(run_id, status_is(RunStatus.PAUSED))
    assert "Resumed" in (await h.command(OPERATOR, f"resume {run_id}")).json["text"]
    reply = await h.command(OPERATOR, f"abort {run_id}")
    assert reply.status == 200
    assert reply.text == ""
    [view] = await h.standin.wait_for(lambda: h.standin.opened("modal.abort"))
    await h.submit(OPERATOR, view, {"modal.reason": "wrong tag"})
    run = await h.wait_run(run_id, status_is(RunStatus.ABORTED))
    assert run.reason == f"aborted by <@{OPERATOR}>: wrong tag"


async def test_operator_buttons_pause_resume_and_skip(harness: Harness) -> None:
    """Pause and Resume buttons work for an operator; Skip asks a reason, then another operator
    (never the asker) approves the skip and the step is skipped."""
    h = harness
    run_id = await h.started_run(await h.command("URM0002", "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(run_id, waiting_at("approve"))
    card = await h.card(run_id, lambda m: button_step(m, "run.pause") == "approve")
    await h.click(OPERATOR, card, "run.pause")
    await h.wait_run(run_id, status_is(RunStatus.PAUSED))
    card = await h.card(run_id, lambda m: button_step(m, "run.resume") is not None)
    await h.click(OPERATOR, card, "run.resume")
    await h.wait_run(run_id, status_is(RunStatus.WAITING))
    for user in ("URM0001", "URM0003"):
        card = await h.card(run_id, lambda m: button_step(m, "run.approve") == "approve")
        await h.click(user, card, "run.approve")
    await h.wait_run(run_id, waiting_at("sbom"))
    card = await h.card(run_id, lambda m: button_step(m, "run.skip") == "sbom")
    await h.click(OPERATOR, card, "run.skip")
    [view] = await h.standin.wait_for(lambda: h.standin.opened("modal.skip"))
    await h.submit(OPERATOR, view, {"modal.reason": "checked by hand"})
    await h.wait_run(run_id, waiting_at("sbom"))  # a skip request, not a skip
    card = await h.card(run_id, lambda m: button_step(m, "run.approve") == "sbom")
    await h.click(OPERATOR, card, "run.approve")  # the asker: refused
    await h.click("URM0001", card, "run.approve")  # another operator
    run = await h.wait_run(run_id, lambda r: r.steps[2].status.value == "skipped")
    assert run.steps[2].note == (
        f"skipped at <@{OPERATOR}>'s request (checked by hand); approved by <@URM0001>")


async def test_app_home_shows_what_waits_for_the_viewer(harness: Harness) -> None:
    """Opening App Home publishes the viewer's pending approval with its buttons."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(run_id, waiting_at("approve"))
    reply = await h.event({"type": "app_home_opened", "user": "URM0002", "channel": "D0HOME",
                           "tab": "home"})
    assert reply.status == 200
    view = await h.standin.wait_for(lambda: h.standin.home.get("URM0002"))
    body = json.dumps(view)
    assert run_id in body
    assert "run.approve" in body
    await h.event({"type": "app_home_opened", "user": "URM0001", "tab": "home"})
    mine = await h.standin.wait_for(lambda: h.standin.home.get("URM0001"))
    assert "run.approve" not in json.dumps(mine)  # the initiator may not approve their own


async def test_an_unexpected_error_gets_an_id_that_is_logged_and_shown(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure nobody planned for is answered with an error id, the same id as logged."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(run_id, waiting_at("approve"))
    await h.runtime.engine.stop(2)
    await h.redis.hset(keys.RunKeys(run_id).run, "doc", "{not a run")
    with caplog.at_level(logging.ERROR, logger="parthenon.slack"):
        reply = await h.command(OUTSIDER, f"status {run_id}")
    text = reply.json["text"]
    assert "Something went wrong on our side (error id `" in text
    error_id = text.split("error id `")[1].split("`")[0]
    logged = [r for r in caplog.records if getattr(r, "error_id", None) == error_id]
    assert logged
    assert logged[0].exc_info is not None
