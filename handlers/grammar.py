"""The `/parthenon` grammar: text in, a typed command out, or a `GrammarError` with the form.

Pure: no Slack, no Redis. The workflow commands take their forms from the workflow definitions
(parameters in order, as `workflows.planner.usage` prints them), so the grammar, the help and the
definitions never disagree. Values are only split here; the service checks them against the
definition (patterns, choices) and says what was wrong with the same usage line.

Positional arguments fill the required parameters in order, then the optional ones left to right;
`name=value` sets any parameter by name. A last parameter without pattern or choices is free text
and takes the rest of the line (an incident's summary).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.slack.errors import GrammarError
from workflows.definition import Definition
from workflows.planner import usage as definition_usage
from workflows.userid import USER_ID

__all__ = [
    "AbortRun",
    "Catalog",
    "Command",
    "ExportRun",
    "FreezePromotions",
    "HandOverCommand",
    "ListRuns",
    "ParamForm",
    "PauseRun",
    "ReleaseNode",
    "ResumeRun",
    "ShowHealth",
    "ShowHelp",
    "ShowStatus",
    "StartRun",
    "TakeOverRun",
    "UnfreezePromotions",
    "WorkflowForm",
    "help_for",
    "parse",
]

#: Parameters whose value is prose: unquoted, it takes the rest of the line.
FREE_TEXT_NAMES = frozenset(
    {"summary", "reason", "description", "details", "note", "notes", "message", "comment"}
)
MAX_TEXT = 4000
MAX_REASON = 1000
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_USER_REF = re.compile(rf"<@({USER_ID})(?:\|[^>]*)?>|({USER_ID})")
_KEY_VALUE = re.compile(r"^([a-z][a-z0-9_]*)=(.*)$", re.DOTALL)
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019"}


# --- the commands ------------------------------------------------------------------------------


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


# --- the catalog of workflow forms -------------------------------------------------------------


@dataclass(frozen=True)
class ParamForm:
    name: str
    required: bool
    free_text: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkflowForm:
    name: str
    title: str
    description: str
    category: str
    params: tuple[ParamForm, ...]
    usage: str  # "promote <version> <git_sha> [config_checksum] <testnet|mainnet>"


@dataclass(frozen=True)
class Catalog:
    """The workflow forms the loaded definitions allow."""

    workflows: Mapping[str, WorkflowForm] = field(default_factory=dict)

    @classmethod
    def from_definitions(cls, definitions: Mapping[str, Definition]) -> Catalog:
        forms: dict[str, WorkflowForm] = {}
        for name, defn in definitions.items():
            params = []
            specs = defn.parameters
            for index, spec in enumerate(specs):
                later_required = any(
                    p.required and p.default is None for p in specs[index + 1 :]
                )
                params.append(
                    ParamForm(
                        name=spec.name,
                        required=spec.required and spec.default is None,
                        free_text=spec.name in FREE_TEXT_NAMES and spec.pattern is None
                        and not spec.choices and not later_required,
                        help=spec.help,
                        choices=tuple(spec.choices or ()),
                    )
                )
            forms[name] = WorkflowForm(
                name=name,
                title=defn.title,
                description=defn.description,
                category=defn.category,
                params=tuple(params),
                usage=definition_usage(defn),
            )
        return cls(forms)

    def kinds(self, prefix: str) -> dict[str, str]:
        """`incident-key-compromise` -> {"key-compromise": "incident-key-compromise"}."""
        return {
            name.removeprefix(prefix): name
            for name in sorted(self.workflows)
            if name.startswith(prefix) and len(name) > len(prefix)
        }

    def drills(self) -> dict[str, str]:
        """Drill kind -> workflow: `drill-x`, `x-drill`, or any workflow of category drill."""
        found: dict[str, str] = {}
        for name, form in sorted(self.workflows.items()):
            if name.startswith("drill-"):
                found[name.removeprefix("drill-")] = name
            elif name.endswith("-drill"):
                found[name.removesuffix("-drill")] = name
            elif form.category == "drill":
                found[name] = name
        return found


# Commands that start one workflow of the same name.
_DIRECT = ("promote", "rollback", "maintenance", "backup", "startup-check")

_STATIC_HELP: dict[str, tuple[str, str]] = {
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
    "help", *_DIRECT, "incident", "drill", "status", "runs", "export", "health", "pause", "resume",
    "abort", "takeover", "freeze", "unfreeze", "commander", "release-node",
)


# --- tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    value: str
    start: int  # offsets of the token in the text, quotes included
    end: int
    quoted: bool = False


def _unescape(text: str) -> str:
    """Slack sends &, <, > of a command's text as entities; the grammar sees what was typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        closing = _QUOTES.get(text[i])
        if closing is not None:
            end = text.find(closing, i + 1)
            if end == -1:
                raise GrammarError(f"a quote opened at character {i + 1} is never closed")
            tokens.append(_Token(text[i + 1 : end], start, end + 1, quoted=True))
            i = end + 1
            continue
        while i < n and not text[i].isspace():
            i += 1
        tokens.append(_Token(text[start:i], start, i))
    return tokens


