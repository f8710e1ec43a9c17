"""The /parthenon grammar: every form parses to its command; every wrong form says what and how."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.runtime import DEFINITIONS_DIR
from bot.slack.errors import GrammarError
from handlers.command_help import help_for
from handlers.command_types import (
    AbortRun,
    ExportRun,
    FreezePromotions,
    HandOverCommand,
    ListRuns,
    PauseRun,
    ResumeRun,
    ShowHealth,
    ShowHelp,
    ShowStatus,
    StartRun,
    UnfreezePromotions,
)
from handlers.grammar import parse
from handlers.workflow_forms import Catalog
from tests.unit.slack.definitions import definitions
from workflows.definition import load_definitions

CATALOG = Catalog.from_definitions(definitions())
SUM = "a" * 64

GOOD = [
    ("", ShowHelp()),
    ("help", ShowHelp()),
    ("HELP promote", ShowHelp(topic="promote")),
    ("promote help", ShowHelp(topic="promote")),
    ("abort --help", ShowHelp(topic="abort")),
    (
        "promote v1.4.2 abc1234 testnet",
        StartRun(command="promote", workflow="promote",
                 params={"version": "v1.4.2", "git_sha": "abc1234", "environment": "testnet"}),
    ),
    (
        f"promote v1.4.2 abc1234 {SUM} testnet",
        StartRun(command="promote", workflow="promote",
                 params={"version": "v1.4.2", "git_sha": "abc1234", "config_checksum": SUM,
                         "environment": "testnet"}),
    ),
    (
        "promote environment=testnet v1.4.2 abc1234",
        StartRun(command="promote", workflow="promote",
                 params={"version": "v1.4.2", "git_sha": "abc1234", "environment": "testnet"}),
    ),
    (
        "incident release  Node 3 forked at  120 ",
        StartRun(command="incident", workflow="incident-release",
                 params={"summary": "Node 3 forked at  120"}),
    ),
    (
        'incident key-compromise "leaked key"',
        StartRun(command="incident", workflow="incident-key-compromise",
                 params={"summary": "leaked key"}),
    ),
    (
        "incident release summary=a=b",
        StartRun(command="incident", workflow="incident-release", params={"summary": "a=b"}),
    ),
    (
        "incident release it broke, see x=y",
        StartRun(command="incident", workflow="incident-release",
                 params={"summary": "it broke, see x=y"}),
    ),
    (
        "incident release &lt;!channel&gt; &amp; more",
        StartRun(command="incident", workflow="incident-release",
                 params={"summary": "<!channel> & more"}),
    ),
    ("rollback testnet", StartRun(command="rollback", workflow="rollback",
                                  params={"environment": "testnet"})),
    ("rollback mainnet canary halted", StartRun(
        command="rollback", workflow="rollback",
        params={"environment": "mainnet", "reason": "canary halted"})),
    ("drill restore", StartRun(command="drill", workflow="restore-drill", params={})),
    ("maintenance testnet kernel upgrade window=2h", StartRun(
        command="maintenance", workflow="maintenance",
        params={"environment": "testnet", "reason": "kernel upgrade", "window": "2h"})),
    ('maintenance testnet "kernel upgrade" 2h', StartRun(
        command="maintenance", workflow="maintenance",
        params={"environment": "testnet", "reason": "kernel upgrade", "window": "2h"})),
    ("status", ShowStatus()),
    ("status r20240501-a1b2c3", ShowStatus(run_id="r20240501-a1b2c3")),
    ("runs", ListRuns()),
    ("export r20240501-a1b2c3", ExportRun(run_id="r20240501-a1b2c3")),
    ("EXPORT r1", ExportRun(run_id="r1")),
    ("health testnet", ShowHealth(environment="testnet")),
    ("pause r1", PauseRun(run_id="r1")),
    ("pause r1 waiting for the vendor", PauseRun(run_id="r1", reason="waiting for the vendor")),
    ("resume r1", ResumeRun(run_id="r1")),
    ("abort r1", AbortRun(run_id="r1")),
    ("abort r1 wrong build", AbortRun(run_id="r1", reason="wrong build")),
    ("freeze incident in progress", FreezePromotions(reason="incident in progress")),
    ("unfreeze", UnfreezePromotions()),
    ("freeze environment=mainnet key leaked", FreezePromotions(reason="key leaked",
                                                               environment="mainnet")),
    ("freeze env=testnet x", FreezePromotions(reason="x", environment="testnet")),
    ("unfreeze mainnet", UnfreezePromotions(environment="mainnet")),
    ("commander r1 <@U0ANA|ana>", HandOverCommand(run_id="r1", user="U0ANA")),
    ("commander r1 <@W0BEN>", HandOverCommand(run_id="r1", user="W0BEN")),
    ("commander r1 U0CLEO", HandOverCommand(run_id="r1", user="U0CLEO")),
    ("\u201cstatus\u201d", ShowStatus()),
]


@pytest.mark.parametrize(("text", "expected"), GOOD)
def test_good_forms_parse_to_their_command(text: str, expected: object) -> None:
    """Each documented form parses to the typed command it names."""
    assert parse(text, CATALOG) == expected


BAD = [
    ("deploy v1", "there is no command 'deploy'", "help"),
    ("help deploy", "there is no command 'deploy'", "help"),
    ("promote v1.4.2", "missing git_sha, environment",
     "promote <version> <git_sha> [config_checksum] <testnet|mainnet>"),
    ("promote a b c d e", "too many arguments: 'e'",
     "promote <version> <git_sha> [config_checksum] <testnet|mainnet>"),
    ("promote version=1 version=2 a b", "version is given twice",
     "promote <version> <git_sha> [config_checksum] <testnet|mainnet>"),
    ("incident", "incident needs a kind: key-compromise|release",
     "incident <key-compromise|release> ..."),
    ("incident outage x", "there is no incident kind 'outage'; use key-compromise|release",
     "incident <key-compromise|release> ..."),
    ("incident release", "missing summary", "incident release <summary>"),
    ("drill chaos", "there is no drill kind 'chaos'; use restore", "drill <restore> ..."),
    ("drill restore now", "too many arguments: 'now'", "drill restore"),
    ("startup-check", "startup-check is not available: no workflow definition 'startup-check' "
     "is loaded", "help"),
    ("maintenance testnet", "missing reason", "maintenance <environment> <reason> [window]"),
    ("status a b", "status takes at most one run id", "status [run-id]"),
    ("status <@U1>", "'<@U1>' is not a run id (like r20240501-a1b2c3)", "status [run-id]"),
    ("runs all", "runs takes no arguments", "runs"),
    ("export", "export needs exactly one run id", "export <run-id>"),
    ("export r1 r2", "export needs exactly one run id", "export <run-id>"),
    ("export <!channel>", "'<!channel>' is not a run id (like r20240501-a1b2c3)",
     "export <run-id>"),
    ("health", "health needs exactly one environment", "health <environment>"),
    ("health test net", "health needs exactly one environment", "health <environment>"),
    ("pause", "pause needs a run id", "pause <run-id> [reason]"),
    ("resume r1 now", "resume takes only a run id", "resume <run-id>"),
    ("freeze", "a freeze needs a reason", "freeze [environment=<name>] <reason>"),
    ("freeze environment=mainnet", "a freeze needs a reason",
     "freeze [environment=<name>] <reason>"),
    ("freeze environment=<!here> x", "'<!here>' is not an environment name",
     "freeze [environment=<name>] <reason>"),
    ("unfreeze a b", "unfreeze takes at most one environment", "unfreeze [environment]"),
    ("commander r1", "commander needs a run id and a person",
     "commander <run-id> <@user or member id>"),
    ("commander r1 @ana", "'@ana' is not a Slack member id: give their member id (U..., from "
     "their profile's ⋮ menu, Copy member ID)", "commander <run-id> <@user or member id>"),
    ('incident release "unclosed', "a quote opened at character 18 is never closed", None),
    ("abort r1 " + "x" * 1001, "the reason is longer than 1000 characters",
     "abort <run-id> [reason]"),
]


@pytest.mark.parametrize(("text", "message", "usage"), BAD)
def test_wrong_forms_say_what_is_wrong_and_the_right_form(
    text: str, message: str, usage: str | None
) -> None:
    """A wrong command is refused with a specific message and the command's right form."""
    with pytest.raises(GrammarError) as caught:
        parse(text, CATALOG)
    assert caught.value.message == message
    assert caught.value.usage == usage
    assert caught.value.code == "bad_command"


