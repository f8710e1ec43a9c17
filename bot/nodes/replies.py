"""Typed shapes of what nodes answer (defined in workflows/nodereplies.py, which the steps read)."""

from workflows.nodereplies import NodeHealth, StopOutcome, StopResult, Tip

__all__ = ["NodeHealth", "StopOutcome", "StopResult", "Tip"]
