"""The Web API methods the Slack stand-in answers (``bot.testing.standin`` serves them), each a
function of the workspace (``bot.testing.slackworkspace``) and the call's arguments, with bodies
shaped like Slack's: ``auth.test``, ``chat.*`` (blocks and a view checked against Block Kit's
limits first: ``refused_layout``), ``conversations.*`` (``history`` and ``replies`` with
``metadata`` under ``include_all_metadata``, paged by ``limit`` and ``cursor`` within
``oldest``/``latest`` as Slack pages them), ``pins.add``, ``views.*``, ``users.info`` and
``usergroups.users.list``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from bot.slack.blocklimits import SlackRefuses, check_blocks, check_view
from bot.testing.slackworkspace import Channel, Ephemeral, OpenedView, PostedMessage, Workspace
from workflows.userid import USER_ID_PATTERN

__all__ = ["METHODS", "refused_layout"]

_CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
_USER = re.compile(USER_ID_PATTERN)

_BLOCK_METHODS = {"chat.postMessage", "chat.update", "chat.postEphemeral"}
_VIEW_METHODS = {"views.open", "views.push", "views.update", "views.publish"}


def refused_layout(method: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """Slack's answer to blocks or a view that break a Block Kit limit (``bot.slack.blocklimits``:
    slack_sdk's own models plus the per-surface block counts); None when they are fine."""
    try:
        if method in _BLOCK_METHODS and args.get("blocks"):
            blocks = args["blocks"]
            check_blocks(json.loads(blocks) if isinstance(blocks, str) else blocks, "message")
        elif method in _VIEW_METHODS and isinstance(args.get("view"), dict):
            check_view(args["view"])
    except (SlackRefuses, ValueError, TypeError, KeyError) as exc:
        error = "invalid_blocks" if method in _BLOCK_METHODS else "invalid_arguments"
        return {"ok": False, "error": error, "errors": [str(exc)],
                "response_metadata": {"messages": [f"[ERROR] {exc}"]}}
    return None


