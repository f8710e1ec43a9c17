"""Step executors, one module per kind, behind ``workflows.steps.base.StepExecutor``."""
