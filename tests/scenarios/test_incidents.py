"""`/parthenon incident ...` opens its own channel, invites the responders, pins the checklist;
when the channel cannot be created the run goes on in the channel it was started from."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.scenarios.harness import OPS, RESPONDERS, Harness, waiting_at
from workflows.model import Run


def channel_name(run: Run, n: int) -> str:
    return f"inc-{run.created_at:%Y%m%d}-release-{n}"


async def test_incident_opens_its_channel_invites_and_pins_the_card(harness: Harness) -> None:
    """The channel inc-<date>-release-1 is created, the responders and the initiator are
    invited, the card is posted and pinned there, and the ops channel gets a pointer."""
    h = harness
    reply = await h.command("UOP0001", "incident release node 3 forked <!here>")
    assert reply.status == 200
    assert "incident channel" in reply.text
    run = await h.run(await h.started_run(reply))
    assert run.params == {"summary": "node 3 forked <!here>"}
    card = await h.card(run.id)
    channel = h.standin.channels[card.channel]
    assert channel.name == channel_name(run, 1)
    assert channel.members >= {*RESPONDERS, "UOP0001"}
    assert await h.standin.wait_for(lambda: card.ts in channel.pins)  # pinned after the post
    pointer = await h.standin.wait_for(lambda: [
        m for m in h.standin.channel_messages(OPS) if f"<#{card.channel}>" in m.text])
    assert "<!here>" not in pointer[0].text
    assert "&lt;!here&gt;" in str(card.blocks)


async def test_a_taken_name_moves_to_the_next_number(harness: Harness) -> None:
    """When inc-<date>-release-1 exists, the incident gets inc-<date>-release-2."""
    h = harness
    today = datetime.now(UTC)
    h.standin.add_channel("C0OLDINC", f"inc-{today:%Y%m%d}-release-1")
    run = await h.run(await h.started_run(await h.command("UOP0001", "incident release again")))
    card = await h.card(run.id)
    assert h.standin.channels[card.channel].name == channel_name(run, 2)
    creates = [c.args["name"] for c in h.standin.calls_of("conversations.create")]
    assert creates == [channel_name(run, 1), channel_name(run, 2)]


async def test_missing_scope_keeps_the_incident_in_the_current_channel(harness: Harness) -> None:
    """Without the scope to create channels the card is posted where the command was typed and
    its thread says why; the run goes on."""
    h = harness
    h.standin.fail("conversations.create", error="missing_scope")
    run = await h.run(await h.started_run(await h.command("UOP0001", "incident release x")))
    card = await h.card(run.id)
    assert card.channel == OPS
    note = await h.standin.wait_for(lambda: [
        r for r in h.standin.replies(OPS, card.ts) if "missing_scope" in r.text])
    assert "channels:manage" in note[0].text
    assert "the incident runs here" in note[0].text
    await h.wait_run(run.id, waiting_at("triage"))
