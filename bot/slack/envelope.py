"""What the events route lets through to bolt: a body that parses the way bolt will parse it, into
one of the requests this app handles, with every field bolt reads typed as bolt assumes.

bolt parses a body (and builds its context from it) before any listener runs, assuming a JSON
object of Slack's shape: a body nested too deep to parse, an array, ``actions: "x"``,
``actions: [null]`` or a view without ``type`` raise inside the framework (a 500 and a traceback
per request). This module is the pure check the route runs after the signature and before bolt:
``read_envelope`` returns the parsed body or the reason it is refused (answered 400, no
traceback). It mirrors ``slack_bolt.request.internals.parse_body`` so that what is checked is
what bolt will read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["Envelope", "Refused", "check_socket_payload", "read_envelope"]

# What this app answers: slash commands (and Slack's ssl_check), buttons, modals, App Home.
_INTERACTIVE = frozenset({"block_actions", "view_submission"})  # no modal asks for view_closed
_EVENTS = frozenset({"event_callback", "url_verification", "app_rate_limited"})
# Keys bolt reads as an id (a string) or an object with an "id", wherever they appear.
_ID_OR_OBJECT = ("enterprise", "team", "user", "channel")
# Keys bolt descends into when they are objects; a list or a string there is refused.
_OBJECTS = ("event", "message", "previous_message", "item", "assistant_thread", "function_data",
            "view", "container", "state")
_STRINGS = ("type", "response_url", "trigger_id", "user_id", "channel_id", "team_id",
            "enterprise_id", "command", "text", "callback_id", "action_id", "api_app_id",
            "thread_ts")
_MAX_DEPTH = 3  # how deep bolt follows event -> message -> ... when it builds its context


@dataclass(frozen=True)
class Envelope:
    body: dict[str, Any]
    kind: str  # "command", "ssl_check", a payload type, or an Events API type


@dataclass(frozen=True)
class Refused:
    reason: str


def read_envelope(text: str, content_type: str | None) -> Envelope | Refused:
    """The body as bolt will parse it, if it is a request this app handles in a shape bolt can
    read; else why not."""
    if not text:
        return Refused("empty body")
    is_json = (content_type or "").split(";")[0].strip().lower() == "application/json"
    if is_json or text.startswith("{"):
        body = _json_object(text)
        if isinstance(body, Refused):
            return body
        problem = _event(body)
        return Refused(problem) if problem else Envelope(body, str(body["type"]))
    if "payload" in text:
        params = dict(parse_qsl(text, keep_blank_values=True))
        raw = params.get("payload")
        if raw is None:
            # bolt reads this as an empty body: nothing this app handles
            return Refused("a form with no payload field")
        body = _json_object(raw)
        if isinstance(body, Refused):
            return body
        problem = _interactive(body)
        return Refused(problem) if problem else Envelope(body, str(body["type"]))
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "ssl_check" in form:
        return Envelope(form, "ssl_check")
    if "command" not in form:
        return Refused("a form that is neither a slash command nor a payload")
    return Envelope(form, "command")


def check_socket_payload(kind: str, payload: object) -> str | None:
    """The same check for what arrives over Socket Mode (``kind`` is the envelope's type:
    ``slash_commands``, ``interactive``, ``events_api``): None, or why bolt could not read it."""
    if not isinstance(payload, dict):
        return "a payload that is not an object"
    if kind == "slash_commands":
        if not isinstance(payload.get("command"), str):
            return "a slash command without a command"
        return _typed(payload, 0)
    if kind == "interactive":
        return _interactive(payload)
    if kind == "events_api":
        return _event(payload)
    return "an envelope this app does not handle"


def _event(body: dict[str, Any]) -> str | None:
    kind = body.get("type")
    if kind not in _EVENTS:
        return "not an Events API callback this app handles"
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict):
            return "an event callback without an event object"
        if not isinstance(event.get("type"), str):
            return "an event without a type"
    return _typed(body, 0)


def _json_object(text: str) -> dict[str, Any] | Refused:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return Refused("not JSON (or nested too deep)")
    if not isinstance(value, dict):
        return Refused("JSON that is not an object")
    return value


def _interactive(body: dict[str, Any]) -> str | None:
    kind = body.get("type")
    if kind not in _INTERACTIVE:
        return "not an interaction this app handles"
    user = body.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return "an interaction without a user"
    if kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            return "a click whose actions are not a list"
        if not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions):
            return "a click with an action that is not an object with an action_id"
    else:
        view = body.get("view")
        if not isinstance(view, dict):
            return "a form without a view"
        if not isinstance(view.get("type"), str) or not isinstance(view.get("callback_id"), str):
            return "a view without a type or callback_id"
    return _typed(body, 0)


def _typed(obj: dict[str, Any], depth: int) -> str | None:
    """Every field bolt reads has the type bolt assumes, here and in what it descends into."""
    for key in _STRINGS:
        if key in obj and obj[key] is not None and not isinstance(obj[key], str):
            return f"{key} is not a string"
    for key in _ID_OR_OBJECT:
        value = obj.get(key)
        if value is not None and not isinstance(value, str | dict):
            return f"{key} is neither an id nor an object"
    for key in ("authorizations", "response_urls"):
        value = obj.get(key)
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(v, dict) for v in value)):
            return f"{key} is not a list of objects"
    if depth >= _MAX_DEPTH:
        return None
    for key in _OBJECTS:
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            return f"{key} is not an object"
        if key in ("event", "message", "previous_message", "item", "assistant_thread"):
            problem = _typed(value, depth + 1)
            if problem:
                return f"{key}: {problem}"
    for auth in obj.get("authorizations") or []:
        problem = _typed(auth, depth + 1)
        if problem:
            return f"authorizations: {problem}"
    return None
