"""Requests as Slack sends them: signatures, retries, double clicks, refusals, the ack order."""

from __future__ import annotations

import asyncio
import json
import time

from tests.scenarios.harness import (
    OUTSIDER,
    Harness,
    find_button,
    sign,
    status_is,
    waiting_at,
)
from workflows.model import RunStatus


async def start_at_approval(h: Harness, user: str = "URM0001") -> str:
    run_id = await h.started_run(await h.command(user, "promote v1.4.2 abc1234 testnet"))
    await h.wait_run(run_id, waiting_at("approve"))
    await h.card(run_id, lambda m: "run.approve" in str(m.blocks))
    return run_id


async def test_bad_signature_is_refused_with_401(harness: Harness) -> None:
    """A request whose signature does not match the body gets 401 and starts nothing."""
    body = harness.command_body("URM0001", "promote v1.4.2 abc1234 testnet")
    ts = int(time.time())
    reply = await harness.post(body, signature=sign(body + "x", ts), timestamp=ts)
    assert reply.status == 401
    assert await harness.runtime.service.active_runs() == []


async def test_signature_with_another_secret_is_refused(harness: Harness) -> None:
    """A body signed with some other secret gets 401."""
    body = harness.command_body("URM0001", "status")
    ts = int(time.time())
    reply = await harness.post(body, signature=sign(body, ts, "not-the-secret"), timestamp=ts)
    assert reply.status == 401


async def test_stale_timestamp_is_refused_with_401(harness: Harness) -> None:
    """A correctly signed request older than five minutes (a replay) gets 401."""
    body = harness.command_body("URM0001", "promote v1.4.2 abc1234 testnet")
    reply = await harness.post(body, timestamp=int(time.time()) - 600)
    assert reply.status == 401
    assert await harness.runtime.service.active_runs() == []


async def test_missing_signature_headers_are_refused(harness: Harness) -> None:
    """Without Slack's headers the request is 401."""
    async with harness.http.post(f"{harness.url}/slack/events", data=b"text=status") as r:
        assert r.status == 401


async def test_a_retried_command_starts_one_run(harness: Harness) -> None:
    """Slack redelivering a command (same body, X-Slack-Retry-Num) starts nothing new."""
    body = harness.command_body("URM0001", "promote v1.4.2 abc1234 testnet")
    first = await harness.post(body)
    again = await harness.post(body, headers={"X-Slack-Retry-Num": "1",
                                              "X-Slack-Retry-Reason": "http_timeout"})
    assert first.status == again.status == 200
    assert await harness.started_run(first) == await harness.started_run(again)
    assert len(await harness.runtime.service.active_runs()) == 1


async def test_retried_and_double_clicked_approvals_apply_once(harness: Harness) -> None:
    """The same click redelivered, and a second click on the same button, count one vote; the
    redelivery is quiet, the second press is told it was already approved."""
    h = harness
    run_id = await start_at_approval(h)
    card = await h.card(run_id)
    body = h.click_body("URM0002", find_button(card.blocks, "run.approve"), card)
    assert (await h.post(body)).status == 200
    assert (await h.post(body, headers={"X-Slack-Retry-Num": "1"})).status == 200
    second = h.click_body("URM0002", find_button(card.blocks, "run.approve"), card)
    assert (await h.post(second)).status == 200
    run = await h.run(run_id)
    votes = run.current[1].approval.votes if run.current and run.current[1].approval else []
    assert [v.user for v in votes] == ["URM0002"]
    audit = [e.type for e in await h.runtime.service.audit(run_id)]
    assert audit.count("approve") == 1
    assert audit.count("refused_approve") == 1  # the second press, not the redelivery
    await h.bot.deferred.drain()
    [(_, answer)] = h.standin.responses
    assert "you have already approved this step" in answer["text"]


async def test_non_approver_click_is_refused_and_changes_nothing(harness: Harness) -> None:
    """Someone outside the approver groups gets an ephemeral reason; the run is unchanged and
    the refusal is in the audit log."""
    h = harness
    run_id = await start_at_approval(h)
    before = await h.run(run_id)
    card = await h.card(run_id)
    reply = await h.click(OUTSIDER, card, "run.approve")
    assert reply.status == 200
    [(_, answer)] = await h.standin.wait_for(lambda: h.standin.responses)
    assert answer["response_type"] == "ephemeral"
    assert "only members of release-managers may approve" in answer["text"]
    after = await h.run(run_id)
    assert after.version == before.version
    refusals = [e for e in await h.runtime.service.audit(run_id) if e.type == "refused_approve"]
    assert len(refusals) == 1
    assert refusals[0].actor == OUTSIDER
    assert refusals[0].detail["shown_plan_hash"] == before.plan_hash


async def test_self_approval_is_refused_and_changes_nothing(harness: Harness) -> None:
    """The initiator pressing Approve on their own run is told why; no vote is counted."""
    h = harness
    run_id = await start_at_approval(h, "URM0001")
    card = await h.card(run_id)
    await h.click("URM0001", card, "run.approve")
    [(_, answer)] = await h.standin.wait_for(lambda: h.standin.responses)
    assert "you started this run" in answer["text"]
    run = await h.run(run_id)
    assert run.current is not None
    assert run.current[1].approval is not None
    assert run.current[1].approval.votes == []
    assert [e.type for e in await h.runtime.service.audit(run_id)].count("refused_approve") == 1


