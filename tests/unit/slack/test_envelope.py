"""The events route's shape check lets through every request Slack really sends this app (the
shapes of Slack's own examples: enterprise and team objects or nulls, authorizations, state,
response_urls) and refuses what bolt cannot read."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.slack.envelope import Envelope, Refused, read_envelope

FORM = "application/x-www-form-urlencoded"

BLOCK_ACTIONS_MESSAGE: dict[str, Any] = {
    "type": "block_actions",
    "user": {"id": "U0A1", "username": "ana", "name": "ana", "team_id": "T0A1"},
    "api_app_id": "A0A1", "token": "x", "trigger_id": "1.2.abc",
    "container": {"type": "message", "message_ts": "1.000100", "channel_id": "C0A1",
                  "is_ephemeral": False},
    "team": {"id": "T0A1", "domain": "parthenon"},
    "enterprise": None, "is_enterprise_install": False,
    "channel": {"id": "C0A1", "name": "ops"},
    "message": {"type": "message", "user": "U0BOT", "ts": "1.000100", "bot_id": "B0A1",
                "text": "card", "blocks": [{"type": "section"}], "team": "T0A1"},
    "state": {"values": {}},
    "response_url": "https://hooks.slack.com/actions/T0A1/1/x",
    "actions": [{"action_id": "run.pause", "block_id": "card.actions", "type": "button",
                 "text": {"type": "plain_text", "text": "Pause", "emoji": True},
                 "value": "{}", "action_ts": "1.000200"}],
}
BLOCK_ACTIONS_HOME: dict[str, Any] = {
    **{k: v for k, v in BLOCK_ACTIONS_MESSAGE.items()
       if k not in {"channel", "message", "response_url"}},
    "container": {"type": "view", "view_id": "V0A1"},
    "view": {"id": "V0A1", "type": "home", "callback_id": "", "blocks": [],
             "state": {"values": {}}, "team_id": "T0A1", "app_installed_team_id": "T0A1"},
}
VIEW_SUBMISSION: dict[str, Any] = {
    "type": "view_submission",
    "team": {"id": "T0A1", "domain": "parthenon"},
    "user": {"id": "U0A1", "username": "ana", "name": "ana", "team_id": "T0A1"},
    "api_app_id": "A0A1", "token": "x", "trigger_id": "1.2.abc",
    "view": {"id": "V0A2", "team_id": "T0A1", "type": "modal", "callback_id": "modal.abort",
             "private_metadata": "{}", "blocks": [],
             "state": {"values": {"modal.reason": {"reason": {"type": "plain_text_input",
                                                              "value": "why"}}}},
             "hash": "h", "root_view_id": "V0A2", "app_id": "A0A1",
             "app_installed_team_id": "T0A1", "bot_id": "B0A1"},
    "response_urls": [], "is_enterprise_install": False, "enterprise": None,
}
APP_HOME_OPENED: dict[str, Any] = {
    "token": "x", "team_id": "T0A1", "api_app_id": "A0A1", "type": "event_callback",
    "event": {"type": "app_home_opened", "user": "U0A1", "channel": "D0A1", "tab": "home",
              "event_ts": "1.0", "view": {"id": "V0A1", "type": "home"}},
    "event_id": "Ev0A1", "event_time": 1, "event_context": "4-abc",
    "authorizations": [{"enterprise_id": None, "team_id": "T0A1", "user_id": "U0BOT",
                        "is_bot": True, "is_enterprise_install": False}],
    "is_ext_shared_channel": False,
}
COMMAND = {"token": "x", "team_id": "T0A1", "team_domain": "parthenon", "channel_id": "C0A1",
           "channel_name": "ops", "user_id": "U0A1", "user_name": "ana",
           "command": "/parthenon", "text": "status", "api_app_id": "A0A1",
           "is_enterprise_install": "false", "response_url": "https://hooks.slack.com/commands/x",
           "trigger_id": "1.2.abc"}


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (urlencode({"payload": json.dumps(BLOCK_ACTIONS_MESSAGE)}), FORM, "block_actions"),
        (urlencode({"payload": json.dumps(BLOCK_ACTIONS_HOME)}), FORM, "block_actions"),
        (urlencode({"payload": json.dumps(VIEW_SUBMISSION)}), FORM, "view_submission"),
        (json.dumps(APP_HOME_OPENED), "application/json", "event_callback"),
        (json.dumps({"token": "x", "challenge": "c", "type": "url_verification"}),
         "application/json", "url_verification"),
        (urlencode(COMMAND), FORM, "command"),
        (urlencode({"ssl_check": "1", "token": "x"}), FORM, "ssl_check"),
        (json.dumps(APP_HOME_OPENED), "application/json; charset=utf-8", "event_callback"),
    ],
    ids=["click-on-card", "click-on-home", "form", "app-home-opened", "url-verification",
         "slash-command", "ssl-check", "json-with-charset"],
)
def test_what_slack_sends_is_let_through(body: str, content_type: str, kind: str) -> None:
    envelope = read_envelope(body, content_type)
    assert isinstance(envelope, Envelope), envelope
    assert envelope.kind == kind


@pytest.mark.parametrize(
    "payload",
    [
        {**BLOCK_ACTIONS_MESSAGE, "actions": "x"},
        {**BLOCK_ACTIONS_MESSAGE, "actions": [None]},
        {**BLOCK_ACTIONS_MESSAGE, "actions": [{"action_id": 5}]},
        {**BLOCK_ACTIONS_MESSAGE, "team": ["T0A1"]},
        {**BLOCK_ACTIONS_MESSAGE, "message": "x"},
        {**BLOCK_ACTIONS_MESSAGE, "response_url": 5},
        {**VIEW_SUBMISSION, "view": {**VIEW_SUBMISSION["view"], "type": None}},
        {**VIEW_SUBMISSION, "response_urls": [1]},
        {**VIEW_SUBMISSION, "user": "U0A1"},
    ],
    ids=["actions-string", "actions-null", "action-id-number", "team-list", "message-string",
         "response-url-number", "view-type-null", "response-urls-of-numbers", "user-a-string"],
)
def test_a_payload_bolt_cannot_read_is_refused(payload: dict[str, Any]) -> None:
    assert isinstance(read_envelope(urlencode({"payload": json.dumps(payload)}), FORM), Refused)
