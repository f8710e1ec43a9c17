"""The Slack app manifest declares what the bot uses, and nothing else."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.slack.ids import SLASH_COMMAND

MANIFEST = Path(__file__).resolve().parents[3] / "deploy" / "slack-manifest.yaml"

#: Every Web API method the bot calls, and the bot scope it needs (None: no scope).
METHODS = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "conversations.create": "channels:manage",
    "conversations.invite": "channels:manage",
    "pins.add": "pins:write",
    "conversations.history": "channels:history",
    "conversations.replies": "channels:history",
    "views.open": None,
    "views.publish": None,
    "auth.test": None,
    "users.info": "users:read",
    "usergroups.users.list": "usergroups:read",
}


def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def test_scopes_are_exactly_the_ones_the_methods_need() -> None:
    """The bot scopes are the commands scope, chat:write.public (cards in any public channel)
    and one scope per Web API method family the bot calls."""
    needed = {s for s in METHODS.values() if s} | {"commands", "chat:write.public"}
    # The same methods on private incident channels (incidents.private): create and invite,
    # and the look in the channel's history before posting again.
    needed |= {"groups:write", "groups:history"}
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == needed


def test_command_interactivity_and_events_point_at_one_endpoint() -> None:
    """/parthenon, interactivity and the events (app_home_opened, subteam_members_changed for
    groups that follow a Slack user group) all go to /slack/events."""
    doc = manifest()
    [command] = doc["features"]["slash_commands"]
    assert command["command"] == SLASH_COMMAND
    assert command["should_escape"] is False
    urls = {command["url"], doc["settings"]["interactivity"]["request_url"],
            doc["settings"]["event_subscriptions"]["request_url"]}
    assert len(urls) == 1
    assert urls.pop().endswith("/slack/events")
    assert doc["settings"]["interactivity"]["is_enabled"] is True
    assert doc["settings"]["event_subscriptions"]["bot_events"] == [
        "app_home_opened", "subteam_members_changed"]
    assert doc["features"]["app_home"]["home_tab_enabled"] is True
