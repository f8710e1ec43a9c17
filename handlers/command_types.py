"""The `/parthenon` commands: the typed command each line parses into, the command names, and
the forms of the commands that start no workflow, with what they do.

The grammar (``handlers.grammar``) parses into these; the help (``handlers.command_help``) shows
the same forms, so parser and help never disagree.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "COMMANDS",
    "DIRECT",
    "STATIC_HELP",
    "AbortRun",
    "Command",
    "ExportRun",
    "FreezePromotions",
    "HandOverCommand",
    "ListRuns",
    "PauseRun",
    "ReleaseNode",
    "ResumeRun",
    "ShowHealth",
    "ShowHelp",
    "ShowStatus",
    "StartRun",
    "TakeOverRun",
    "UnfreezePromotions",
]


class _Cmd(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShowHelp(_Cmd):
    kind: Literal["help"] = "help"
    topic: str | None = None


class StartRun(_Cmd):
    kind: Literal["start"] = "start"
    command: str  # what was typed: promote, incident, drill...
    workflow: str
    params: dict[str, str]


class ShowStatus(_Cmd):
    kind: Literal["status"] = "status"
    run_id: str | None = None


class ListRuns(_Cmd):
    kind: Literal["runs"] = "runs"


class ExportRun(_Cmd):
    kind: Literal["export"] = "export"
    run_id: str


class ShowHealth(_Cmd):
    kind: Literal["health"] = "health"
    environment: str


class ReleaseNode(_Cmd):
    kind: Literal["release-node"] = "release-node"
    node: str


class PauseRun(_Cmd):
    kind: Literal["pause"] = "pause"
    run_id: str
    reason: str | None = None


class ResumeRun(_Cmd):
    kind: Literal["resume"] = "resume"
    run_id: str


class AbortRun(_Cmd):
    kind: Literal["abort"] = "abort"
    run_id: str
    reason: str | None = None  # None: a modal asks for it


class TakeOverRun(_Cmd):
    kind: Literal["takeover"] = "takeover"
    run_id: str
    reason: str


class FreezePromotions(_Cmd):
    kind: Literal["freeze"] = "freeze"
    reason: str
    environment: str | None = None  # None: every environment


class UnfreezePromotions(_Cmd):
    kind: Literal["unfreeze"] = "unfreeze"
    environment: str | None = None  # None: every freeze


class HandOverCommand(_Cmd):
    kind: Literal["commander"] = "commander"
    run_id: str
    user: str


Command = (
    ShowHelp | StartRun | ShowStatus | ListRuns | ExportRun | ShowHealth | PauseRun | ResumeRun
    | AbortRun | FreezePromotions | UnfreezePromotions | HandOverCommand | ReleaseNode
    | TakeOverRun
)


# Commands that start one workflow of the same name.
DIRECT = ("promote", "rollback", "maintenance", "backup", "startup-check")

# The commands that start no workflow: name -> (form, what it does).
STATIC_HELP: dict[str, tuple[str, str]] = {
    "help": ("help [command]", "All commands, or one command's own help."),
    "status": ("status [run-id]", "The active runs, or one run's card (only you see it)."),
    "runs": ("runs", "Active and recent runs, and the drills with their next due dates."),
    "export": (
        "export <run-id>",
        "Post the run's incident log (Markdown: timeline in UTC with who did what, severity, "
        "root cause, remediation, follow-ups) in its thread.",
    ),
    "health": (
        "health <environment>",
        "Each node judged as a health gate judges it: ok, failing and why (wrong chain, "
        "down, too few peers, syncing, tip behind), or refused by the network guard.",
    ),
    "pause": ("pause <run-id> [reason]", "Pause a run; nothing new starts until it is resumed."),
    "resume": ("resume <run-id>", "Resume a paused run."),
    "abort": ("abort <run-id> [reason]", "Abort a run; without a reason a form asks for one."),
    "takeover": (
        "takeover <run-id> <reason>",
        "Take the environment locks of a run away from it (it is paused first), so that an "
        "incident or rollback can write there; its environments' takeover approvers only.",
    ),
    "freeze": (
        "freeze [environment=<name>] <reason>",
        "Freeze promotions (to one environment, or all): none starts, and running ones pause "
        "before their next write step. Said in the ops channel.",
    ),
    "unfreeze": (
        "unfreeze [environment]",
        "Lift the promotion freeze (every one, or one environment's); what it paused resumes.",
    ),
    "commander": (
        "commander <run-id> <@user or member id>",
        "Hand an incident's command to someone (the commander or an operator of the run).",
    ),
    "release-node": (
        "release-node <node>",
        "Release a node the network guard refused (wrong genesis): its genesis is asked again "
        "first, and a node still on the wrong chain stays refused. Operators of its "
        "environment only.",
    ),
}

COMMANDS = (
    "help", *DIRECT, "incident", "drill", "status", "runs", "export", "health", "pause", "resume",
    "abort", "takeover", "freeze", "unfreeze", "commander", "release-node",
)
