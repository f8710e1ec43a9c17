"""Every Redis key name the workflow layer and its Slack side use, in one place; only the store
modules read and write them (``workflows.store`` and its parts, ``cardstore``, ``drillstore``,
``freezes``, ``announcements``, ``names``).

Keys of one run carry the run id as a hash tag (``pcb:{<run>}:...``) so they share a Cluster slot
and one Lua script can change them together. Global indexes are single keys, never written in the
same script as a run's keys; they are only hints that may wake a run early, never late.
"""

from __future__ import annotations

__all__ = [
    "ACTIVE",
    "ANNOUNCEMENTS",
    "ANNOUNCEMENTS_LOCK",
    "ARCHIVED",
    "CARDS",
    "DRILL_REMINDERS",
    "DRILL_SINCE",
    "DUE",
    "FINISHED",
    "FINISHED_ADOPTED",
    "FREEZE",
    "FREEZES",
    "FREEZE_LIFTING",
    "FREEZE_LOG",
    "PAGES_OPEN",
    "PREFIX",
    "RECENT",
    "REFUSED_STARTS",
    "USERGROUPS",
    "RunKeys",
    "api_rate_key",
    "card_lock_key",
    "display_name_key",
    "drill_reminded_key",
    "export_mark_key",
    "lock_key",
    "posting_key",
    "record_key",
    "requests_key",
    "start_key",
]

PREFIX = "pcb"
DUE = f"{PREFIX}:due"  # zset: run id -> when it next needs a worker (ms since epoch)
ACTIVE = f"{PREFIX}:runs:active"  # zset: run id -> created (ms)
RECENT = f"{PREFIX}:runs:recent"  # zset: run id -> finished (ms), trimmed
FINISHED = f"{PREFIX}:runs:finished"  # zset: run id -> finished (ms), until it is archived
FINISHED_ADOPTED = f"{PREFIX}:runs:finished:adopted"  # string: set once runs stored before
#   the finished index existed were put in it (a one-time SCAN)
ARCHIVED = f"{PREFIX}:runs:archived"  # zset: run id -> finished (ms), the last archived, trimmed
CARDS = f"{PREFIX}:cards"  # zset: run id -> when its Slack card / outbox became dirty (ms)
FREEZE = f"{PREFIX}:freeze"  # string: JSON of the promotion freeze, absent when none
REFUSED_STARTS = f"{PREFIX}:audit:refused-starts"  # stream: refused starts (no run of their own)
DRILL_SINCE = f"{PREFIX}:drills:since"  # string: ISO time the drill schedule started
USERGROUPS = f"{PREFIX}:usergroups"  # hash: group -> JSON members of its Slack user group
PAGES_OPEN = f"{PREFIX}:pages:open"  # set: incident run ids whose on-call page may be open
DRILL_REMINDERS = f"{PREFIX}:drills:reminders"  # list: JSON drill reminders for Slack to post
FREEZES = f"{PREFIX}:freezes"  # hash: freeze id -> JSON of a one-environment freeze
FREEZE_LOG = f"{PREFIX}:freezes:log"  # stream: every freeze set and lifted
FREEZE_LIFTING = f"{PREFIX}:freezes:lifting"  # hash: id -> JSON of a freeze lifted whose runs
#   are still being released (a crash in between leaves it here for the keeper)
ANNOUNCEMENTS = f"{PREFIX}:announce"  # list: JSON announcements for the ops channel
ANNOUNCEMENTS_LOCK = f"{ANNOUNCEMENTS}:lock"  # string: the replica posting them (with a TTL)


def display_name_key(user: str) -> str:
    """string (with a TTL): the name a Slack user goes by, cached for exported logs."""
    return f"{PREFIX}:username:{user}"


def card_lock_key(run_id: str) -> str:
    """string (with a TTL): the replica working on the run's card; next to the card's key."""
    return f"{RunKeys(run_id).card}:lock"


def requests_key(run_id: str) -> str:
    """hash: the request messages with buttons posted in the run's thread and not yet settled."""
    return f"{RunKeys(run_id).card}:requests"


def posting_key(run_id: str) -> str:
    """hash: role -> intent of a message being posted (bot.slack.postonce), and "notes": how
    many thread notifications were posted."""
    return f"{RunKeys(run_id).card}:posting"


def export_mark_key(run_id: str, dedup: str) -> str:
    """string (NX, with a TTL): an export request taken; next to the run's card keys."""
    return f"{RunKeys(run_id).card}:export:{dedup}"


def record_key(name: str) -> str:
    """Named records a run keeps beyond itself (release metadata, drill results)."""
    return f"{PREFIX}:record:{name}"


def drill_reminded_key(kind: str, due_at: str, period: int) -> str:
    """Set (NX, with a TTL) when a reminder for one drill's due date and period was queued."""
    return f"{PREFIX}:drills:reminded:{kind}:{due_at}:{period}"


def lock_key(environment: str) -> str:
    """string: the id of the run that holds the environment's lock (no TTL: it lives as long as
    its run is active, and is persisted like the runs). Taken and released in the run's commit
    script on one server; just before and after it on Cluster (another slot)."""
    return f"{PREFIX}:lock:{environment}"


def api_rate_key(token: str, window: int) -> str:
    """counter (with a TTL): requests of one run-API token in one minute window."""
    return f"{PREFIX}:api:rate:{token}:{window}"


def start_key(dedup_key: str) -> str:
    """Reserves a run id for a delivered start command, so a redelivery starts nothing new."""
    return f"{PREFIX}:start:{dedup_key}"


class RunKeys:
    """The keys of one run, all in the run's hash slot."""

    __slots__ = ("audit", "card", "fence", "lease", "ledger", "outbox", "run", "run_id", "seen")

    def __init__(self, run_id: str) -> None:
        tag = f"{PREFIX}:{{{run_id}}}"
        self.run_id = run_id
        self.run = f"{tag}:run"  # hash: v (version), doc (JSON of the Run)
        self.audit = f"{tag}:audit"  # stream: every accepted event and every refusal
        self.ledger = f"{tag}:ledger"  # hash: "<step>#<attempt>" -> intent/outcome JSON
        self.lease = f"{tag}:lease"  # string: "<worker>:<token>", with a TTL
        self.fence = f"{tag}:fence"  # counter: fencing tokens
        self.seen = f"{tag}:seen"  # hash: dedup key of a delivered command -> result
        self.outbox = f"{tag}:outbox"  # list: notifications for the run's thread
        self.card = f"{tag}:card"  # hash: channel, ts of the run's Slack message (its card)
        # The card store keeps a few keys under ``card`` + a suffix (its lock, its open
        # request messages, posting intents, export marks): the same hash tag, the same slot.

    def owned(self) -> list[str]:
        """Every key the run owns that has no TTL of its own: the archiver deletes these, in
        one script, once the run is written to the archive. A new key kept per run without a
        TTL must be listed here, or it outlives its run. (Export marks expire by themselves.)"""
        return [
            self.run, self.audit, self.ledger, self.lease, self.fence, self.seen, self.outbox,
            self.card, card_lock_key(self.run_id), requests_key(self.run_id),
            posting_key(self.run_id),
        ]
