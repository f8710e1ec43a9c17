"""What the bot puts into buttons and modals, and reads back: small validated models.

A button's ``value`` (at most 2000 characters) says which run, step, plan and card version it
was rendered for; a modal's ``private_metadata`` carries the same plus where to answer. Anything
that does not parse is a ``BadPayload``, never a crash.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.slack.errors import BadPayload

__all__ = ["ButtonValue", "ModalMetadata"]

_RUN_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_STEP_ID = r"^[a-z0-9][a-z0-9.-]{0,127}$"
_WORKFLOW = r"^[a-z0-9][a-z0-9-]{0,62}$"


class _Compact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def dump(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    @classmethod
    def parse(cls, raw: object) -> Self:
        if not isinstance(raw, str) or not raw or len(raw) > 3000:
            raise BadPayload("this button or form carries no readable data; reopen the run card")
        try:
            return cls.model_validate_json(raw)
        except ValidationError:
            raise BadPayload(
                "this button or form carries data the bot did not write; reopen the run card"
            ) from None


class ButtonValue(_Compact):
    """r: run id, s: step id, h: plan hash shown, n: step visit shown, v: run version shown,
    w: a workflow to start (offers and drills)."""

    r: str | None = Field(default=None, pattern=_RUN_ID)
    s: str | None = Field(default=None, pattern=_STEP_ID)
    h: str | None = Field(default=None, max_length=64)
    n: int = Field(default=0, ge=0)
    v: int = Field(default=0, ge=0)
    w: str | None = Field(default=None, pattern=_WORKFLOW)

    def run_id(self) -> str:
        if self.r is None:
            raise BadPayload("this button does not say which run it is for")
        return self.r

    def step_id(self) -> str:
        if self.s is None:
            raise BadPayload("this button does not say which step it is for")
        return self.s


class ModalMetadata(_Compact):
    """The button that opened the modal, and where to answer (channel, the card's message)."""

    b: ButtonValue
    c: str | None = Field(default=None, max_length=40)