def _str(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    return str(value) if value is not None else ""


def _auth_test(s: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "ok": True,
        "url": "https://parthenon-standin.slack.com/",
        "team": "Parthenon (stand-in)",
        "user": "parthenon-bot",
        "team_id": s.team_id,
        "user_id": s.bot_user_id,
        "bot_id": s.bot_id,
        "is_enterprise_install": False,
    }


def _post_message(s: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel_id = _str(args, "channel")
    if not channel_id:
        return {"ok": False, "error": "channel_not_found"}
    text, blocks = _str(args, "text"), args.get("blocks") or []
    if not text and not blocks:
        return {"ok": False, "error": "no_text"}
    metadata = args.get("metadata")
    if metadata is not None and not _valid_metadata(metadata):
        return {"ok": False, "error": "invalid_metadata_format"}
    channel = s.conversation(channel_id)
    if channel.is_private and s.bot_user_id not in channel.members:
        return {"ok": False, "error": "channel_not_found"}  # Slack hides private channels
    thread_ts = _str(args, "thread_ts") or None
    if thread_ts is not None and (channel.id, thread_ts) not in s.messages:
        return {"ok": False, "error": "thread_not_found"}
    message = PostedMessage(channel.id, s.next_ts(), text, list(blocks), thread_ts,
                            s.bot_user_id, metadata=metadata)
    s.messages[(channel.id, message.ts)] = message
    return {"ok": True, "channel": channel.id, "ts": message.ts,
            "message": s.message_body(message)}


def _update(s: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    message = s.messages.get((_str(args, "channel"), _str(args, "ts")))
    if message is None:
        return {"ok": False, "error": "message_not_found"}
    message.edits.append({"text": message.text, "blocks": message.blocks})
    if "text" in args:
        message.text = _str(args, "text")
    if "blocks" in args:
        message.blocks = list(args.get("blocks") or [])
    return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text,
            "message": s.message_body(message)}


def _post_ephemeral(s: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    user = _str(args, "user")
    if not _USER.match(user):
        return {"ok": False, "error": "user_not_found"}
    channel = s.conversation(_str(args, "channel"))
    ts = s.next_ts()
    s.ephemerals.append(Ephemeral(channel.id, user, _str(args, "text"),
                                  list(args.get("blocks") or []), ts))
    return {"ok": True, "message_ts": ts}


def _permalink(s: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel, ts = _str(args, "channel"), _str(args, "message_ts")
    return {"ok": True, "channel": channel,
            "permalink": f"https://parthenon-standin.slack.com/archives/{channel}/p"
                         + ts.replace(".", "")}


def _create(s: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    name = _str(args, "name")
    if not _CHANNEL_NAME.match(name):
        return {"ok": False, "error": "invalid_name_specials"}
    if s.channel_named(name) is not None:
        return {"ok": False, "error": "name_taken"}
    channel = Channel(s.next_id("C"), name, {s.bot_user_id},
                      # JSON true, or a form's "true"/"1" (slack_sdk sends booleans as 1/0)
                      is_private=str(args.get("is_private", "")).lower() in {"true", "1"},
                      created_by=s.bot_user_id)
    s.channels[channel.id] = channel
    return {"ok": True, "channel": s.channel_body(channel)}


def _invite(s: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = s.channels.get(_str(args, "channel"))
    if channel is None:
        return {"ok": False, "error": "channel_not_found"}
    users = [u for u in _str(args, "users").split(",") if u]
    if not users:
        return {"ok": False, "error": "no_user"}
    if s.bot_user_id in users:
        return {"ok": False, "error": "cant_invite_self"}
    if any(not _USER.match(u) for u in users):
        return {"ok": False, "error": "user_not_found"}
    if all(u in channel.members for u in users):
        return {"ok": False, "error": "already_in_channel"}
    channel.members.update(users)
    return {"ok": True, "channel": s.channel_body(channel)}


def _join(s: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = s.conversation(_str(args, "channel"))
    channel.members.add(s.bot_user_id)
    return {"ok": True, "channel": s.channel_body(channel)}


def _info(s: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = s.channels.get(_str(args, "channel"))
    if channel is None:
        return {"ok": False, "error": "channel_not_found"}
    return {"ok": True, "channel": s.channel_body(channel)}


def _pin(s: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    message = s.messages.get((_str(args, "channel"), _str(args, "timestamp")))
    if message is None:
        return {"ok": False, "error": "message_not_found"}
    if message.pinned:
        return {"ok": False, "error": "already_pinned"}
    message.pinned = True
    s.conversation(message.channel).pins.append(message.ts)
    return {"ok": True}


def _view(s: Workspace, method: str, args: dict[str, Any]) -> dict[str, Any]:
    view = args.get("view")
    if not isinstance(view, dict):
        return {"ok": False, "error": "invalid_arguments"}
    trigger = _str(args, "trigger_id") or None
    if method in {"views.open", "views.push"} and not trigger:
        return {"ok": False, "error": "invalid_trigger_id"}
    opened = OpenedView(_str(args, "view_id") or s.next_id("V"), method, view, trigger,
                        _str(args, "user_id") or None)
    s.views.append(opened)
    if method == "views.publish" and opened.user_id:
        s.home[opened.user_id] = view
    body = {"id": opened.id, "team_id": s.team_id, "hash": uuid.uuid4().hex[:16],
            "state": {"values": {}}, **view}
    return {"ok": True, "view": body}


def _users_info(s: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    user = _str(args, "user")
    if not _USER.match(user):
        return {"ok": False, "error": "user_not_found"}
    return {"ok": True, "user": s.user_body(user)}


def _usergroup_users(s: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """usergroups.users.list as Slack answers it: the ids of the user group's members, or
    `no_such_subteam` (a test edits ``s.usergroups`` to change members)."""
    group = _str(args, "usergroup")
    if group not in s.usergroups:
        return {"ok": False, "error": "no_such_subteam"}
    return {"ok": True, "users": sorted(s.usergroups[group])}


def _valid_metadata(metadata: Any) -> bool:
    return (isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
            and bool(metadata["event_type"]) and isinstance(metadata.get("event_payload"), dict))


def _flag(args: dict[str, Any], name: str) -> bool:
    return str(args.get(name, "")).lower() in {"true", "1"}


def _page(
    s: Workspace, args: dict[str, Any], found: list[PostedMessage], *, newest_first: bool
) -> dict[str, Any]:
    """One page of ``found`` as Slack pages a timeline: within (oldest, latest) (inclusive
    when asked), ``limit`` at a time (default 100, at most 999), ``cursor`` from
    ``response_metadata.next_cursor`` (opaque; here base64 of ``next_ts:<ts>``)."""
    try:
        oldest = float(_str(args, "oldest") or 0)
        latest = float(_str(args, "latest") or "inf")
        limit = max(1, min(int(_str(args, "limit") or 100), 999))
    except ValueError:
        return {"ok": False, "error": "invalid_arguments"}
    inclusive = _flag(args, "inclusive")
    def within(ts: float) -> bool:
        return oldest <= ts <= latest if inclusive else oldest < ts < latest

    kept = [m for m in found if within(float(m.ts))]
    kept.sort(key=lambda m: float(m.ts), reverse=newest_first)
    cursor = _str(args, "cursor")
    if cursor:
        try:
            start = base64.b64decode(cursor, validate=True).decode().removeprefix("next_ts:")
            index = next(i for i, m in enumerate(kept) if m.ts == start)
        except (ValueError, StopIteration):
            return {"ok": False, "error": "invalid_cursor"}
        kept = kept[index:]
    page, rest = kept[:limit], kept[limit:]
    with_metadata = _flag(args, "include_all_metadata")
    body: dict[str, Any] = {
        "ok": True,
        "messages": [s.message_body(m, metadata=with_metadata) for m in page],
        "has_more": bool(rest),
    }
    if rest:
        body["response_metadata"] = {
            "next_cursor": base64.b64encode(f"next_ts:{rest[0].ts}".encode()).decode()}
    return body


def _history(s: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Top-level messages of a channel, newest first (thread replies are not in history)."""
    if not _str(args, "channel"):
        return {"ok": False, "error": "channel_not_found"}
    channel = s.conversation(_str(args, "channel"))
    body = _page(s, args, s.channel_messages(channel.id), newest_first=True)
    if body["ok"]:
        body["pin_count"] = len(channel.pins)
    return body


def _replies(s: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """A thread: its parent first, then the replies oldest first (the parent always leads the
    first page; ``oldest``/``latest`` bound the replies)."""
    if not _str(args, "channel"):
        return {"ok": False, "error": "channel_not_found"}
    channel = s.conversation(_str(args, "channel"))
    message = s.messages.get((channel.id, _str(args, "ts")))
    if message is None:
        return {"ok": False, "error": "thread_not_found"}
    parent = s.messages.get((channel.id, message.thread_ts or message.ts)) or message
    body = _page(s, args, s.replies(channel.id, parent.ts), newest_first=False)
    if body["ok"] and not _str(args, "cursor"):
        with_metadata = _flag(args, "include_all_metadata")
        body["messages"].insert(0, s.message_body(parent, metadata=with_metadata))
    return body


METHODS: dict[str, Callable[[Workspace, dict[str, Any]], dict[str, Any]]] = {
    "api.test": lambda s, a: {"ok": True, "args": {}},
    "auth.test": _auth_test,
    "chat.postMessage": _post_message,
    "chat.update": _update,
    "chat.postEphemeral": _post_ephemeral,
    "chat.getPermalink": _permalink,
    "conversations.create": _create,
    "conversations.invite": _invite,
    "conversations.join": _join,
    "conversations.info": _info,
    "conversations.history": _history,
    "conversations.replies": _replies,
    "pins.add": _pin,
    "views.open": lambda s, a: _view(s, "views.open", a),
    "views.push": lambda s, a: _view(s, "views.push", a),
    "views.update": lambda s, a: _view(s, "views.update", a),
    "views.publish": lambda s, a: _view(s, "views.publish", a),
    "users.info": _users_info,
    "usergroups.users.list": _usergroup_users,
}
