"""The config's `paging:` block: where the bot pages the on-call for an incident whose severity
pages (`incidents.severity.<sev>.page`, sev1 by default).

```yaml
paging:
  pagerduty:                        # PagerDuty Events API v2
    routing_key_env: PAGERDUTY_ROUTING_KEY   # or routing_key_file
  # or a generic endpoint, signed like the deploy webhook (X-Parthenon-Signature):
  # webhook: {url: "https://oncall.example.internal/page", secret_env: PAGING_SECRET}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, model_validator

from bot.secrets import resolve_secret

__all__ = ["PAGERDUTY_EVENTS_URL", "PagerDutyConfig", "PagingConfig", "PagingWebhookConfig"]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class PagerDutyConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    routing_key_env: str | None = None
    routing_key_file: Path | None = None
    routing_key: SecretStr
    url: str = PAGERDUTY_EVENTS_URL  # another region's endpoint, or a local receiver in tests
    timeout: float = Field(default=10.0, gt=0, le=60)

    @model_validator(mode="before")
    @classmethod
    def _resolve(cls, data: Any, info: ValidationInfo) -> Any:
        return resolve_secret(data, info, target="routing_key", what="PagerDuty routing key")


class PagingWebhookConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    secret_env: str | None = None
    secret_file: Path | None = None
    secret: SecretStr
    timeout: float = Field(default=10.0, gt=0, le=60)

    @model_validator(mode="before")
    @classmethod
    def _resolve(cls, data: Any, info: ValidationInfo) -> Any:
        return resolve_secret(data, info, target="secret", what="paging webhook secret")


class PagingConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    pagerduty: PagerDutyConfig | None = None
    webhook: PagingWebhookConfig | None = None

    @model_validator(mode="after")
    def _one(self) -> PagingConfig:
        if (self.pagerduty is None) == (self.webhook is None):
            raise ValueError("paging needs exactly one of pagerduty or webhook")
        for url in (self.pagerduty.url if self.pagerduty else None,
                    self.webhook.url if self.webhook else None):
            if url is not None and not url.startswith(("https://", "http://")):
                raise ValueError("a paging url is http(s)")
        return self

    @property
    def via(self) -> str:
        return "pagerduty" if self.pagerduty is not None else "webhook"
