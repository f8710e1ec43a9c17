"""The console's errors: what was typed could not be done, or a script is wrong or failed.

    ConsoleError      a command, press or form at the console could not be done (shown, the
                      prompt goes on; a script stops there)
    ScriptError       the script file cannot be read (nothing is started)
    ScriptFailed      a script's check failed or its command could not be done
"""

from __future__ import annotations

__all__ = ["ConsoleError", "ScriptError", "ScriptFailed"]


class ConsoleError(Exception):
    """Something typed at the console could not be done; the text says why."""

    code = "console"


class ScriptError(Exception):
    """The script file itself is wrong (read before anything starts)."""

    code = "script_invalid"


class ScriptFailed(Exception):
    """A check failed or a command could not be done while running."""

    code = "script_failed"
