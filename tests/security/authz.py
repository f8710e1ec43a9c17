"""The authorization matrix's world: the shipped workflow definitions, a config with every group
they name, and runs put into the state each action needs, without any node.

States are reached the way the engine reaches them: the run's steps are finished with engine
events applied through the store (no worker, no lease), so the machine and the store are the
real ones; only the step executors (which would talk to nodes) are left out.

The rules the matrix expects are written out here on their own (``allowed``), from the design:
approvers by the step's groups and never the initiator; rejecters by the step's reject groups or
its approvers; confirmers by the step's responders, else the workflow's operators; pause and
abort by the initiator or an operator; resume, retry and skip by operators only.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import BotConfig, parse_config
from workflows.apply import apply
from workflows.model import (
    Abort,
    Approve,
    Command,
    Confirm,
    OutcomeFailed,
    OutcomeSucceeded,
    OutcomeWait,
    Pause,
    PlannedStep,
    Reject,
    Resume,
    Retry,
    Run,
    Skip,
    StepBegan,
    StepFinished,
)
from workflows.step_models import Effect, StepKind
from workflows.store import RunStore

__all__ = [
    "ACTIONS",
    "CONFIG_TEXT",
    "NOBODY",
    "PARAMS",
    "Case",
    "allowed",
    "command_for",
    "initiator_for",
    "matrix_config",
    "member_for",
    "params_for",
    "reach",
    "target_of",
]

ACTIONS = ("start", "approve", "reject", "confirm", "pause", "resume", "abort", "retry", "skip")
NOBODY = "UNOBODY01"  # in no group at all

GROUPS = {
    "operators": ["UOPAZ001", "UOPAZ002"],
    "release-managers": ["URMAZ001", "URMAZ002", "URMAZ003"],
    "security": ["USECAZ01", "USECAZ02"],
    "responders": ["URESAZ01", "URESAZ02"],
}


def _nodes(prefix: str, count: int, port: int) -> str:
    """Node entries; their URLs are never called (no step is executed here)."""
    lines = []
    for i in range(1, count + 1):
        canary = "true" if i == 1 else "false"
        role = "miner" if i == 1 else "validator"
        url = f"http://127.0.0.1:{port + i}"
        lines.append(f'      - {{name: {prefix}-{i}, rpc_url: "{url}", role: {role}, '
                     f"canary: {canary}}}")
    return "\n".join(lines)


CONFIG_TEXT = f"""
environments:
  regtest:
    network: regtest
    rpc_credentials: {{user: parthenon, password_env: AUTHZ_RPC_PASSWORD}}
    nodes:
{_nodes("rt", 1, 19000)}
  testnet:
    network: testnet
    rpc_credentials: {{user: parthenon, password_env: AUTHZ_RPC_PASSWORD}}
    nodes:
{_nodes("tn", 4, 19100)}
  mainnet:
    network: mainnet
    rpc_credentials: {{user: parthenon, password_env: AUTHZ_RPC_PASSWORD}}
    nodes:
{_nodes("mn", 4, 19200)}
groups:
""" + "".join(f"  {name}: [{', '.join(users)}]\n" for name, users in GROUPS.items()) + """
permissions:
  promote: {start: [release-managers], operate: [operators]}
  rollback: {start: [release-managers, security]}
  incident-key-compromise: {start: [operators, security], operate: [responders, security]}
  incident-supply-chain: {start: [operators, security], operate: [responders, security]}
  incident-release: {start: [operators, security], operate: [responders, security]}
  default: {start: [operators], operate: [operators]}
slack:
  ops_channel: C0AUTHZ
  incident_responders: [responders]
