"""The config's `incidents:` block: defaults from the runbook, partial tables keep the rest,
and every bad value is refused at load with its field."""

from __future__ import annotations

from typing import Any

import pytest

from bot.configerror import ConfigError
from tests.unit.test_config import load, mutate


def with_incidents(block: Any) -> dict[str, Any]:
    def change(data: dict[str, Any]) -> None:
        data["incidents"] = block

    return mutate(change)


def test_defaults_are_the_runbooks() -> None:
    config = load(mutate(lambda data: None))
    incidents = config.incidents
    assert incidents.is_private("incident-key-compromise")
    assert incidents.is_private("incident-supply-chain")
    assert not incidents.is_private("incident-release")
    assert incidents.severity_action("sev1") == (True, True)
    assert incidents.severity_action("sev2") == (True, True)
    assert incidents.severity_action("sev3") == (False, False)
    assert incidents.severity_action("sev4") == (False, False)
    assert incidents.severity_action("sev9") == (False, False)
    assert incidents.invite_groups(frozenset(config.groups)) == ("security",)
    assert incidents.invite_groups(frozenset({"operators"})) == ()


def test_a_partial_table_keeps_the_other_defaults() -> None:
    config = load(with_incidents({
        "private": {"release": True},
        "invite": ["security", "operators"],
        "severity": {"sev2": {"freeze": True, "pause": False}, "sev3": {"freeze": True}},
    }))
    incidents = config.incidents
    assert incidents.is_private("incident-release")
    assert incidents.is_private("incident-key-compromise")
    assert incidents.severity_action("sev1") == (True, True)
    assert incidents.severity_action("sev2") == (True, False)
    assert incidents.severity_action("sev3") == (True, False)
    assert incidents.invite_groups(frozenset(config.groups)) == ("security", "operators")


@pytest.mark.parametrize(("block", "text"), [
    ({"invite": ["comms"]}, "incidents.invite: group comms is not defined under groups"),
    ({"severity": {"sev1": {"freeze": False, "pause": True}}}, "pause: true needs freeze: true"),
    ({"severity": {"critical": {"freeze": True}}}, "severity 'critical': sev1 to sev9"),
    ({"severity": {"sev1": {"freze": True}}}, "freze"),
    ({"private": {"Key Compromise": True}}, "incident kind 'Key Compromise'"),
    ({"private": {"release": "maybe"}}, "release"),
    ({"unknown": 1}, "unknown"),
])
def test_refusals(block: dict[str, Any], text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(with_incidents(block))
    assert text in str(caught.value)
    assert str(caught.value).startswith("bot.yaml: ")
