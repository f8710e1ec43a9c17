"""Pure renderers: runs, requests, modals, help, health and App Home as Block Kit.

They take data and return blocks; they hold no client and await nothing, so every surface can be
tested by looking at what it returns. Everything a person typed or a node answered is escaped
(``bot.slack.escape``).
"""

from bot.slack.views._blocks import Block, Message, context, notice, section
from bot.slack.views.card import (
    RUN_EMOJI,
    STEP_EMOJI,
    Viewer,
    button_value,
    card_actions,
    participants,
    run_card,
    run_line,
    viewer_may,
)
from bot.slack.views.export import incident_log_messages
from bot.slack.views.freeze import freeze_announcement
from bot.slack.views.health import NodeRow, health_table
from bot.slack.views.help import HelpEntry, help_message
from bot.slack.views.home import HomeItem, drill_line, drill_reminder, home_view
from bot.slack.views.modals import (
    confirm_modal,
    input_block_id,
    param_block_id,
    reason_modal,
    start_modal,
)
from bot.slack.views.requests import (
    approval_request,
    confirmation_request,
    notification,
    thread_message,
)
from bot.slack.views.resolved import (
    OpenRequest,
    is_request,
    posted_request,
    request_outcome,
    resolved_request,
)

__all__ = [
    "RUN_EMOJI",
    "STEP_EMOJI",
    "Block",
    "HelpEntry",
    "HomeItem",
    "Message",
    "NodeRow",
    "OpenRequest",
    "Viewer",
    "approval_request",
    "button_value",
    "card_actions",
    "confirm_modal",
    "confirmation_request",
    "context",
    "drill_line",
    "drill_reminder",
    "freeze_announcement",
    "health_table",
    "help_message",
    "home_view",
    "incident_log_messages",
    "input_block_id",
    "is_request",
    "notice",
    "notification",
    "param_block_id",
    "participants",
    "posted_request",
    "reason_modal",
    "request_outcome",
    "resolved_request",
    "run_card",
    "run_line",
    "section",
    "start_modal",
    "thread_message",
    "viewer_may",
]
