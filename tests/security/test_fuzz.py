"""Hypothesis fuzzing of the command grammar and the payload parsers: directly (typed refusals
only, never another exception) and over HTTP against the served bot with signed random requests
(never a 5xx, and input the bot refuses changes nothing). Example counts are bounded so the
suite runs in seconds."""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack.errors import BadPayload, GrammarError
from bot.slack.ids import ActionId, CallbackId
from bot.slack.payloads import ButtonValue, ModalMetadata
from handlers.grammar import parse
from handlers.payloads import ActionPayload, CommandPayload, ViewPayload
from handlers.workflow_forms import Catalog
from tests.scenarios.harness import OUTSIDER, Harness, waiting_at
from tests.unit.slack.definitions import definitions
from workflows import keys

CATALOG = Catalog.from_definitions(definitions())
WORDS = ["help", "promote", "rollback", "incident", "release", "key-compromise", "maintenance",
         "backup", "drill", "restore", "startup-check", "status", "runs", "health", "pause",
         "resume", "abort", "freeze", "unfreeze", "export", "testnet", "mainnet", "v1.4.2",
         "abc1234", "r20250101-abc123", "reason=", "version=", "environment=", "summary=", "-h",
         "?", '"', "'", "\u201c", "=", "==", "<!channel>", "<@U123>", "*x*", "`", "\\", "\n"]
