"""Slack payloads parsed into the few fields a listener uses; a payload without them is a
``BadPayload`` (answered as a known error), never a KeyError."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.slack.errors import BadPayload
from bot.slack.payloads import ButtonValue, ModalMetadata
from workflows.userid import USER_ID_PATTERN

__all__ = ["ActionPayload", "CommandPayload", "ViewPayload"]

_USER = USER_ID_PATTERN


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class CommandPayload(_Payload):
    user_id: str = Field(pattern=_USER)
    channel_id: str = Field(min_length=1, max_length=40)
    text: str = ""
    trigger_id: str = Field(min_length=1, max_length=200)
    response_url: str | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> CommandPayload:
        try:
            return cls.model_validate(body)
        except ValidationError:
            raise BadPayload("this command arrived without a user, channel or trigger") from None


class ActionPayload(_Payload):
    user_id: str = Field(pattern=_USER)
    value: ButtonValue
    trigger_id: str | None = None
    channel_id: str | None = None
    message_ts: str | None = None
    response_url: str | None = None
    action_ts: str | None = Field(default=None, max_length=40)

    @property
    def delivery(self) -> str:
        """What identifies this press, so that Slack delivering it again applies it once while
        a second press (the same button, on purpose or not) is a press of its own: the action's
        ``action_ts``, else the ``trigger_id``; only a payload with neither falls back to the
        card version the button showed."""
        return f"{self.user_id}:{self.action_ts or self.trigger_id or f'v{self.value.v}'}"

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ActionPayload:
        try:
            action = (body.get("actions") or [{}])[0]
            container = body.get("container") or {}
            channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
            return cls(
                user_id=(body.get("user") or {}).get("id", ""),
                value=ButtonValue.parse(action.get("value")),
                trigger_id=body.get("trigger_id"),
                channel_id=channel,
                message_ts=container.get("message_ts"),
                response_url=body.get("response_url"),
                action_ts=action.get("action_ts"),
            )
        except (ValidationError, AttributeError, TypeError, IndexError, KeyError):
            raise BadPayload("this click arrived without a user or a readable button") from None


class ViewPayload(_Payload):
    user_id: str = Field(pattern=_USER)
    view_id: str | None = None
    meta: ModalMetadata
    values: dict[str, dict[str, str | None]]

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ViewPayload:
        try:
            view = body.get("view") or {}
            raw = (view.get("state") or {}).get("values") or {}
            values = {
                block: {action: _typed(v) for action, v in actions.items()}
                for block, actions in raw.items()
            }
            return cls(
                user_id=(body.get("user") or {}).get("id", ""),
                view_id=view.get("id"),
                meta=ModalMetadata.parse(view.get("private_metadata")),
                values=values,
            )
        except (ValidationError, AttributeError, TypeError):
            raise BadPayload("this form arrived without a user or readable data") from None

    @property
    def delivery(self) -> str:
        """What identifies this submission: the modal (one view per press of the button that
        opened it), so Slack delivering it again applies it once."""
        return f"{self.user_id}:{self.view_id or self.meta.dump()}"

    def value(self, block_id: str, action_id: str) -> str:
        return (self.values.get(block_id, {}).get(action_id) or "").strip()


def _typed(state: dict[str, Any] | None) -> str | None:
    """What an input holds: a text input's value, a select's chosen option."""
    state = state or {}
    if "selected_option" in state:
        return (state.get("selected_option") or {}).get("value")
    return state.get("value")
