"""A durable timer step: ``with: {duration: 5m}``. The wait survives restarts: its end time is
kept in the step's data and the engine wakes the run at that time."""

from __future__ import annotations

from datetime import datetime, timedelta

from workflows.model import Outcome, OutcomeFailed, OutcomeReschedule, OutcomeSucceeded
from workflows.step_models import StepKind, parse_duration
from workflows.steps.base import StepContext

__all__ = ["WaitExecutor"]


class WaitExecutor:
    kind = StepKind.WAIT

    async def execute(self, ctx: StepContext) -> Outcome:
        until_text = ctx.state.data.get("until")
        if until_text is None:
            try:
                duration = parse_duration(ctx.args.get("duration", "0s"))
            except ValueError as exc:
                return OutcomeFailed(error=str(exc))
            if not isinstance(duration, timedelta):
                return OutcomeFailed(error="a wait step needs a duration like '5m'")
            start, until = ctx.now, ctx.now + duration
        else:
            start = datetime.fromisoformat(str(ctx.state.data["start"]))
            until = datetime.fromisoformat(str(until_text))
        if ctx.now >= until:
            return OutcomeSucceeded(result={"waited_until": until.isoformat()})
        total = max((until - start).total_seconds(), 1e-9)
        done = (ctx.now - start).total_seconds() / total
        return OutcomeReschedule(
            at=until,
            data={"start": start.isoformat(), "until": until.isoformat()},
            progress=min(max(done, 0.0), 1.0),
            progress_text=f"until {until:%H:%M:%S} UTC",
            waiting_for="timer",
        )

    async def verify(self, ctx: StepContext) -> Outcome | None:
        return await self.execute(ctx)