async def test_stale_plan_hash_is_refused(harness: Harness) -> None:
    """A button showing another plan than the run's is refused: approvals bind to the plan."""
    h = harness
    run_id = await start_at_approval(h)
    card = await h.card(run_id)
    button = find_button(card.blocks, "run.approve")
    button["value"] = button["value"].replace((await h.run(run_id)).plan_hash, "0" * 16)
    await h.post(h.click_body("URM0002", button, card))
    [(_, answer)] = await h.standin.wait_for(lambda: h.standin.responses)
    assert "earlier approvals no longer count" in answer["text"]
    assert (await h.run(run_id)).current[1].approval.votes == []  # type: ignore[index,union-attr]


async def test_a_tampered_button_is_refused_as_bad_payload(harness: Harness) -> None:
    """A button value the bot did not write is answered, not crashed on."""
    h = harness
    run_id = await start_at_approval(h)
    card = await h.card(run_id)
    button = {**find_button(card.blocks, "run.approve"), "value": "{not json"}
    assert (await h.post(h.click_body("URM0002", button, card))).status == 200
    [(_, answer)] = await h.standin.wait_for(lambda: h.standin.responses)
    assert "did not write" in answer["text"]


async def test_rejection_with_a_reason_ends_the_run(harness: Harness) -> None:
    """Reject opens a modal; the reason submitted fails the run and the card says why."""
    h = harness
    run_id = await start_at_approval(h)
    card = await h.card(run_id)
    assert (await h.click("URM0002", card, "run.reject")).status == 200
    [view] = await h.standin.wait_for(lambda: h.standin.opened("modal.reject"))
    empty = await h.submit("URM0002", view, {"modal.reason": ""})
    assert empty.json["response_action"] == "errors"
    assert (await h.run(run_id)).status is RunStatus.WAITING
    reply = await h.submit("URM0002", view, {"modal.reason": "wrong build <!channel>"})
    assert reply.status == 200
    assert reply.text == ""
    run = await h.wait_run(run_id, status_is(RunStatus.FAILED))
    assert run.reason == "step approve rejected by <@URM0002>: wrong build <!channel>"
    final = await h.card(run_id, lambda m: m.text.endswith(": failed"))
    shown = str(final.blocks)
    assert "rejected by <@URM0002>: wrong build &lt;!channel&gt;" in shown
    assert "<!channel>" not in shown


async def test_rejection_by_someone_who_may_not_is_shown_in_the_modal(harness: Harness) -> None:
    """A refused rejection comes back as an error on the modal's reason field."""
    h = harness
    run_id = await start_at_approval(h)
    card = await h.card(run_id)
    await h.click(OUTSIDER, card, "run.reject")
    [view] = await h.standin.wait_for(lambda: h.standin.opened("modal.reject"))
    reply = await h.submit(OUTSIDER, view, {"modal.reason": "no"})
    assert reply.json["response_action"] == "errors"
    assert "only members of release-managers may reject" in reply.json["errors"]["modal.reason"]
    assert (await h.run(run_id)).status is RunStatus.WAITING


async def test_the_ack_does_not_wait_for_the_web_api(harness: Harness) -> None:
    """A click that opens a modal is acked while views.open is still held at Slack."""
    h = harness
    run_id = await start_at_approval(h)
    card = await h.card(run_id)
    held = h.standin.hold("views.open")
    reply = await asyncio.wait_for(h.click("URM0002", card, "run.reject"), 5)
    assert reply.status == 200
    assert h.standin.opened("modal.reject") == []
    held.set()
    await h.standin.wait_for(lambda: h.standin.opened("modal.reject"))


async def test_a_command_is_durable_before_its_ack(harness: Harness) -> None:
    """By the time the 200 arrives the run is in Redis, even with Slack's Web API held."""
    h = harness
    h.standin.hold("chat.postMessage")
    reply = await h.command("URM0001", "promote v1.4.2 abc1234 testnet")
    run = await h.run(await h.started_run(reply))
    assert run.workflow == "promote"
    assert h.standin.calls_of("chat.postMessage") == []
    h.standin.release("chat.postMessage")


async def test_url_verification_is_answered_with_the_challenge(harness: Harness) -> None:
    """Saving the events URL in the app settings works: the signed challenge is echoed."""
    body = json.dumps({"token": "unused", "challenge": "c-12345", "type": "url_verification"})
    reply = await harness.post(body, "application/json")
    assert reply.status == 200
    assert "c-12345" in reply.text


async def test_an_app_home_event_redelivered_is_answered_both_times(harness: Harness) -> None:
    """An event retried by Slack (X-Slack-Retry-Num) is acked; publishing Home twice is harmless."""
    event = {"type": "app_home_opened", "user": "URM0002", "tab": "home"}
    first = await harness.event(event)
    again = await harness.event(event, headers={"X-Slack-Retry-Num": "1"})
    assert first.status == again.status == 200
    await harness.standin.wait_for(lambda: harness.standin.home.get("URM0002"))
