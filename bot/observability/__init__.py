"""What an SRE sees of the bot: Prometheus metrics and JSON-lines logs with secrets redacted."""

from bot.observability.logs import (
    REDACTED,
    JsonFormatter,
    LoggingSetup,
    Redactor,
    secret_values,
    setup_logging,
)
from bot.observability.metrics import BotMetrics, RunsSnapshot, TimedExecutor

__all__ = [
    "REDACTED",
    "BotMetrics",
    "JsonFormatter",
    "LoggingSetup",
    "Redactor",
    "RunsSnapshot",
    "TimedExecutor",
    "secret_values",
    "setup_logging",
]
