"""The workflow commands' forms, taken from the loaded workflow definitions.

Parameters in order, as `workflows.planner.usage` prints them, so the grammar, the help and the
definitions never disagree. A parameter named as prose (``FREE_TEXT_NAMES``), without pattern or
choices and with no required parameter after it, is free text: unquoted, it takes the rest of the
line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from workflows.definition import Definition
from workflows.planner import usage as definition_usage

__all__ = ["Catalog", "ParamForm", "WorkflowForm"]

#: Parameters whose value is prose: unquoted, it takes the rest of the line.
FREE_TEXT_NAMES = frozenset(
    {"summary", "reason", "description", "details", "note", "notes", "message", "comment"}
)


@dataclass(frozen=True)
class ParamForm:
    name: str
    required: bool
    free_text: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkflowForm:
    name: str
    title: str
    description: str
    category: str
    params: tuple[ParamForm, ...]
    usage: str  # "promote <version> <git_sha> [config_checksum] <testnet|mainnet>"


@dataclass(frozen=True)
class Catalog:
    """The workflow forms the loaded definitions allow."""

    workflows: Mapping[str, WorkflowForm] = field(default_factory=dict)

    @classmethod
    def from_definitions(cls, definitions: Mapping[str, Definition]) -> Catalog:
        forms: dict[str, WorkflowForm] = {}
        for name, defn in definitions.items():
            params = []
            specs = defn.parameters
            for index, spec in enumerate(specs):
                later_required = any(
                    p.required and p.default is None for p in specs[index + 1 :]
                )
                params.append(
                    ParamForm(
                        name=spec.name,
                        required=spec.required and spec.default is None,
                        free_text=spec.name in FREE_TEXT_NAMES and spec.pattern is None
                        and not spec.choices and not later_required,
                        help=spec.help,
                        choices=tuple(spec.choices or ()),
                    )
                )
            forms[name] = WorkflowForm(
                name=name,
                title=defn.title,
                description=defn.description,
                category=defn.category,
                params=tuple(params),
                usage=definition_usage(defn),
            )
        return cls(forms)

    def kinds(self, prefix: str) -> dict[str, str]:
        """`incident-key-compromise` -> {"key-compromise": "incident-key-compromise"}."""
        return {
            name.removeprefix(prefix): name
            for name in sorted(self.workflows)
            if name.startswith(prefix) and len(name) > len(prefix)
        }

    def drills(self) -> dict[str, str]:
        """Drill kind -> workflow: `drill-x`, `x-drill`, or any workflow of category drill."""
        found: dict[str, str] = {}
        for name, form in sorted(self.workflows.items()):
            if name.startswith("drill-"):
                found[name.removeprefix("drill-")] = name
            elif name.endswith("-drill"):
                found[name.removesuffix("-drill")] = name
            elif form.category == "drill":
                found[name] = name
        return found