"""

AUTHZ_RPC_PASSWORD = "authz-rpc-password-never-logged"

#: Parameters good enough to plan each shipped workflow.
PARAMS: dict[str, dict[str, str]] = {
    "promote": {"version": "v1.4.2", "git_sha": "abc1234", "environment": "mainnet"},
    "rollback": {"environment": "mainnet", "version": "v1.4.1"},
    "maintenance": {"environment": "testnet", "reason": "disk swap"},
    "restore-drill": {"environment": "testnet", "source": "snapshot-1"},
    "incident-key-compromise": {"environment": "mainnet", "severity": "sev2"},
    "incident-release": {"environment": "mainnet", "severity": "sev2"},
    "incident-supply-chain": {"environment": "mainnet", "severity": "sev2"},
}

_INPUTS = {
    None: "host-7",
    "[0-9a-f]{64}": "ab" * 32,
    "[0-9a-f]{7,40}": "abcdef1",
    r"\d+": "42",
    r"https?://\S+": "https://ci.example/run/1",
}


def matrix_config() -> BotConfig:
    return parse_config(CONFIG_TEXT, source="authz.yaml",
                        env={"AUTHZ_RPC_PASSWORD": AUTHZ_RPC_PASSWORD})


def params_for(workflow: str) -> dict[str, str]:
    return PARAMS.get(workflow, {"environment": "testnet"})


def _in(config: BotConfig, user: str, groups: list[str] | tuple[str, ...]) -> bool:
    return any(user in config.groups.get(group, frozenset()) for group in groups)


def initiator_for(config: BotConfig, workflow: str) -> str:
    """Someone who may start the workflow; not an operator of it when the config allows."""
    start, operate = config.permission(workflow)
    starters = [u for g in start for u in GROUPS.get(g, [])]
    outside = [u for u in starters if not _in(config, u, operate)]
    return (outside or starters)[0]


@dataclass(frozen=True)
class Case:
    """Where an action is tried: the step, and the state the run is put in."""

    step: PlannedStep
    state: str  # approval | confirmation | blocked | running | paused
    fits: bool  # the run is in the state the action needs (else: refused for everyone)


def target_of(run: Run, action: str) -> Case:
    first = run.plan[0]
    if action in ("approve", "reject"):
        step = next((s for s in run.plan if s.kind is StepKind.APPROVAL), None)
        return Case(step, "approval", True) if step else Case(first, "running", False)
    if action == "confirm":
        step = next((s for s in run.plan if s.kind is StepKind.MANUAL), None)
        return Case(step, "confirmation", True) if step else Case(first, "running", False)
    if action in ("retry", "skip"):
        step = next((s for s in run.plan if s.on_failure == "block"), None)
        return Case(step, "blocked", True) if step else Case(first, "running", False)
    if action == "resume":
        return Case(first, "paused", True)
    return Case(first, "running", True)


def member_for(config: BotConfig, run: Run, action: str, case: Case) -> str:
    """Someone in the group the action asks for, other than the initiator."""
    start, operate = config.permission(run.workflow)
    groups: list[str] | tuple[str, ...] = operate
    if action == "start":
        groups = start
    elif action in ("approve", "reject") and case.step.approval is not None:
        groups = case.step.approval.groups
        if action == "reject" and case.step.approval.reject_groups:
            groups = case.step.approval.reject_groups
    elif action == "confirm" and case.step.responders:
        groups = case.step.responders
    candidates = [u for g in groups for u in GROUPS.get(g, []) if u != run.initiator]
    return candidates[0]


def allowed(config: BotConfig, run: Run, action: str, case: Case, actor: str) -> bool:
    """The design's rules, stated independently of the code under test."""
    start, operate = config.permission(run.workflow)
    if action == "start":
        return _in(config, actor, start)
    if not case.fits:
        return False
    step = case.step
    if action == "approve":
        policy = step.approval
        assert policy is not None
        return _in(config, actor, policy.groups) and (
            actor != run.initiator or policy.allow_initiator)
    if action == "reject":
        policy = step.approval
        assert policy is not None
        return _in(config, actor, policy.reject_groups or policy.groups)
    if action == "confirm":
        return _in(config, actor, step.responders) if step.responders else _in(
            config, actor, operate)
    if action in ("pause", "abort"):
        return actor == run.initiator or _in(config, actor, operate)
    if action == "skip":
        skippable = step.skip.allowed and (
            step.kind is not StepKind.APPROVAL or step.skip.approval is not None)
        return skippable and _in(config, actor, operate)
    return _in(config, actor, operate)  # resume, retry


def command_for(run: Run, action: str, case: Case, actor: str) -> Command:
    step = case.step
    match action:
        case "approve":
            return Approve(actor=actor, step_id=step.id, plan_hash=run.plan_hash)
        case "reject":
            return Reject(actor=actor, step_id=step.id, reason="not this one")
        case "confirm":
            # A release gate confirmed by a person takes the release itself (InputSpec.release).
            inputs = {spec.name: spec.release or _INPUTS[spec.pattern] for spec in step.inputs}
            return Confirm(actor=actor, step_id=step.id, inputs=inputs)
        case "pause":
            return Pause(actor=actor, reason="hold on")
        case "resume":
            return Resume(actor=actor)
        case "abort":
            return Abort(actor=actor, reason="stop it")
        case "retry":
            return Retry(actor=actor, step_id=step.id)
        case "skip":
            return Skip(actor=actor, step_id=step.id, reason="done by hand")
    raise AssertionError(action)


async def reach(store: RunStore, run: Run, case: Case) -> Run:
    """Finish the steps before ``case.step`` (engine events), then put it in ``case.state``."""
    for _ in range(len(run.plan) * 2):
        current = run.current
        assert current is not None, f"{run.workflow} ended before {case.step.id}"
        step, state = current
        if step.id == case.step.id:
            break
        run = await _finish(store, run, step, state.attempt + 1, OutcomeSucceeded())
    else:
        raise AssertionError(f"{run.workflow} never reached {case.step.id}")
    attempt = run.steps[run.cursor or 0].attempt + 1
    match case.state:
        case "approval":
            run = await _finish(store, run, case.step, attempt, OutcomeWait(waiting_for="approval"))
        case "confirmation":
            run = await _finish(store, run, case.step, attempt,
                                OutcomeWait(waiting_for="confirmation"))
        case "blocked":
            run = await _finish(store, run, case.step, attempt,
                                OutcomeFailed(error="the node said no"))
        case "paused":
            outcome = await apply(store, run.id, Pause(actor="parthenon-bot"), now=store.now)
            assert outcome.run is not None
            run = outcome.run
    return run


async def _finish(store: RunStore, run: Run, step: PlannedStep, attempt: int,
                  outcome: OutcomeSucceeded | OutcomeWait | OutcomeFailed) -> Run:
    if step.effect is Effect.WRITE:
        began = await apply(store, run.id, StepBegan(step_id=step.id, attempt=attempt),
                            now=store.now)
        assert began.run is not None
    done = await apply(store, run.id, StepFinished(step_id=step.id, attempt=attempt,
                                                  outcome=outcome), now=store.now)
    assert done.run is not None
    return done.run
