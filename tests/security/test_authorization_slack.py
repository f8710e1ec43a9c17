"""A slice of the authorization matrix through signed Slack requests to the served bot: the
same rules hold at the Slack edge (commands, buttons, modals), a refusal is answered to the
person, changes nothing and is audited."""

from __future__ import annotations

from tests.scenarios.harness import OPERATOR, OUTSIDER, Harness, waiting_at
from workflows.model import Run, RunStatus

INITIATOR = "URM0002"  # a release manager, not an operator
APPROVER = "URM0003"
COMMAND = "promote v1.4.2 abc1234 testnet"
CHECKSUM = "ab" * 32


async def refused(h: Harness, run_id: str, before: Run, kind: str, actor: str) -> None:
    """The run is as it was, and the newest audit entry is this refusal."""
    after = await h.run(run_id)
    assert after.version == before.version, f"{kind} by {actor} changed the run"
    audit = await h.runtime.service.audit(run_id)
    assert (audit[-1].type, audit[-1].actor) == (f"refused_{kind}", actor)
    assert audit[-1].detail.get("reason")


async def modal(h: Harness, run_id: str, user: str, action: str, callback: str,
                values: dict[str, str]) -> int:
    """Press a button that opens a form, then submit the form as ``user``."""
    card = await h.card(run_id, lambda m: action in str(m.blocks))
    opened = len(h.standin.opened(callback))
    assert (await h.click(user, card, action)).status == 200
    views = await h.standin.wait_for(lambda: h.standin.opened(callback)[opened:] or None)
    return (await h.submit(user, views[0], values)).status


async def test_start_is_refused_to_someone_outside_the_start_groups(harness: Harness) -> None:
    """An outsider's /parthenon promote is answered with why, and starts nothing."""
    reply = await harness.command(OUTSIDER, COMMAND)
    assert reply.status == 200
    assert "not allowed to start promote" in reply.text
    assert await harness.runtime.service.active_runs() == []


async def test_buttons_and_forms_follow_the_rules(harness: Harness) -> None:
    """Approve: not the outsider, not the initiator, a release manager yes. Pause: not the
    outsider, the initiator yes. Resume: not the initiator (operators only), an operator yes.
    Reject and abort forms submitted by the outsider, and the confirm form by a non-responder,
    are refused inside the form and audited; an operator's confirm goes through."""
    h = harness
    run_id = await h.started_run(await h.command(INITIATOR, COMMAND))
    await h.wait_run(run_id, waiting_at("approve"))
    card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))

    for actor in (OUTSIDER, INITIATOR):
        before = await h.run(run_id)
        assert (await h.click(actor, card, "run.approve")).status == 200
        await refused(h, run_id, before, "approve", actor)
    before = await h.run(run_id)
    assert (await h.click(APPROVER, card, "run.approve")).status == 200
    after = await h.run(run_id)
    assert after.version > before.version

    for user, action, callback in ((OUTSIDER, "run.reject", "modal.reject"),
                                   (OUTSIDER, "run.abort", "modal.abort")):
        before = await h.run(run_id)
        await modal(h, run_id, user, action, callback, {"modal.reason": "because"})
        await refused(h, run_id, before, action.removeprefix("run."), user)

    card = await h.card(run_id, lambda m: "run.pause" in str(m.blocks))
    before = await h.run(run_id)
    assert (await h.click(OUTSIDER, card, "run.pause")).status == 200
    await refused(h, run_id, before, "pause", OUTSIDER)
    assert (await h.click(INITIATOR, card, "run.pause")).status == 200
    paused = await h.wait_run(run_id, lambda r: r.status is RunStatus.PAUSED)
    card = await h.card(run_id, lambda m: "run.resume" in str(m.blocks))
    assert (await h.click(INITIATOR, card, "run.resume")).status == 200
    await refused(h, run_id, paused, "resume", INITIATOR)
    assert (await h.click(OPERATOR, card, "run.resume")).status == 200
    await h.wait_run(run_id, lambda r: r.status is not RunStatus.PAUSED)

    card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))
    assert (await h.click("URM0001", card, "run.approve")).status == 200
    await h.wait_run(run_id, waiting_at("sbom"))
    before = await h.run(run_id)
    await modal(h, run_id, APPROVER, "run.confirm", "modal.confirm",
                {"modal.input:checksum": CHECKSUM})
    await refused(h, run_id, before, "confirm", APPROVER)
    await modal(h, run_id, OPERATOR, "run.confirm", "modal.confirm",
                {"modal.input:checksum": CHECKSUM})
    confirmed = await h.wait_run(run_id, lambda r: r.version > before.version)
    index = confirmed.index_of("sbom")
    assert index is not None
    assert confirmed.steps[index].confirmed_by == OPERATOR
