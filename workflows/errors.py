"""Errors of the workflow layer.

WorkflowError                 every error here; ``code`` is stable, ``str()`` is for humans
 +-- DefinitionError          a workflow definition (YAML) is invalid; names the file and step
 +-- InvalidParameters        a start request's parameters do not fit the definition
 +-- InvalidCommand           the machine refuses an event in the run's current state
 +-- NotAuthorized            the actor may not do this (the config says who may)
 +-- RunNotFound              no run with that id
 +-- PromotionFrozen          a promotion freeze is on
 +-- EnvironmentLocked        another run holds the lock of an environment this run writes to
 +-- VersionConflict          the run changed under us; re-read and apply again
 +-- LeaseLost                this worker no longer holds the run's lease (fencing)
 +-- OutcomeUnknown           a side-effecting call may or may not have happened (raised by an
                              executor: the engine verifies the step, else it is in doubt)
 +-- RedisUrlError            a Redis URL the bot cannot use (never echoes the URL: passwords)
"""

from __future__ import annotations

__all__ = [
    "DefinitionError",
    "EnvironmentLocked",
    "InvalidCommand",
    "InvalidParameters",
    "LeaseLost",
    "NotAuthorized",
    "OutcomeUnknown",
    "PromotionFrozen",
    "RedisUrlError",
    "RunNotFound",
    "VersionConflict",
    "WorkflowError",
]


class WorkflowError(Exception):
    """Base of the workflow layer's errors."""

    code = "workflow_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DefinitionError(WorkflowError):
    code = "definition_invalid"


class InvalidParameters(WorkflowError):
    """``parameter`` names the one at fault, when one is (a form shows the error on its field);
    ``problem`` is the message without the command's usage line."""

    code = "invalid_parameters"

    def __init__(self, message: str, *, parameter: str | None = None,
                 usage: str | None = None) -> None:
        super().__init__(f"{message}. Usage: {usage}" if usage else message)
        self.parameter = parameter
        self.problem = message


class InvalidCommand(WorkflowError):
    code = "invalid_command"


class NotAuthorized(WorkflowError):
    code = "not_authorized"


class RunNotFound(WorkflowError):
    code = "run_not_found"


class PromotionFrozen(WorkflowError):
    code = "promotion_frozen"


class EnvironmentLocked(WorkflowError):
    """``holder``: the run that holds the lock; ``environment``: which lock."""

    code = "environment_locked"

    def __init__(self, message: str, *, environment: str = "", holder: str = "") -> None:
        super().__init__(message)
        self.environment = environment
        self.holder = holder


class VersionConflict(WorkflowError):
    code = "version_conflict"


class LeaseLost(WorkflowError):
    code = "lease_lost"


class OutcomeUnknown(WorkflowError):
    code = "outcome_unknown"


class RedisUrlError(WorkflowError):
    code = "redis_url"