def _rest(text: str, tokens: list[_Token], index: int) -> str:
    """The raw text from token ``index`` to the end (free text keeps its spacing and quotes)."""
    if index >= len(tokens):
        return ""
    rest = text[tokens[index].start :].strip()
    if len(tokens) - index == 1:
        return tokens[index].value.strip()
    return rest


def _reason(text: str, tokens: list[_Token], index: int, what: str, usage: str) -> str | None:
    reason = _rest(text, tokens, index)
    if len(reason) > MAX_REASON:
        raise GrammarError(f"the {what} is longer than {MAX_REASON} characters", usage)
    return reason or None


# --- parsing -----------------------------------------------------------------------------------


def parse(text: str, catalog: Catalog) -> Command:
    """One `/parthenon` command line -> a command; anything else -> GrammarError."""
    if len(text) > MAX_TEXT:
        raise GrammarError(f"the command is longer than {MAX_TEXT} characters", "help")
    text = _unescape(text).strip()
    tokens = _tokens(text)
    if not tokens:
        return ShowHelp()
    name = tokens[0].value.lower()
    args = tokens[1:]
    if name in {"help", "-h", "--help", "?"}:
        if not args:
            return ShowHelp()
        topic = args[0].value.lower()
        if topic not in COMMANDS:
            raise GrammarError(f"there is no command {args[0].value!r}", "help")
        return ShowHelp(topic=topic)
    if name not in COMMANDS:
        raise GrammarError(f"there is no command {tokens[0].value!r}", "help")
    if args and args[0].value.lower() in {"help", "-h", "--help"}:
        return ShowHelp(topic=name)
    if name in _DIRECT:
        return _start(name, name, text, tokens, 1, catalog)
    if name == "incident":
        return _kind_start("incident", catalog.kinds("incident-"), text, tokens, catalog)
    if name == "drill":
        return _kind_start("drill", catalog.drills(), text, tokens, catalog)
    return _operation(name, text, tokens)


def _operation(name: str, text: str, tokens: list[_Token]) -> Command:
    form = _STATIC_HELP[name][0]
    args = tokens[1:]
    if name == "runs":
        if args:
            raise GrammarError("runs takes no arguments", form)
        return ListRuns()
    if name == "unfreeze":
        if len(args) > 1:
            raise GrammarError("unfreeze takes at most one environment", form)
        if args and not _NAME.match(args[0].value):
            raise GrammarError(f"{args[0].value!r} is not an environment name", form)
        return UnfreezePromotions(environment=args[0].value if args else None)
    if name == "freeze":
        environment, first = None, 1
        if args and args[0].value.lower().startswith(("environment=", "env=")):
            environment = args[0].value.split("=", 1)[1]
            if not _NAME.match(environment):
                raise GrammarError(f"{environment!r} is not an environment name", form)
            first = 2
        reason = _reason(text, tokens, first, "reason", form)
        if reason is None:
            raise GrammarError("a freeze needs a reason", form)
        return FreezePromotions(reason=reason, environment=environment)
    if name == "commander":
        if len(args) != 2:
            raise GrammarError("commander needs a run id and a person", form)
        return HandOverCommand(run_id=_run_id(args[0].value, form),
                               user=_user_id(args[1].value, form))
    if name == "status":
        if len(args) > 1:
            raise GrammarError("status takes at most one run id", form)
        return ShowStatus(run_id=_run_id(args[0].value, form) if args else None)
    if name == "health":
        if len(args) != 1:
            raise GrammarError("health needs exactly one environment", form)
        if not _NAME.match(args[0].value):
            raise GrammarError(f"{args[0].value!r} is not an environment name", form)
        return ShowHealth(environment=args[0].value)
    if name == "release-node":
        if len(args) != 1:
            raise GrammarError("release-node needs exactly one node name", form)
        if not _NAME.match(args[0].value):
            raise GrammarError(f"{args[0].value!r} is not a node name", form)
        return ReleaseNode(node=args[0].value)
    if name == "export":
        if len(args) != 1:
            raise GrammarError("export needs exactly one run id", form)
        return ExportRun(run_id=_run_id(args[0].value, form))
    if not args:
        raise GrammarError(f"{name} needs a run id", form)
    run_id = _run_id(args[0].value, form)
    if name == "resume":
        if len(args) > 1:
            raise GrammarError("resume takes only a run id", form)
        return ResumeRun(run_id=run_id)
    reason = _reason(text, tokens, 2, "reason", form)
    if name == "takeover":
        if not reason:
            raise GrammarError("takeover needs a reason after the run id", form)
        return TakeOverRun(run_id=run_id, reason=reason)
    if name == "pause":
        return PauseRun(run_id=run_id, reason=reason)
    return AbortRun(run_id=run_id, reason=reason)