def test_usage_comes_from_the_definition_parameters() -> None:
    """The promote form is the definition's parameters in order, optional ones bracketed."""
    assert CATALOG.workflows["promote"].usage == (
        "promote <version> <git_sha> [config_checksum] <testnet|mainnet>"
    )


@pytest.mark.parametrize("topic", [None, "promote", "incident", "drill", "abort", "backup"])
def test_every_command_has_help(topic: str | None) -> None:
    """The overview and each command's own help list at least one form with a description."""
    title, entries, _ = help_for(topic, CATALOG)
    assert title
    assert entries
    assert all(form and what for form, what in entries)


def test_incident_help_lists_each_kind_with_its_form() -> None:
    """`incident help` shows one form per incident kind, taken from its definition."""
    _, entries, _ = help_for("incident", CATALOG)
    forms = [form for form, _ in entries]
    assert forms == ["incident key-compromise <summary>", "incident release <summary>"]


@settings(max_examples=250, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_raises_the_grammar_error(text: str) -> None:
    """No input makes the parser raise anything but GrammarError."""
    with contextlib.suppress(GrammarError):
        parse(text, CATALOG)


WORDS = st.sampled_from(
    ["promote", "incident", "release", "drill", "restore", "status", "abort", "pause", "resume",
     "help", "freeze", "health", "runs", "export", "rollback", "testnet", "v1.4.2", "abc1234",
     "r1", '"', "version=v1", "summary=x", "=", "&lt;", "\u201c", "x" * 300]
)


@settings(max_examples=250, deadline=None)
@given(st.lists(WORDS, max_size=8))
def test_near_miss_commands_parse_or_raise_the_grammar_error(words: list[str]) -> None:
    """Command-like word salad never crashes the parser either."""
    with contextlib.suppress(GrammarError):
        parse(" ".join(words), CATALOG)


def test_the_shipped_definitions_give_the_forms() -> None:
    """Against the definitions the bot ships, the main commands parse into their workflows."""
    shipped = Catalog.from_definitions(load_definitions(DEFINITIONS_DIR))
    promote = parse("promote v1.4.2 abc1234 testnet", shipped)
    assert isinstance(promote, StartRun)
    assert promote.params == {"version": "v1.4.2", "git_sha": "abc1234", "environment": "testnet"}
    incident = parse("incident release testnet sev2 bad block at 1200 lkg_height=1199", shipped)
    assert isinstance(incident, StartRun)
    assert incident.workflow == "incident-release"
    assert incident.params == {"environment": "testnet", "severity": "sev2",
                               "summary": "bad block at 1200", "lkg_height": "1199"}
    drill = parse("drill key-rotation testnet", shipped)
    assert isinstance(drill, StartRun)
    assert drill.workflow == "drill-key-rotation"
