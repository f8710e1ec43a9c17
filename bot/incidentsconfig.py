"""The config's ``incidents:`` block: which incident channels are private, who else is invited,
and what each severity does.

```yaml
incidents:
  private: {key-compromise: true, supply-chain: true, release: false}
  invite: [security]
  severity:
    sev1: {freeze: true, pause: true, page: true}
    sev2: {freeze: true, pause: true}
    sev3: {freeze: false, pause: false}
    sev4: {freeze: false, pause: false}
```

Every key is optional; what is not given keeps the default shown (the runbook's: security
incidents are handled in private channels with security in them; sev1 and sev2 freeze promotions
to the incident's environment and pause the running ones there before their next write step;
sev1 pages the on-call through `paging:`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "DEFAULT_PRIVATE",
    "DEFAULT_SEVERITY",
    "IncidentsConfig",
    "SeverityRule",
    "incident_kind",
]

_KIND = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
_SEVERITY = re.compile(r"^sev[1-9]$")
DEFAULT_PRIVATE: dict[str, bool] = {"key-compromise": True, "supply-chain": True,
                                    "release": False}
DEFAULT_SEVERITY: dict[str, dict[str, bool]] = {
    "sev1": {"freeze": True, "pause": True, "page": True},
    "sev2": {"freeze": True, "pause": True},
    "sev3": {"freeze": False, "pause": False},
    "sev4": {"freeze": False, "pause": False},
}


def incident_kind(workflow: str) -> str:
    """``incident-key-compromise`` -> ``key-compromise`` (what `/parthenon incident` takes)."""
    return workflow.removeprefix("incident-")


class SeverityRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    freeze: bool = False  # freeze promotions to the incident's environment while it runs
    pause: bool = False  # pause running promotions there before their next write step
    page: bool = False  # page the on-call through the config's `paging:` (bot.pager)

    @model_validator(mode="after")
    def _pause_needs_freeze(self) -> SeverityRule:
        if self.pause and not self.freeze:
            raise PydanticCustomError(
                "invalid", "pause: true needs freeze: true (the freeze is what holds the runs "
                "and what lifting resumes them)")
        return self


class IncidentsConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    private: dict[str, bool] = Field(default_factory=lambda: dict(DEFAULT_PRIVATE))
    invite: tuple[str, ...] | None = None  # None: `security`, when that group is defined
    severity: dict[str, SeverityRule] = Field(
        default_factory=lambda: {k: SeverityRule(**v) for k, v in DEFAULT_SEVERITY.items()})

    @field_validator("private", mode="before")
    @classmethod
    def _private(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        for kind in value:
            if not isinstance(kind, str) or not _KIND.match(kind):
                raise PydanticCustomError(
                    "bad_name", f"incident kind {str(kind)[:60]!r}: the name `/parthenon "
                    "incident` takes, such as key-compromise")
        return {**DEFAULT_PRIVATE, **value}

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        for name in value:
            if not isinstance(name, str) or not _SEVERITY.match(name):
                raise PydanticCustomError(
                    "bad_name", f"severity {str(name)[:60]!r}: sev1 to sev9")
        return {**DEFAULT_SEVERITY, **value}

    def is_private(self, workflow: str) -> bool:
        return self.private.get(incident_kind(workflow), False)

    def invite_groups(self, defined: set[str] | frozenset[str]) -> tuple[str, ...]:
        if self.invite is not None:
            return self.invite
        return ("security",) if "security" in defined else ()

    def pages(self, severity: str) -> bool:
        rule = self.severity.get(severity)
        return rule is not None and rule.page

    def severity_action(self, severity: str) -> tuple[bool, bool]:
        rule = self.severity.get(severity)
        return (rule.freeze, rule.pause) if rule is not None else (False, False)