def _user_id(value: str, form: str) -> str:
    """``<@U123>``, ``<@U123|name>`` or a member id ``U123``; ``@name`` cannot be resolved."""
    found = _USER_REF.fullmatch(value)
    if found is None:
        raise GrammarError(
            f"{value!r} is not a Slack member id: give their member id (U..., from their "
            "profile's ⋮ menu, Copy member ID)", form)
    return found.group(1) or found.group(2)


def _run_id(value: str, form: str) -> str:
    if not _RUN_ID.match(value):
        raise GrammarError(f"{value!r} is not a run id (like r20240501-a1b2c3)", form)
    return value


def _kind_start(
    command: str, kinds: dict[str, str], text: str, tokens: list[_Token], catalog: Catalog
) -> StartRun:
    listed = "|".join(kinds) or "(none are defined)"
    form = f"{command} <{listed}> ..."
    if len(tokens) < 2:
        raise GrammarError(f"{command} needs a kind: {listed}", form)
    kind = tokens[1].value.lower()
    workflow = kinds.get(kind)
    if workflow is None:
        raise GrammarError(f"there is no {command} kind {tokens[1].value!r}; use {listed}", form)
    return _start(command, workflow, text, tokens, 2, catalog)


def _start(
    command: str, workflow: str, text: str, tokens: list[_Token], first: int, catalog: Catalog
) -> StartRun:
    form = catalog.workflows.get(workflow)
    if form is None:
        raise GrammarError(
            f"{command} is not available: no workflow definition {workflow!r} is loaded", "help"
        )
    typed = " ".join(t.value.lower() for t in tokens[:first])
    usage = f"{typed} {form.usage.removeprefix(form.name).strip()}".strip()
    names = {p.name for p in form.params}
    given: dict[str, str] = {}
    positional: list[_Token] = []
    # name=value with a name the workflow does not have: words of a free text, or a mistake
    # (a misspelt parameter) that is named as such, never taken as another parameter's value.
    unknown: dict[int, str] = {}
    for token in tokens[first:]:
        match = None if token.quoted else _KEY_VALUE.match(token.value)
        if match and match.group(1) in names:
            if match.group(1) in given:
                raise GrammarError(f"{match.group(1)} is given twice", usage)
            given[match.group(1)] = match.group(2)
        else:
            if match:
                unknown[id(token)] = match.group(1)
            positional.append(token)

    def take(token: _Token) -> str:
        if id(token) in unknown:
            known = ", ".join(p.name for p in form.params)
            raise GrammarError(f"unknown parameter {unknown[id(token)]!r} in {token.value!r}; "
                               f"{form.name} takes {known}", usage)
        return token.value

    open_params = [p for p in form.params if p.name not in given]
    free_at = next((i for i, p in enumerate(open_params) if p.free_text), None)
    fixed = open_params if free_at is None else open_params[:free_at]
    required = [p for p in fixed if p.required]
    if len(positional) < len(required):
        missing = [p.name for p in required[len(positional):]]
        raise GrammarError(f"missing {', '.join(missing)}", usage)
    # Without free text, the extra positionals fill the optional parameters left to right;
    # before free text, optional parameters are given by name.
    slots = len(positional) - len(required) if free_at is None else 0
    queue = list(positional)
    for param in fixed:
        if not queue:
            break
        if param.required or slots > 0:
            slots -= 0 if param.required else 1
            given[param.name] = take(queue.pop(0))
    if free_at is not None:
        free = open_params[free_at]
        later = open_params[free_at + 1 :]
        if queue and queue[0].quoted:
            given[free.name] = queue.pop(0).value
            for param in later:  # after a quoted text, positionals go on filling in order
                if queue:
                    given[param.name] = take(queue.pop(0))
        elif queue:
            given[free.name] = _span(text, tokens, queue)
            queue = []
        if free.required and free.name not in given:
            raise GrammarError(f"missing {free.name}", usage)
        if len(given.get(free.name, "")) > MAX_REASON:
            raise GrammarError(f"{free.name} is longer than {MAX_REASON} characters", usage)
    if queue:
        for token in queue:
            take(token)  # a misspelt name=value is named as unknown, not as one too many
        extra = " ".join(t.value for t in queue)
        raise GrammarError(f"too many arguments: {extra!r}", usage)
    return StartRun(command=command, workflow=workflow, params=given)


