"""Modals: a reason for a rejection, a skip or an abort; the inputs of a manual step; the
parameters of a workflow to start (an offered rollback, a drill)."""

from __future__ import annotations

from typing import Any

from bot.slack.escape import code, inline, plain
from bot.slack.ids import REASON_INPUT, BlockId, CallbackId
from bot.slack.payloads import ModalMetadata
from bot.slack.views._blocks import Block, plain_text, section
from workflows.definition import Definition, ParameterSpec
from workflows.model import PlannedStep, Run

__all__ = ["confirm_modal", "input_block_id", "param_block_id", "reason_modal", "start_modal"]

_TITLES: dict[CallbackId, tuple[str, str, str]] = {
    # callback -> (modal title, input label, submit label)
    CallbackId.REJECT: ("Reject step", "Why do you reject it?", "Reject"),
    CallbackId.SKIP: ("Skip step", "Why skip it?", "Skip"),
    CallbackId.ABORT: ("Abort run", "Why abort the run?", "Abort"),
}


def _view(callback: CallbackId, title: str, submit: str, blocks: list[Block],
          meta: ModalMetadata) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": str(callback),
        "title": plain_text(plain(title, 24), 24),
        "submit": plain_text(plain(submit, 24), 24),
        "close": plain_text("Cancel", 24),
        "private_metadata": meta.dump(),
        "blocks": blocks,
    }


def reason_modal(callback: CallbackId, run: Run, meta: ModalMetadata,
                 step: PlannedStep | None = None) -> dict[str, Any]:
    """A modal that requires a reason (1-1000 characters)."""
    title, label, submit = _TITLES[callback]
    about = f"*{inline(run.title, 150)}* {code(run.id, 40)}"
    if step is not None:
        about += f"\nStep: *{inline(step.title, 200)}*"
    blocks: list[Block] = [
        section(about),
        {
            "type": "input",
            "block_id": str(BlockId.REASON),
            "label": plain_text(plain(label, 200), 2000),
            "element": {
                "type": "plain_text_input",
                "action_id": REASON_INPUT,
                "multiline": True,
                "min_length": 1,
                "max_length": 1000,
            },
        },
    ]
    return _view(callback, title, submit, blocks, meta)


def input_block_id(name: str) -> str:
    return f"{BlockId.CONFIRM_INPUT}:{name}"


def confirm_modal(run: Run, step: PlannedStep, meta: ModalMetadata) -> dict[str, Any]:
    """The inputs a manual step requires (a checksum, a host, a link), each with its check."""
    intro = f"*{inline(step.title, 200)}*\n{inline(run.title, 150)} {code(run.id, 40)}"
    if step.description:
        intro += f"\n{inline(step.description, 1500)}"
    blocks: list[Block] = [section(intro)]
    for spec in step.inputs[:20]:
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": spec.name,
            "max_length": spec.max_length,
        }
        block: Block = {
            "type": "input",
            "block_id": input_block_id(spec.name),
            "label": plain_text(plain(spec.label, 200), 2000),
            "element": element,
            "optional": not spec.required,
        }
        if spec.pattern:
            block["hint"] = plain_text(plain(f"Expected form: {spec.pattern}", 200), 2000)
        blocks.append(block)
    return _view(CallbackId.CONFIRM, "Confirm step", "Confirm", blocks, meta)


def param_block_id(name: str) -> str:
    return f"{BlockId.START_PARAM}:{name}"


def start_modal(defn: Definition, prefill: dict[str, str], meta: ModalMetadata,
                about: str = "") -> dict[str, Any]:
    """One input per parameter of ``defn`` (a select for choices), prefilled with ``prefill``
    or the parameter's default; a parameter without a default that must be given is required.
    ``about`` is safe mrkdwn saying where the form comes from (the halted run)."""
    intro = f"*{inline(defn.title, 150)}* ({code(defn.name, 60)})"
    if about:
        intro += f"\n{about}"
    intro += "\nCheck every value: nothing starts until you press Start."
    blocks: list[Block] = [section(intro)]
    for spec in defn.parameters[:40]:
        initial = prefill.get(spec.name) or spec.default or ""
        block: Block = {
            "type": "input",
            "block_id": param_block_id(spec.name),
            "label": plain_text(plain(spec.name, 200), 2000),
            "element": _param_element(spec, initial),
            "optional": not spec.required or spec.default is not None,
        }
        if spec.help:
            block["hint"] = plain_text(plain(spec.help, 200), 2000)
        blocks.append(block)
    return _view(CallbackId.START, f"Start {defn.name}", "Start", blocks, meta)


def _param_element(spec: ParameterSpec, initial: str) -> dict[str, Any]:
    if spec.choices:
        options = [{"text": plain_text(plain(c, 75), 75), "value": c[:150]}
                   for c in spec.choices[:100]]
        element: dict[str, Any] = {
            "type": "static_select",
            "action_id": spec.name,
            "placeholder": plain_text("Choose one", 150),
            "options": options,
        }
        chosen = [o for o in options if o["value"] == initial]
        if chosen:
            element["initial_option"] = chosen[0]
        return element
    element = {"type": "plain_text_input", "action_id": spec.name,
               "max_length": min(spec.max_length, 3000)}
    if initial and len(initial) <= spec.max_length:
        element["initial_value"] = initial
    return element
