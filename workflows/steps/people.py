"""Executors of the steps that wait for people: approvals and manual confirmations.

Executing one only opens the request; the machine then applies Approve, Reject and Confirm
commands against the step's policy (quorum of distinct people, initiator rule, plan hash).
"""

from __future__ import annotations

from workflows.model import Outcome, OutcomeFailed, OutcomeWait
from workflows.step_models import StepKind
from workflows.steps.base import StepContext

__all__ = ["ApprovalExecutor", "ManualExecutor"]


class ApprovalExecutor:
    kind = StepKind.APPROVAL

    async def execute(self, ctx: StepContext) -> Outcome:
        if ctx.step.approval is None:
            return OutcomeFailed(error="the approval step has no policy")
        groups = ", ".join(ctx.step.approval.groups)
        return OutcomeWait(
            waiting_for="approval",
            note=f"needs {ctx.step.approval.quorum} of {groups}; plan {ctx.run.plan_hash}",
        )

    async def verify(self, ctx: StepContext) -> Outcome | None:
        return None


class ManualExecutor:
    kind = StepKind.MANUAL

    async def execute(self, ctx: StepContext) -> Outcome:
        instructions = ctx.args.get("instructions")
        return OutcomeWait(
            waiting_for="confirmation",
            note=str(instructions) if instructions else None,
        )

    async def verify(self, ctx: StepContext) -> Outcome | None:
        return None
