"""The `/parthenon` grammar: text in, a typed command out, or a `GrammarError` with the form.

Pure: no Slack, no Redis. The workflow commands take their forms from the workflow definitions
(``handlers.workflow_forms``), the others from ``handlers.command_types``, so the grammar, the help
and the definitions never disagree. Values are only split here; the service checks them against
the definition (patterns, choices) and says what was wrong with the same usage line.

Positional arguments fill the required parameters in order, then the optional ones left to right;
`name=value` sets any parameter by name. A last parameter without pattern or choices is free text
and takes the rest of the line (an incident's summary).
"""

from __future__ import annotations

import re

from bot.slack.errors import GrammarError
from handlers.command_tokens import Token, rest_of_line, span, tokenize, unescape
from handlers.command_types import (
    COMMANDS,
    DIRECT,
    STATIC_HELP,
    AbortRun,
    Command,
    ExportRun,
    FreezePromotions,
    HandOverCommand,
    ListRuns,
    PauseRun,
    ReleaseNode,
    ResumeRun,
    ShowHealth,
    ShowHelp,
    ShowStatus,
    StartRun,
    TakeOverRun,
    UnfreezePromotions,
)
from handlers.workflow_forms import Catalog
from workflows.userid import USER_ID

__all__ = ["parse"]

MAX_TEXT = 4000
MAX_REASON = 1000
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_USER_REF = re.compile(rf"<@({USER_ID})(?:\|[^>]*)?>|({USER_ID})")
_KEY_VALUE = re.compile(r"^([a-z][a-z0-9_]*)=(.*)$", re.DOTALL)


def _reason(text: str, tokens: list[Token], index: int, what: str, usage: str) -> str | None:
    reason = rest_of_line(text, tokens, index)
    if len(reason) > MAX_REASON:
        raise GrammarError(f"the {what} is longer than {MAX_REASON} characters", usage)
    return reason or None


def parse(text: str, catalog: Catalog) -> Command:
    """One `/parthenon` command line -> a command; anything else -> GrammarError."""
    if len(text) > MAX_TEXT:
        raise GrammarError(f"the command is longer than {MAX_TEXT} characters", "help")
    text = unescape(text).strip()
    tokens = tokenize(text)
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
    if name in DIRECT:
        return _start(name, name, text, tokens, 1, catalog)
    if name == "incident":
        return _kind_start("incident", catalog.kinds("incident-"), text, tokens, catalog)
    if name == "drill":
        return _kind_start("drill", catalog.drills(), text, tokens, catalog)
    return _operation(name, text, tokens)


def _operation(name: str, text: str, tokens: list[Token]) -> Command:
    form = STATIC_HELP[name][0]
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
    command: str, kinds: dict[str, str], text: str, tokens: list[Token], catalog: Catalog
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
    command: str, workflow: str, text: str, tokens: list[Token], first: int, catalog: Catalog
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
    positional: list[Token] = []
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

    def take(token: Token) -> str:
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
            given[free.name] = span(text, tokens, queue)
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
