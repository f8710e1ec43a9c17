"""A config group that follows a Slack user group: its members come from usergroups.users.list,
a `subteam_members_changed` event makes the bot read them again at once, and an approval is
judged by the membership at the moment of the click."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.config import parse_config
from bot.testing.standin import SlackStandIn
from tests.scenarios.harness import (
    APP_TOKEN,
    BOT_TOKEN,
    CONFIG,
    Harness,
    running_bot,
    until,
    waiting_at,
)
from tests.unit.slack.definitions import definitions

SUBTEAM = "S0RELEASE1"
FOLLOWING = CONFIG.replace(
    "  release-managers: [URM0001, URM0002, URM0003]",
    f"  release-managers: {{slack_usergroup: {SUBTEAM}}}")


@pytest.fixture
async def followed(redis_url: str) -> AsyncIterator[Harness]:
    assert FOLLOWING != CONFIG
    slack = SlackStandIn(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    slack.usergroups[SUBTEAM] = {"URM0001", "URM0002"}
    await slack.start()
    config = parse_config(FOLLOWING, source="usergroups.yaml",
                          env={"SCENARIO_RPC_PASSWORD": "rpc-pw"})
    try:
        async with running_bot(redis_url, definitions(), config=config, standin=slack) as h:
            sync = h.bot.usergroups
            assert sync is not None
            sync.poll = 0.05
            h.tasks["usergroups"] = asyncio.create_task(sync.run_forever())
            yield h
            sync.stop()
    finally:
        await slack.stop()


async def members(h: Harness, expected: set[str], within: float = 10.0) -> None:
    await until(lambda: set(h.runtime.config.groups["release-managers"]) == expected,
                f"release-managers never became {sorted(expected)}", within)


async def test_membership_follows_the_user_group_and_is_judged_at_the_click(
    followed: Harness,
) -> None:
    """URM0003 is not in the user group: their Approve is refused. Slack adds them and removes
    URM0002, and says so with subteam_members_changed: URM0003's Approve now counts, URM0002's
    is refused, and the run needs URM0001 (not the initiator here) to reach its quorum."""
    h = followed
    await members(h, {"URM0001", "URM0002"})
    reply = await h.command("UOP0001", "promote v1.4.2 abc1234 testnet")
    run_id = await h.started_run(reply)
    await h.wait_run(run_id, waiting_at("approve"))
    card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))

    refused = await h.click("URM0003", card, "run.approve")
    assert refused.status == 200
    audit = [e.type for e in await h.runtime.service.audit(run_id)]
    assert "refused_approve" in audit
    assert "approve" not in audit

    h.standin.usergroups[SUBTEAM] = {"URM0001", "URM0003"}
    event = {"type": "subteam_members_changed", "subteam_id": SUBTEAM,
             "team_id": h.standin.team_id, "added_users": ["URM0003"], "added_users_count": "1",
             "removed_users": ["URM0002"], "removed_users_count": "1",
             "event_ts": f"{time.time():.6f}"}
    assert (await h.event(event)).status == 200
    await members(h, {"URM0001", "URM0003"})

    assert (await h.click("URM0002", card, "run.approve")).status == 200
    assert (await h.click("URM0003", card, "run.approve")).status == 200
    card = await h.card(run_id, lambda m: "approved by <@URM0003>" in str(m.blocks))
    assert (await h.click("URM0001", card, "run.approve")).status == 200
    run = await h.wait_run(run_id, waiting_at("sbom"))
    votes = {v.user for v in run.steps[run.index_of("approve") or 0].approval.votes}  # type: ignore[union-attr]
    assert votes == {"URM0001", "URM0003"}
    refusals = [e for e in await h.runtime.service.audit(run_id) if e.type == "refused_approve"]
    assert {e.actor for e in refusals} == {"URM0003", "URM0002"}


async def test_a_group_not_read_yet_is_empty_and_a_failed_read_keeps_its_members(
    redis_url: str,
) -> None:
    """Before its first read a followed group has nobody (nobody can act for it); a user group
    Slack will not list (deleted, no scope) keeps the members read before."""
    slack = SlackStandIn(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    await slack.start()
    config = parse_config(FOLLOWING, source="usergroups.yaml",
                          env={"SCENARIO_RPC_PASSWORD": "rpc-pw"})
    try:
        async with running_bot(redis_url, definitions(), config=config, standin=slack) as h:
            assert h.runtime.config.groups["release-managers"] == frozenset()
            sync = h.bot.usergroups
            assert sync is not None
            slack.usergroups[SUBTEAM] = {"URM0001"}
            await sync.refresh()
            assert h.runtime.config.groups["release-managers"] == {"URM0001"}
            del slack.usergroups[SUBTEAM]
            await sync.refresh()
            assert h.runtime.config.groups["release-managers"] == {"URM0001"}
    finally:
        await slack.stop()
