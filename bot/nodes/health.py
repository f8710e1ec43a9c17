"""Health gates: the conditions, the pure evaluation and the sampler, defined with the steps
that use them (workflows/healthgate.py) and re-exported here for the node layer's users."""

from workflows.healthgate import (
    Condition,
    ConditionResult,
    GateResult,
    HealthConditions,
    HealthSample,
    HealthSampler,
    NodeVerdict,
    evaluate,
)

__all__ = [
    "Condition",
    "ConditionResult",
    "GateResult",
    "HealthConditions",
    "HealthSample",
    "HealthSampler",
    "NodeVerdict",
    "evaluate",
]
