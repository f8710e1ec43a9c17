"""Request signatures: only a body signed with the signing secret, within five minutes of its
timestamp, is taken; a replay inside the window is taken once. Nothing else changes anything."""

from __future__ import annotations

import time

import pytest

from tests.scenarios.harness import Harness, find_button, sign, waiting_at

COMMAND = "promote v1.4.2 abc1234 testnet"


async def nothing_started(h: Harness) -> bool:
    return await h.runtime.service.active_runs() == [] and not h.standin.calls_of(
        "chat.postMessage")


@pytest.mark.parametrize(
    ("why", "skew", "secret"),
    [
        ("another secret", 0, "not-the-signing-secret"),
        ("stale by ten minutes", -600, None),
        ("stale by a little over five minutes", -310, None),
        ("ten minutes in the future", 600, None),
        ("a little over five minutes in the future", 310, None),
    ],
)
async def test_a_badly_signed_or_timed_command_is_refused(
    harness: Harness, why: str, skew: int, secret: str | None
) -> None:
    """Wrong secret, stale or future timestamps: 401, and no run, no message."""
    body = harness.command_body("URM0001", COMMAND)
    ts = int(time.time()) + skew
    signature = sign(body, ts, secret) if secret else sign(body, ts)
    reply = await harness.post(body, timestamp=ts, signature=signature)
    assert reply.status == 401, why
    assert await nothing_started(harness)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Request-Timestamp": "yesterday"},
        {"X-Slack-Request-Timestamp": ""},
        {"X-Slack-Signature": "v1=00"},
        {"X-Slack-Signature": "v0=not-hex"},
        {"X-Slack-Signature": ""},
    ],
    ids=["word-timestamp", "empty-timestamp", "other-version", "not-hex", "empty-signature"],
)
async def test_malformed_signature_headers_are_refused(
    harness: Harness, headers: dict[str, str]
) -> None:
    """Headers that are not a timestamp and a v0 HMAC: 401."""
    body = harness.command_body("URM0001", COMMAND)
    ts = int(time.time())
    sent = {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sign(body, ts),
            **headers}
    async with harness.http.post(f"{harness.url}/slack/events", data=body.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded", **sent}) as response:
        assert response.status == 401
    assert await nothing_started(harness)


async def test_a_tampered_body_with_a_captured_signature_is_refused(harness: Harness) -> None:
    """A signature captured from one body does not cover another (a different user, a
    different command), nor the same body under another timestamp."""
    body = harness.command_body("UOUT001", "status")
    ts = int(time.time())
    captured = sign(body, ts)
    forged = body.replace("UOUT001", "URM0001").replace("text=status",
                                                        "text=promote+v1.4.2+abc1234+testnet")
    assert (await harness.post(forged, timestamp=ts, signature=captured)).status == 401
    assert (await harness.post(body, timestamp=ts - 1, signature=captured)).status == 401
    assert await nothing_started(harness)


async def test_a_replayed_command_inside_the_window_starts_one_run(harness: Harness) -> None:
    """The same signed command sent three times (a replay, or Slack's retries): one run."""
    body = harness.command_body("URM0001", COMMAND)
    ts = int(time.time())
    signature = sign(body, ts)
    replies = [await harness.post(body, timestamp=ts, signature=signature) for _ in range(3)]
    assert {r.status for r in replies} == {200}
    assert len({await harness.started_run(r) for r in replies}) == 1
    assert len(await harness.runtime.service.active_runs()) == 1


async def test_a_replayed_approval_counts_once_and_an_old_one_not_at_all(
    harness: Harness,
) -> None:
    """A signed Approve click replayed inside the window is one vote; the same click signed
    six minutes ago is refused outright."""
    h = harness
    run_id = await h.started_run(await h.command("URM0001", COMMAND))
    await h.wait_run(run_id, waiting_at("approve"))
    card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))
    old = int(time.time()) - 360
    stale = h.click_body("URM0003", find_button(card.blocks, "run.approve"), card)
    assert (await h.post(stale, timestamp=old)).status == 401
    body = h.click_body("URM0002", find_button(card.blocks, "run.approve"), card)
    ts = int(time.time())
    for _ in range(3):
        assert (await h.post(body, timestamp=ts, signature=sign(body, ts))).status == 200
    run = await h.run(run_id)
    approval = run.current[1].approval if run.current else None
    assert approval is not None
    assert [v.user for v in approval.votes] == ["URM0002"]
    audit = [(e.type, e.actor) for e in await h.runtime.service.audit(run_id)]
    assert audit.count(("approve", "URM0002")) == 1
    assert not [a for a in audit if a[1] == "URM0003"]
