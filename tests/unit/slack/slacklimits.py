"""Slack's published Block Kit limits (``bot.slack.blocklimits``), for the renderer tests."""

from bot.slack.blocklimits import (
    MAX_BLOCKS,
    SlackRefuses,
    check_blocks,
    check_message,
    check_view,
)

__all__ = ["MAX_BLOCKS", "SlackRefuses", "check_blocks", "check_message", "check_view"]