TOKENS = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=12))
COMMAND_TEXT = st.one_of(
    st.lists(TOKENS, max_size=8).map(" ".join),
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
VALUE = st.one_of(
    st.text(max_size=80),
    JSON.map(json.dumps),
    st.fixed_dictionaries({}, optional={
        "r": st.one_of(st.text(max_size=70), st.just("r20250101-abc123")),
        "s": st.text(max_size=20), "h": st.text(max_size=70), "n": st.integers(),
        "v": st.integers(), "w": st.text(max_size=20),
    }).map(json.dumps),
)
USERS = st.one_of(st.sampled_from([OUTSIDER, "U", "", "x" * 50]), st.text(max_size=12))
PURE = settings(max_examples=300, deadline=None, database=None)
# (a failing example's report would print the whole served bot, the fixture, at length)
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
HTTP = settings(max_examples=50, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


# --- pure parsers ------------------------------------------------------------------------------


@PURE
@given(COMMAND_TEXT)
def test_the_grammar_answers_any_text_with_a_command_or_a_grammar_error(text: str) -> None:
    """Whatever is typed after /parthenon: a typed command, or a GrammarError that says what
    was wrong (never another exception)."""
    try:
        parse(text, CATALOG)
    except GrammarError as exc:
        message = exc.message
        assert message


@PURE
@given(st.dictionaries(st.sampled_from(["user_id", "channel_id", "text", "trigger_id",
                                        "response_url", "command"]), JSON, max_size=6))
def test_command_payloads_parse_or_are_bad_payloads(body: dict[str, Any]) -> None:
    """Any command body: a payload, or a BadPayload."""
    with contextlib.suppress(BadPayload):
        CommandPayload.from_body(body)


@PURE
@given(JSON, VALUE)
def test_action_payloads_parse_or_are_bad_payloads(noise: Any, value: str) -> None:
    """Any click body (random structure, random button value): a payload or a BadPayload."""
    for body in (
        noise if isinstance(noise, dict) else {"x": noise},
        {"user": {"id": "U123"}, "actions": [{"action_id": "run.approve", "value": value}],
         "container": noise, "channel": noise},
        {"user": noise, "actions": noise},
    ):
        with contextlib.suppress(BadPayload):
            ActionPayload.from_body(body)


@PURE
@given(JSON, VALUE, st.text(max_size=30))
def test_view_payloads_and_button_values_parse_or_are_bad_payloads(
    noise: Any, value: str, callback: str
) -> None:
    """Any form submission, button value or form metadata: parsed, or a BadPayload."""
    body = {"user": {"id": "U123"},
            "view": {"callback_id": callback, "private_metadata": value,
                     "state": {"values": noise}}}
    for parse_one in (lambda: ViewPayload.from_body(body), lambda: ButtonValue.parse(value),
                      lambda: ModalMetadata.parse(value)):
        with contextlib.suppress(BadPayload):
            parse_one()


# --- the served bot ----------------------------------------------------------------------------


async def snapshot(h: Harness) -> tuple[Any, ...]:
    """What a refused request must not change: every run (id, version), the start
    reservations, the promotion freeze. (Cards, indexes and timers are the bot's own
    bookkeeping, changed by the engine and the notifier in the background.)"""
    redis = h.redis
    runs = sorted([k.decode() async for k in redis.scan_iter(match=f"{keys.PREFIX}:{{*}}:run")])
    versions = [await redis.hget(k, "v") for k in runs]
    starts = sorted([k.decode() async for k in redis.scan_iter(match=keys.start_key("*"))])
    freezes = tuple(await h.runtime.store.freezes.all())
    return tuple(zip(runs, versions, strict=True)), tuple(starts), freezes


async def settled(h: Harness) -> tuple[Any, ...]:
    """A run waiting for approval, and a snapshot once the bot is quiet."""
    await h.bot.deferred.drain()
    return await snapshot(h)


@HTTP
@given(text=COMMAND_TEXT, user=st.sampled_from([OUTSIDER, "URM0001", "UOP0001"]))
async def test_random_commands_over_http(harness: Harness, text: str, user: str) -> None:
    """Signed /parthenon commands with random text: never a 5xx; a text the grammar refuses
    changes nothing."""
    try:
        parse(text, CATALOG)
        valid = True
    except GrammarError:
        valid = False
    before = await settled(harness)
    reply = await harness.command(user, text)
    assert reply.status < 500, reply.text
    if not valid:
        assert await settled(harness) == before


@HTTP
@given(action=st.one_of(st.sampled_from([str(a) for a in ActionId]), st.text(max_size=20)),
       value=VALUE, user=USERS)
async def test_random_clicks_over_http(harness: Harness, action: str, value: str,
                                       user: str) -> None:
    """Signed button clicks with random action ids, values and users (none of them allowed
    to act): never a 5xx, nothing changes."""
    h = harness
    if not await h.runtime.service.active_runs():
        run_id = await h.started_run(await h.command("URM0001", "promote v1.4.2 abc1234 testnet"))
        await h.wait_run(run_id, waiting_at("approve"))
    before = await settled(h)
    payload = {
        "type": "block_actions", "user": {"id": user}, "api_app_id": "A0PARTHENON",
        "team": {"id": h.standin.team_id}, "trigger_id": "trig-fuzz",
        "actions": [{"type": "button", "action_id": action, "block_id": "b", "value": value}],
        "container": {"type": "message", "message_ts": "1.0", "channel_id": "C0OPS"},
        "channel": {"id": "C0OPS"}, "response_url": h.standin.response_url("fuzz"),
    }
    reply = await h.post(urlencode({"payload": json.dumps(payload)}))
    assert reply.status < 500, reply.text
    assert await settled(h) == before


@HTTP
@given(callback=st.one_of(st.sampled_from([str(c) for c in CallbackId]), st.text(max_size=20)),
       metadata=VALUE, values=JSON, user=USERS)
async def test_random_form_submissions_over_http(
    harness: Harness, callback: str, metadata: str, values: Any, user: str
) -> None:
    """Signed form submissions with random forms, metadata and fields: never a 5xx, nothing
    changes."""
    h = harness
    before = await settled(h)
    payload = {
        "type": "view_submission", "user": {"id": user}, "team": {"id": h.standin.team_id},
        "api_app_id": "A0PARTHENON", "trigger_id": "trig-fuzz",
        "view": {"id": "V1", "type": "modal", "callback_id": callback,
                 "private_metadata": metadata, "blocks": [],
                 "state": {"values": values if isinstance(values, dict) else {}}},
    }
    reply = await h.post(urlencode({"payload": json.dumps(payload)}))
    assert reply.status < 500, reply.text
    assert await settled(h) == before


@HTTP
@given(body=st.one_of(
    st.text(max_size=200),
    st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=5).map(urlencode),
    JSON.map(lambda j: urlencode({"payload": json.dumps(j)})),
    JSON.map(lambda j: urlencode({"payload": json.dumps({"type": "block_actions", "x": j})})),
), content_type=st.sampled_from(["application/x-www-form-urlencoded", "application/json",
                                 "text/plain"]))
async def test_random_signed_bodies_over_http(harness: Harness, body: str,
                                              content_type: str) -> None:
    """Signed bodies of any shape and content type: never a 5xx, nothing changes."""
    before = await settled(harness)
    reply = await harness.post(body, content_type)
    assert reply.status < 500, reply.text
    assert await settled(harness) == before


@HTTP
@given(event=st.fixed_dictionaries({"type": st.one_of(st.just("app_home_opened"),
                                                      st.text(max_size=15))},
                                   optional={"user": USERS, "tab": st.text(max_size=8),
                                             "x": JSON}))
async def test_random_events_over_http(harness: Harness, event: dict[str, Any]) -> None:
    """Signed Events API callbacks with random events: never a 5xx, nothing changes."""
    before = await settled(harness)
    reply = await harness.event(event)
    assert reply.status < 500, reply.text
    assert await settled(harness) == before
