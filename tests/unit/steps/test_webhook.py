"""The webhook step's signed body: signature scheme, canonical bytes, what is sent."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from bot.devnet import sign_deploy_body
from tests.unit.steps.build import context_of, run_of
from workflows.steps.webhook import build_body, sign

DEFN = """
name: hook
title: Hook
parameters: [{name: environment}, {name: version}]
steps:
  - id: deploy
    title: Deploy
    kind: webhook
    targets: {select: canary}
    with: {action: deploy, version: '{{ version }}', guard: false, instructions: by hand}
"""


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    """The signature is v1=hex(HMAC-SHA256(secret, "<timestamp>.<body>")), as receivers check."""
    body = b'{"action":"deploy"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1_700_000_000, body) == f"v1={expected}"
    assert sign("s3cret", 1_700_000_000, body) == sign_deploy_body("s3cret", 1_700_000_000, body)


def test_body_carries_action_environment_nodes_run_and_arguments() -> None:
    """The body names the action, environment, target nodes, run and step, plus every other
    argument; the executor's own switches (guard, instructions) are not sent."""
    run = run_of(DEFN, {"environment": "testnet", "version": "v1.4.2"})
    ctx = context_of(run, "deploy", {"action": "deploy", "version": "v1.4.2", "guard": False,
                                     "instructions": "by hand"})
    payload = json.loads(build_body(ctx, "testnet"))
    assert payload == {
        "action": "deploy", "environment": "testnet", "nodes": ["t1"], "run_id": "r1",
        "workflow": "hook", "step_id": "deploy", "requested_by": "U1", "version": "v1.4.2",
    }


def test_body_is_canonical_so_a_resend_is_the_same_bytes() -> None:
    """Key order does not change the bytes (a verify re-POST repeats the first request)."""
    run = run_of(DEFN, {"environment": "testnet", "version": "v1"})
    one = build_body(context_of(run, "deploy", {"action": "deploy", "a": 1, "b": 2}), "testnet")
    two = build_body(context_of(run, "deploy", {"b": 2, "a": 1, "action": "deploy"}), "testnet")
    assert one == two


def test_a_webhook_step_without_an_action_is_refused() -> None:
    """Without 'action' nothing is sent: the step fails with a clear message."""
    run = run_of(DEFN, {"environment": "testnet", "version": "v1"})
    with pytest.raises(ValueError, match="needs 'action'"):
        build_body(context_of(run, "deploy", {"version": "v1"}), "testnet")
