"""Hostile bodies at the events route: the signature is checked before anything is parsed, a body
that cannot be parsed (or is not a shape bolt can read) is a quiet 400, and a flood of them
neither fills the log with tracebacks nor keeps a real command from its ack."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.scenarios.harness import Harness

DEEP = "[" * 1000
FORM = "application/x-www-form-urlencoded"


def noisy(records: list[logging.LogRecord]) -> list[str]:
    """Records a refused request must not produce: warnings and errors, anything with a
    traceback."""
    return [f"{r.levelname} {r.name}: {r.getMessage()[:120]}" for r in records
            if r.levelno >= logging.WARNING or r.exc_info or r.exc_text]


def payload(body: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(body)})


async def nothing_happened(h: Harness) -> bool:
    await h.bot.deferred.drain()
    return (await h.runtime.service.active_runs() == []
            and not h.standin.calls_of("chat.postMessage")
            and not h.standin.calls_of("chat.postEphemeral"))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("payload=" + DEEP, FORM), (DEEP, "application/json"), ("{" + '"a":' * 400, FORM)],
    ids=["form-payload-of-brackets", "json-brackets", "json-object-nesting"],
)
async def test_an_unsigned_hostile_body_is_refused_before_it_is_parsed(
    harness: Harness, caplog: pytest.LogCaptureFixture, body: str, content_type: str
) -> None:
    """Unsigned (a wrong signature): 401, whatever the body, and nothing logged above INFO."""
    caplog.set_level(logging.INFO)
    reply = await harness.post(body, content_type, signature="v0=" + "0" * 64)
    assert reply.status == 401
    assert noisy(caplog.records) == []
    assert await nothing_happened(harness)


SIGNED_BAD = {
    "form-payload-of-brackets": ("payload=" + DEEP, FORM),
    "json-brackets": (DEEP, "application/json"),
    "json-array": ("[]", "application/json"),
    "json-number": ("0", "application/json"),
    "payload-array": (urlencode({"payload": "[1]"}), FORM),
    "payload-not-json": (urlencode({"payload": "{nope"}), FORM),
    "not-utf8": ("payload=%FF", FORM),
    "view-without-type": (payload({"type": "view_submission", "user": {"id": "URM0001"},
                                   "view": {"callback_id": "modal.abort"}}), FORM),
    "view-not-an-object": (payload({"type": "view_submission", "user": {"id": "URM0001"},
                                    "view": "x"}), FORM),
    "actions-a-string": (payload({"type": "block_actions", "user": {"id": "URM0001"},
                                  "actions": "x"}), FORM),
    "actions-of-null": (payload({"type": "block_actions", "user": {"id": "URM0001"},
                                 "actions": [None]}), FORM),
    "actions-empty": (payload({"type": "block_actions", "user": {"id": "URM0001"},
                               "actions": []}), FORM),
    "click-without-user": (payload({"type": "block_actions",
                                    "actions": [{"action_id": "run.pause"}]}), FORM),
    "user-a-list": (payload({"type": "block_actions", "user": ["URM0001"],
                             "actions": [{"action_id": "run.pause"}]}), FORM),
    "channel-a-number": (payload({"type": "block_actions", "user": {"id": "URM0001"},
                                  "channel": 5, "actions": [{"action_id": "run.pause"}]}), FORM),
    "authorizations-of-strings": (payload({"type": "block_actions", "user": {"id": "URM0001"},
                                           "authorizations": ["x"],
                                           "actions": [{"action_id": "run.pause"}]}), FORM),
    "unknown-payload-type": (payload({"type": "shortcut", "user": {"id": "URM0001"}}), FORM),
    "event-a-string": (json.dumps({"type": "event_callback", "event": "x"}), "application/json"),
    "event-without-type": (json.dumps({"type": "event_callback", "event": {"user": "U1"}}),
                           "application/json"),
    "event-message-a-list": (json.dumps({"type": "event_callback",
                                         "event": {"type": "app_home_opened", "message": []}}),
                             "application/json"),
    "form-without-command": (urlencode({"text": "promote v1.4.2"}), FORM),
    "empty": ("", FORM),
}


@pytest.mark.parametrize("case", list(SIGNED_BAD))
async def test_a_signed_body_bolt_cannot_read_is_a_quiet_400(
    harness: Harness, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    """Signed, but not a request of a shape the bot handles (too deep, not an object, a view
    without type, actions that are not a list of objects, ...): 400, nothing logged above INFO,
    no traceback, nothing changed and nobody messaged."""
    caplog.set_level(logging.INFO)
    body, content_type = SIGNED_BAD[case]
    reply = await harness.post(body, content_type)
    assert reply.status == 400, reply.text
    assert noisy(caplog.records) == []
    assert await nothing_happened(harness)


async def test_a_flood_of_hostile_bodies_logs_nothing_and_a_real_command_is_answered(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """400 hostile bodies (unsigned and signed) sent at once with a real command among them:
    the command is answered (its run started), the flood logs nothing above INFO and no
    traceback."""
    caplog.set_level(logging.INFO)
    h = harness
    bodies = [("payload=" + DEEP, "v0=" + "0" * 64) if i % 2 else ("payload=" + DEEP, None)
              for i in range(400)]
    started = time.monotonic()
    flood = [h.post(b, FORM, signature=s) for b, s in bodies]
    real = h.command("URM0001", "promote v1.4.2 abc1234 testnet")
    *replies, answer = await asyncio.gather(*flood, real)
    assert {r.status for r in replies} == {400, 401}
    assert answer.status == 200
    run_id = await h.started_run(answer)
    assert (await h.run(run_id)).params["version"] == "v1.4.2"
    assert time.monotonic() - started < 30
    assert noisy(caplog.records) == []
