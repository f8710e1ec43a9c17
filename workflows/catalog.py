"""The workflows a bot runs: the definitions shipped in this package, plus a team's own directory.

A team adds a workflow, or replaces a shipped one, by putting its YAML in a directory and giving
that directory to `serve --definitions DIR` (or `definitions_dir:` in the config): a definition
there with the name of a shipped one replaces it, any other is added. The shipped files are found
with `importlib.resources`, wherever the package is installed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from workflows.definition import Definition, load_definitions
from workflows.errors import DefinitionError

__all__ = ["CatalogEntry", "load_catalog", "origins", "shipped_directory"]

CatalogEntry = tuple[Definition, str]  # the definition, and "shipped" or the file it came from


def shipped_directory() -> Path:
    """The directory of the definitions that ship with the package."""
    return Path(str(resources.files("workflows") / "definitions"))


def load_catalog(extra: Path | None = None) -> dict[str, Definition]:
    """The shipped definitions, with those of ``extra`` added or replacing one of the same
    name; a broken file in either raises DefinitionError naming the file and the step."""
    return {name: defn for name, (defn, _) in origins(extra).items()}


def origins(extra: Path | None = None) -> dict[str, CatalogEntry]:
    """Like load_catalog, and where each definition came from (for listings and check-config)."""
    found: dict[str, CatalogEntry] = {
        name: (defn, "shipped") for name, defn in load_definitions(shipped_directory()).items()
    }
    if extra is None:
        return found
    if not extra.is_dir():
        raise DefinitionError(f"{extra}: the definitions directory does not exist")
    for name, defn in load_definitions(extra).items():
        found[name] = (defn, str(extra))
    return found
