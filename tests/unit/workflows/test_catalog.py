"""A team's own definitions directory adds workflows and replaces shipped ones by name; a broken
file there is refused naming the file and the step, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows.catalog import load_catalog, origins, shipped_directory
from workflows.errors import DefinitionError

ROOT = Path(__file__).resolve().parents[3]
OWN = ROOT / "examples" / "workflows"


def test_the_shipped_definitions_are_found_as_package_data() -> None:
    """The twelve runbook workflows load from the installed package, with no extra directory."""
    catalog = load_catalog()
    assert {"promote", "rollback", "startup-check", "incident-key-compromise"} <= set(catalog)
    assert shipped_directory().is_dir()


def test_a_directory_adds_a_workflow_and_says_where_it_came_from() -> None:
    """The example drill is added beside the shipped ones, which stay."""
    found = origins(OWN)
    assert found["drill-rpc-exposure"][1] == str(OWN)
    assert found["promote"][1] == "shipped"
    assert len(found) == len(load_catalog()) + 1


def test_a_definition_of_the_same_name_replaces_the_shipped_one(tmp_path: Path) -> None:
    """A team's `backup.yaml` (here: another title) is the backup the bot runs."""
    text = (shipped_directory() / "backup.yaml").read_text()
    (tmp_path / "backup.yaml").write_text(
        text.replace("title: Backup", "title: Our backup", 1))
    catalog = load_catalog(tmp_path)
    assert catalog["backup"].title.startswith("Our backup")
    assert load_catalog()["backup"].title != catalog["backup"].title


def test_a_broken_definition_names_the_file_and_the_step(tmp_path: Path) -> None:
    """A step of an unknown kind is refused at load, naming the file and the step."""
    text = (OWN / "drill-rpc-exposure.yaml").read_text()
    (tmp_path / "drill-rpc-exposure.yaml").write_text(
        text.replace("kind: manual", "kind: teleport", 1))
    with pytest.raises(DefinitionError) as caught:
        load_catalog(tmp_path)
    assert "drill-rpc-exposure.yaml" in str(caught.value)
    assert "firewall" in str(caught.value)


def test_a_missing_directory_is_refused() -> None:
    """A definitions_dir that does not exist is an error, not silently the shipped set."""
    with pytest.raises(DefinitionError, match="does not exist"):
        load_catalog(ROOT / "no-such-directory")