def _span(text: str, tokens: list[_Token], part: list[_Token]) -> str:
    """The raw text of ``part`` (spacing kept) unless other tokens sit between its tokens."""
    inside = [t for t in tokens if part[0].start <= t.start < part[-1].end]
    if len(inside) == len(part):
        return text[part[0].start : part[-1].end]
    return " ".join(text[t.start : t.end] for t in part)


# --- help --------------------------------------------------------------------------------------


def help_for(topic: str | None, catalog: Catalog) -> tuple[str, list[tuple[str, str]], str]:
    """(title, [(form, what it does)], footer) for the overview or one command."""
    footer = "Run ids look like r20240501-a1b2c3. `name=value` sets a parameter by name."
    if topic is None:
        entries = [(f"{name} ...", _summary(name, catalog)) for name in COMMANDS]
        return "Parthenon bot commands", entries, "`/parthenon <command> help` for one command."
    if topic in _STATIC_HELP:
        form, what = _STATIC_HELP[topic]
        return f"/parthenon {topic}", [(form, what)], footer
    if topic in _DIRECT:
        wf = catalog.workflows.get(topic)
        if wf is None:
            return f"/parthenon {topic}", [(topic, "not available: no definition is loaded")], ""
        return f"/parthenon {topic}: {wf.title}", [(wf.usage, _describe(wf))], footer
    kinds = catalog.kinds("incident-") if topic == "incident" else catalog.drills()
    entries = []
    for kind, workflow in kinds.items():
        wf = catalog.workflows[workflow]
        form = f"{topic} {kind} " + wf.usage.removeprefix(wf.name).strip()
        entries.append((form.strip(), _describe(wf)))
    if not entries:
        entries = [(f"{topic} <kind>", "none are defined")]
    return f"/parthenon {topic}", entries, footer


def _summary(name: str, catalog: Catalog) -> str:
    if name in _STATIC_HELP:
        return _STATIC_HELP[name][1]
    if name in _DIRECT:
        wf = catalog.workflows.get(name)
        return wf.title if wf else "not available"
    kinds = catalog.kinds("incident-") if name == "incident" else catalog.drills()
    return f"{'Open an incident' if name == 'incident' else 'Run a drill'}: " + (
        ", ".join(kinds) or "none defined"
    )


def _describe(form: WorkflowForm) -> str:
    parts = [form.title + (f". {form.description}" if form.description else "")]
    for p in form.params:
        bits = [p.help] if p.help else []
        if p.choices:
            bits.append("one of " + ", ".join(p.choices))
        if not p.required:
            bits.append("optional")
        if p.free_text:
            bits.append("free text, the rest of the line")
        parts.append(f"{p.name}: {'; '.join(bits) or 'required'}")
    return "\n".join(parts)
