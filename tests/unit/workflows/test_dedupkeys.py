"""The de-duplication keys, to the byte: runs already in Redis hold these strings, so a change of
one would apply a redelivered command again."""

from __future__ import annotations

from datetime import UTC, datetime

from workflows import dedupkeys
from workflows.freezes import Freeze, freeze_id


def test_people_in_slack() -> None:
    assert dedupkeys.press("approve", "U1:1700000000.1") == "approve:U1:1700000000.1"
    assert dedupkeys.press("abort", "U1:V123") == "abort:U1:V123"
    assert dedupkeys.slash("13345224609.738474920.8088930838d88f008e0") == (
        "slash:13345224609.738474920.8088930838d88f008e0")
    assert dedupkeys.offer_start("r20260101-abc123", "rollback") == (
        "offer:r20260101-abc123:rollback")
    assert dedupkeys.start_button("drill", "U1", "T9") == "button:drill:U1:T9"
    assert dedupkeys.start_button("drill", "U1", None) == "button:drill:U1:None"
    assert dedupkeys.form_start("drill", "U1", "V9") == "form:drill:U1:V9"
    assert dedupkeys.export_button(7, "U1") == "button:v7:U1"
    assert dedupkeys.api_start("ci", "build-42") == "api:ci:build-42"


def test_the_bot_itself() -> None:
    assert dedupkeys.superseded_by("r2") == "superseded-by:r2"
    assert dedupkeys.take_over("U1", "the hotfix") == "takeover:U1:the hotfix"
    assert dedupkeys.page(2, "failed") == "page:2:failed"
    assert dedupkeys.auto_rollback("r1", "canary", 1) == "auto-rollback:r1:canary:1"
    assert dedupkeys.auto_rollback_declined("r1", "canary", 1) == (
        "auto-rollback-declined:r1:canary:1")
    assert dedupkeys.step_attempt("r1", "deploy", 3) == "r1:deploy:3"
    assert dedupkeys.bot_step_command("r1:halt:1", "r2") == "r1:halt:1:r2"


def test_a_freeze_holds_and_releases_once_per_setting() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    freeze = Freeze(id=freeze_id("mainnet"), environment="mainnet", by="U1", reason="x", at=at)
    assert dedupkeys.freeze_hold(freeze) == "hold:manual:mainnet@2026-01-02T03:04:05+00:00"
    assert dedupkeys.freeze_release(freeze) == "release:manual:mainnet@2026-01-02T03:04:05+00:00"
    unset = freeze.model_copy(update={"at": None})
    assert dedupkeys.freeze_hold(unset) == "hold:manual:mainnet@"
