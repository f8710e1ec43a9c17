"""Every Slack id the bot puts in a payload, one enum per kind, so an action id can never be
passed where a block id or a modal's callback id belongs."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["REASON_INPUT", "SLASH_COMMAND", "ActionId", "BlockId", "CallbackId"]

SLASH_COMMAND = "/parthenon"


class ActionId(StrEnum):
    """Buttons; the handler for each is in handlers/actions.py."""

    APPROVE = "run.approve"
    REJECT = "run.reject"  # opens the reject-reason modal
    CONFIRM = "run.confirm"  # confirms, or opens the inputs modal when the step needs inputs
    PAUSE = "run.pause"
    RESUME = "run.resume"
    ABORT = "run.abort"  # opens the abort-reason modal
    RETRY = "run.retry"
    SKIP = "run.skip"  # opens the skip-reason modal
    # an offered follow-up (rollback; opens the start modal) or a due drill (starts it, or opens
    # the start modal when a required parameter is unknown)
    START_WORKFLOW = "workflow.start"
    EXPORT_LOG = "run.export"  # posts the run's incident log in its thread
    REFRESH_HOME = "home.refresh"


class BlockId(StrEnum):
    CARD_HEADER = "card.header"
    CARD_FACTS = "card.facts"
    CARD_STEPS = "card.steps"  # followed by ".<n>" when the checklist spans several sections
    CARD_CURRENT = "card.current"
    CARD_ACTIONS = "card.actions"
    CARD_FOOTER = "card.footer"
    REQUEST_ACTIONS = "request.actions"
    REASON = "modal.reason"
    CONFIRM_INPUT = "modal.input"  # followed by ":<input name>"
    START_PARAM = "modal.param"  # followed by ":<parameter name>"
    HOME_ACTIONS = "home.actions"


class CallbackId(StrEnum):
    """Modals (views); the handler for each is in handlers/modals.py."""

    REJECT = "modal.reject"
    CONFIRM = "modal.confirm"
    SKIP = "modal.skip"
    ABORT = "modal.abort"
    START = "modal.start"  # a workflow's parameters, to start it (an offer, a drill)


# Inside a modal the reason input has one action id; it is not a button, so not an ActionId.
REASON_INPUT = "reason"
