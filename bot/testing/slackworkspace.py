"""What the Slack stand-in's workspace keeps (``bot.testing.standin`` serves it): messages by
channel and ts with their blocks, edits and ``metadata``, thread replies, ephemeral messages,
modals and App Home views, channels with their members and pins, users and user groups; and how
Slack shows them in its answers (a message, a channel, a user).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Channel", "Ephemeral", "OpenedView", "PostedMessage", "Workspace"]


@dataclass
class PostedMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    user: str = ""
    edits: list[dict[str, Any]] = field(default_factory=list)  # earlier versions, oldest first
    pinned: bool = False
    metadata: dict[str, Any] | None = None  # {"event_type": ..., "event_payload": {...}}

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    message_ts: str


@dataclass
class OpenedView:
    id: str
    method: str  # views.open | views.push | views.update | views.publish
    view: dict[str, Any]
    trigger_id: str | None = None
    user_id: str | None = None


@dataclass
class Channel:
    id: str
    name: str
    members: set[str] = field(default_factory=set)
    pins: list[str] = field(default_factory=list)
    is_private: bool = False
    created_by: str | None = None


class Workspace:
    """One team's messages, views, channels and people, as the stand-in's calls left them."""

    def __init__(
        self,
        *,
        team_id: str,
        bot_user_id: str,
        bot_id: str,
        users: dict[str, str] | None,
    ) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.users: dict[str, str] = dict(users or {})
        self.usergroups: dict[str, set[str]] = {}  # user group id (S...) -> its members
        self.messages: dict[tuple[str, str], PostedMessage] = {}
        self.ephemerals: list[Ephemeral] = []
        self.views: list[OpenedView] = []
        self.home: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, Channel] = {}
        self._ts = itertools.count(100)
        self._ids = itertools.count(1)
        self._epoch = int(time.time())
        self._second = self._epoch

    def add_channel(self, channel_id: str, name: str, members: set[str] | None = None) -> Channel:
        channel = Channel(channel_id, name, set(members or set()))
        self.channels[channel_id] = channel
        return channel

    # --- queries -----------------------------------------------------------------------------

    def channel_messages(self, channel: str) -> list[PostedMessage]:
        """Top-level messages of a channel, oldest first."""
        found = [m for (c, _), m in self.messages.items() if c == channel and not m.is_reply]
        return sorted(found, key=lambda m: float(m.ts))

    def replies(self, channel: str, thread_ts: str) -> list[PostedMessage]:
        found = [
            m for (c, _), m in self.messages.items()
            if c == channel and m.is_reply and m.thread_ts == thread_ts
        ]
        return sorted(found, key=lambda m: float(m.ts))

    def message(self, channel: str, ts: str) -> PostedMessage | None:
        return self.messages.get((channel, ts))

    def channel_named(self, name: str) -> Channel | None:
        return next((c for c in self.channels.values() if c.name == name), None)

    def opened(self, callback_id: str | None = None) -> list[OpenedView]:
        return [
            v for v in self.views
            if v.method == "views.open"
            and (callback_id is None or v.view.get("callback_id") == callback_id)
        ]

    # --- what the Web API methods use --------------------------------------------------------

    def next_ts(self) -> str:
        """Like Slack's: the wall-clock second, unique and increasing within the workspace."""
        self._second = max(self._second, int(time.time()))
        return f"{self._second}.{next(self._ts):06d}"

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def conversation(self, channel_id: str) -> Channel:
        """Any well-formed id is a channel the bot is in (a user id is the DM with that user)."""
        channel = self.channels.get(channel_id)
        if channel is None:
            channel = Channel(channel_id, channel_id.lower(), {self.bot_user_id})
            self.channels[channel_id] = channel
        return channel

    def message_body(
        self, message: PostedMessage, *, metadata: bool = True
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": message.text,
            "ts": message.ts,
            "team": self.team_id,
            "blocks": message.blocks,
        }
        if message.thread_ts is not None:
            body["thread_ts"] = message.thread_ts
        elif any(m.thread_ts == message.ts for m in self.messages.values() if m.is_reply):
            body["thread_ts"] = message.ts
            body["reply_count"] = sum(
                1 for (c, _), m in self.messages.items()
                if c == message.channel and m.is_reply and m.thread_ts == message.ts
            )
        if metadata and message.metadata is not None:
            body["metadata"] = message.metadata
        return body

    def channel_body(self, channel: Channel) -> dict[str, Any]:
        return {
            "id": channel.id,
            "name": channel.name,
            # As Slack answers for channels made since 2021: a private one is a channel (a C id),
            # is_private says so; is_group is only for the old G... private groups.
            "is_channel": True,
            "is_group": False,
            "is_private": channel.is_private,
            "is_member": self.bot_user_id in channel.members,
            "created": self._epoch,
            "creator": channel.created_by or self.bot_user_id,
            "num_members": len(channel.members),
        }

    def user_body(self, user_id: str) -> dict[str, Any]:
        name = self.users.get(user_id, user_id.lower())
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name.title(),
            "tz": "Etc/UTC",
            "is_bot": user_id == self.bot_user_id,
            "deleted": False,
            "profile": {"display_name": name, "real_name": name.title()},
        }
