"""The demo's people: six Slack user ids in the groups the runbook's workflows ask for.

Ids, never names, are what the config and the approvals use; the console shows both.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEMO_USERS", "GROUPS", "DemoUser", "find_user"]


@dataclass(frozen=True)
class DemoUser:
    name: str
    id: str
    role: str
    groups: tuple[str, ...]


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("ana", "U0DEMOINIT", "initiator, operator", ("operators",)),
    DemoUser("ben", "U0DEMORM01", "release manager", ("release-managers",)),
    DemoUser("cleo", "U0DEMORM02", "release manager", ("release-managers",)),
    DemoUser("dev", "U0DEMORM03", "release manager", ("release-managers",)),
    DemoUser("sam", "U0DEMOSEC1", "security engineer", ("security",)),
    DemoUser("rita", "U0DEMORESP", "incident responder, operator", ("operators", "responders")),
)

#: group -> member ids, as the generated config lists them
GROUPS: dict[str, list[str]] = {
    group: [u.id for u in DEMO_USERS if group in u.groups]
    for group in ("operators", "release-managers", "security", "responders")
}


def find_user(name_or_id: str) -> DemoUser | None:
    """A demo user by name (any case, a leading @ allowed) or by Slack id."""
    wanted = name_or_id.strip().removeprefix("@")
    for user in DEMO_USERS:
        if wanted.lower() == user.name or wanted.upper() == user.id:
            return user
    return None
