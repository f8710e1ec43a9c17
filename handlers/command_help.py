"""The `/parthenon` help: every command's form and what it does, overview or one command.

The workflow commands' forms come from the catalog (the loaded definitions), the others from
``handlers.command_types``: the same forms the grammar parses. ``bot.slack.views.help`` renders
what ``help_for`` returns.
"""

from __future__ import annotations

from handlers.command_types import COMMANDS, DIRECT, STATIC_HELP
from handlers.workflow_forms import Catalog, WorkflowForm

__all__ = ["help_for"]


def help_for(topic: str | None, catalog: Catalog) -> tuple[str, list[tuple[str, str]], str]:
    """(title, [(form, what it does)], footer) for the overview or one command."""
    footer = "Run ids look like r20240501-a1b2c3. `name=value` sets a parameter by name."
    if topic is None:
        entries = [(f"{name} ...", _summary(name, catalog)) for name in COMMANDS]
        return "Parthenon bot commands", entries, "`/parthenon <command> help` for one command."
    if topic in STATIC_HELP:
        form, what = STATIC_HELP[topic]
        return f"/parthenon {topic}", [(form, what)], footer
    if topic in DIRECT:
        wf = catalog.workflows.get(topic)
        if wf is None:
            return f"/parthenon {topic}", [(topic, "not available: no definition is loaded")], ""
        return f"/parthenon {topic}: {wf.title}", [(wf.usage, _describe(wf))], footer
    kinds = catalog.kinds("incident-") if topic == "incident" else catalog.drills()
    entries = []
    for kind, workflow in kinds.items():
        wf = catalog.workflows[workflow]
        form = f"{topic} {kind} " + wf.usage.removeprefix(wf.name).strip()
        entries.append((form.strip(), _describe(wf)))
    if not entries:
        entries = [(f"{topic} <kind>", "none are defined")]
    return f"/parthenon {topic}", entries, footer


def _summary(name: str, catalog: Catalog) -> str:
    if name in STATIC_HELP:
        return STATIC_HELP[name][1]
    if name in DIRECT:
        wf = catalog.workflows.get(name)
        return wf.title if wf else "not available"
    kinds = catalog.kinds("incident-") if name == "incident" else catalog.drills()
    return f"{'Open an incident' if name == 'incident' else 'Run a drill'}: " + (
        ", ".join(kinds) or "none defined"
    )


def _describe(form: WorkflowForm) -> str:
    parts = [form.title + (f". {form.description}" if form.description else "")]
    for p in form.params:
        bits = [p.help] if p.help else []
        if p.choices:
            bits.append("one of " + ", ".join(p.choices))
        if not p.required:
            bits.append("optional")
        if p.free_text:
            bits.append("free text, the rest of the line")
        parts.append(f"{p.name}: {'; '.join(bits) or 'required'}")
    return "\n".join(parts)
