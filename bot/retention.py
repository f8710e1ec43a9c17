"""`retention:` in the config: how long a finished run stays in Redis, and where it goes after.

    retention:
      finished_runs: 30d                       # default 30 days after the run finished
      archive_dir: /var/lib/parthenon-bot/archive
      sweep_every: 5m                          # how often each replica looks for due runs

A finished run older than ``finished_runs`` is written to ``archive_dir`` (one JSON document and
its incident log in Markdown) and then its Redis keys are deleted (``workflows.archiver``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workflows.step_models import Duration

__all__ = ["DEFAULT_ARCHIVE_DIR", "RetentionConfig"]

DEFAULT_ARCHIVE_DIR = Path("/var/lib/parthenon-bot/archive")


class RetentionConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    finished_runs: Duration = timedelta(days=30)
    archive_dir: Path = DEFAULT_ARCHIVE_DIR
    sweep_every: Duration = timedelta(minutes=5)
    enabled: bool = Field(default=True, description="false keeps every run in Redis")

    @field_validator("finished_runs")
    @classmethod
    def _not_too_short(cls, value: timedelta) -> timedelta:
        if value < timedelta(days=1):
            # A run id is its creation day and six random hex digits; a new run's id is checked
            # against the runs in Redis only. Kept a day after it finished, an archived run's
            # day is over, so no new id can be the same as one already in the archive.
            raise ValueError("finished_runs must be at least 1d (a run id is unique only among "
                             "the runs of its day still in Redis; a finished card may also "
                             "still be pressed, exported or asked about)")
        return value

    @field_validator("sweep_every")
    @classmethod
    def _sweep(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(days=1):
            raise ValueError("sweep_every must be between 1s and 1d")
        return value
