"""The grammar of `/parthenon release-node NODE`."""

from __future__ import annotations

import pytest

from bot.slack.errors import GrammarError
from handlers.command_help import help_for
from handlers.command_types import ReleaseNode, ShowHelp
from handlers.grammar import parse
from handlers.workflow_forms import Catalog


def test_release_node_takes_exactly_one_node_name() -> None:
    assert parse("release-node test-2", Catalog()) == ReleaseNode(node="test-2")
    assert parse("release-node help", Catalog()) == ShowHelp(topic="release-node")
    for text, message in [
        ("release-node", "needs exactly one node name"),
        ("release-node a b", "needs exactly one node name"),
        ("release-node <bad>", "is not a node name"),
    ]:
        with pytest.raises(GrammarError, match=message) as caught:
            parse(text, Catalog())
        assert caught.value.usage == "release-node <node>"


def test_release_node_is_in_the_help() -> None:
    _, entries, _ = help_for(None, Catalog())
    assert any(form.startswith("release-node") for form, _ in entries)
    _, [(form, what)], _ = help_for("release-node", Catalog())
    assert form == "release-node <node>"
    assert "genesis" in what
