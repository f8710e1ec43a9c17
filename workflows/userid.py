"""A Slack user id (`U…`, or `W…` on Enterprise Grid): the one pattern every layer checks.

People are named by id everywhere (config groups, approvals, mentions, payloads): display names
change and can be reused, ids cannot. Pure, so the workflow layer and the bot share it.
"""

from __future__ import annotations

import re

__all__ = ["USER_ID", "USER_ID_PATTERN", "is_user_id"]

USER_ID = r"[UW][A-Z0-9]{2,30}"  # inside a larger pattern (a mention: <@U…>)
USER_ID_PATTERN = rf"^{USER_ID}$"  # a whole value (a pydantic Field pattern)
_WHOLE = re.compile(USER_ID_PATTERN)


def is_user_id(value: str) -> bool:
    return _WHOLE.match(value) is not None
