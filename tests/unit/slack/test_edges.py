"""Small pure pieces of the Slack edge: error answers, incident channel names, payload models."""

from __future__ import annotations

import logging

import pytest

from bot.app import describe_error
from bot.configerror import ConfigError
from bot.slack.errors import BadPayload, GrammarError
from bot.slack.incidentchannel import incident_channel_name
from bot.slack.payloads import ButtonValue, ModalMetadata
from tests.unit.slack.runs import promote
from workflows.errors import NotAuthorized, PromotionFrozen


@pytest.mark.parametrize(
    ("error", "code", "shown"),
    [
        (NotAuthorized("only members of security may approve"), "not_authorized",
         "only members of security may approve"),
        (PromotionFrozen("promotions are frozen by <@UOP1>: x <!here>"), "promotion_frozen",
         "frozen by <@UOP1>: x &lt;!here&gt;"),
        (ConfigError("unknown_environment", "no environment 'x'"), "unknown_environment",
         "no environment 'x'"),
        (BadPayload("unreadable"), "bad_payload", "unreadable"),
        (GrammarError("missing version", "promote <version>"), "bad_command",
         "missing version\nUsage: `/parthenon promote &lt;version&gt;`"),
    ],
)
def test_known_errors_say_what_was_wrong(error: Exception, code: str, shown: str) -> None:
    """A known error's answer is its own message (escaped; known people still mentioned)."""
    text, why = describe_error(error, frozenset({"UOP1"}))
    assert why == code
    assert shown in text


def test_unknown_errors_get_an_id_logged_with_the_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Anything else is answered with an error id that is in the log with its traceback."""
    try:
        raise KeyError("secret internals")
    except KeyError as exc:
        with caplog.at_level(logging.ERROR):
            text, why = describe_error(exc)
    error_id = why.removeprefix("unhandled:")
    assert f"error id `{error_id}`" in text
    assert "secret internals" not in text
    [record] = [r for r in caplog.records if getattr(r, "error_id", None) == error_id]
    assert record.exc_info is not None


def test_incident_channel_names_are_valid_slack_names() -> None:
    """inc-<yyyymmdd>-<kind>-<n>, lower case, within Slack's 80 characters."""
    run = promote().model_copy(update={"workflow": "incident-key-compromise"})
    assert incident_channel_name(run, 3) == f"inc-{run.created_at:%Y%m%d}-key-compromise-3"
    odd = run.model_copy(update={"workflow": "incident-Weird_Kind!" + "x" * 100})
    name = incident_channel_name(odd, 1)
    assert len(name) <= 80
    assert name == name.lower()
    assert all(c.isalnum() or c == "-" for c in name)


@pytest.mark.parametrize("raw", [None, "", "{", "[]", '{"r": "../../x"}', '{"zz": 1}', "x" * 4000,
                                 '{"n": -1}', 12])
def test_unreadable_button_values_are_bad_payloads(raw: object) -> None:
    """A value the bot did not write is a BadPayload, never another exception."""
    with pytest.raises(BadPayload):
        ButtonValue.parse(raw)


def test_button_values_and_modal_metadata_round_trip_compactly() -> None:
    """What the renderers write, the handlers read back; defaults are left out."""
    value = ButtonValue(r="r20250301-abc123", s="wave-1.approve", h="ab" * 8, n=2, v=17)
    assert ButtonValue.parse(value.dump()) == value
    assert '"w"' not in value.dump()
    meta = ModalMetadata(b=value, c="C0OPS")
    assert ModalMetadata.parse(meta.dump()) == meta
