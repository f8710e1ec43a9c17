"""A request body signed exactly as Slack signs it: v0 HMAC-SHA256 of ``v0:{timestamp}:{body}``
with the app's signing secret (what ``POST /slack/events`` checks before anything else)."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["sign"]


def sign(body: str, timestamp: int, secret: str) -> str:
    """The ``X-Slack-Signature`` of ``body`` sent at ``timestamp`` (seconds)."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()

