"""Every shipped workflow definition loads, cites the runbook, and plans against a config."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import BotConfig, parse_config
from bot.inventory import ConfigInventory
from bot.runtime import DEFINITIONS_DIR
from bot.workflowscli import config_findings
from tests.unit.steps.build import SAMPLE
from workflows.definition import Definition, load_definitions
from workflows.drills import DRILLS
from workflows.errors import InvalidParameters
from workflows.model import Run
from workflows.planner import plan_run
from workflows.step_models import Effect, GroupDef, StepDef, StepKind, parse_duration
from workflows.steps.rpc import RPC_ACTIONS

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"

EXPECTED = {
    "promote", "startup-check", "maintenance", "backup", "restore-drill",
    "incident-key-compromise", "incident-supply-chain", "incident-release", "rollback",
    "drill-key-rotation", "drill-incident-simulation", "drill-dr-failover",
}

PARAMS: dict[str, dict[str, str]] = {
    "promote": {"version": "v1.4.2", "git_sha": SHA, "environment": "mainnet"},
    "startup-check": {"environment": "testnet"},
    "maintenance": {"environment": "mainnet", "reason": "kernel upgrade"},
    "backup": {"environment": "mainnet"},
    "restore-drill": {"environment": "testnet", "source": "mainnet"},
    "incident-key-compromise": {"environment": "mainnet", "severity": "sev1"},
    "incident-supply-chain": {"environment": "mainnet", "severity": "sev2"},
    "incident-release": {"environment": "mainnet", "severity": "sev1"},
    "rollback": {"environment": "mainnet", "version": "v1.4.1"},
    "drill-key-rotation": {"environment": "testnet"},
    "drill-incident-simulation": {"environment": "testnet"},
    "drill-dr-failover": {"environment": "mainnet"},
}

# (workflow, a runbook reference one of its steps must cite): every runbook step has a step
RUNBOOK_STEPS = [
    ("promote", "§1 Deployment workflow step 1"),
    ("promote", "§1 Deployment workflow step 2 (RPC health)"),
    ("promote", "§1 Deployment workflow step 2 (basic transaction)"),
    ("promote", "§1 Deployment workflow step 2 (chainstate rebuild)"),
    ("promote", "§1 Deployment workflow step 3 (monitor for 1-2 hours)"),
    ("promote", "§1 Deployment workflow step 4 (health checks at each stage)"),
    ("promote", "§1 Deployment workflow step 5"),
    ("promote", "§1 Generate and archive build provenance"),
    ("promote", "§6 CI build + tests green, dependency gate green"),
    ("promote", "§6 Recovery drill completed within target SLO"),
    ("promote", "§6 Security review sign-off complete"),
    ("startup-check", "§2 step 1"),
    ("startup-check", "§2 step 2"),
    ("startup-check", "§2 step 3 (genesis consistency checks pass)"),
    ("startup-check", "§2 step 3 (chainstate rebuild completes)"),
    ("startup-check", "§2 step 3 (RPC bind/auth settings are as expected)"),
    ("startup-check", "§2 step 4"),
    ("maintenance", "§3 Capture final block height and tip hash before shutdown"),
    ("maintenance", "stop miners first, then validators, then RPC edge nodes"),
    ("maintenance", "§3 On restart, verify no chainstate reconstruction errors"),
    ("backup", "§4 Backup runbook step 1"),
    ("backup", "§4 Backup runbook step 2"),
    ("backup", "§4 Backup runbook step 3"),
    ("backup", "§4 Backup runbook step 4"),
    ("restore-drill", "§4 Restore validation step 1"),
    ("restore-drill", "§4 Restore validation step 2"),
    ("restore-drill", "§4 Restore validation step 3"),
    ("restore-drill", "§4 Restore validation step 4"),
    ("restore-drill", "§4 Restore validation step 5"),
    ("incident-key-compromise", "§5 Key compromise step 1"),
    ("incident-key-compromise", "§5 Key compromise step 2"),
    ("incident-key-compromise", "§5 Key compromise step 3"),
    ("incident-key-compromise", "§5 Key compromise step 4"),
    ("incident-supply-chain", "§5 Supply-chain step 1"),
    ("incident-supply-chain", "§5 Supply-chain step 2"),
    ("incident-supply-chain", "§5 Supply-chain step 3"),
    ("incident-supply-chain", "§5 Supply-chain step 4"),
    ("incident-release", "§5 Release incident step 1 (halt rollout)"),
    ("incident-release", "§5 Release incident step 1 (freeze new transactions"),
    ("incident-release", "§5 Release incident step 2"),
    ("incident-release", "§5 Release incident step 3"),
    ("incident-release", "§5 Release incident step 4"),
    ("rollback", "§8 step 1"),
    ("rollback", "§8 step 2"),
    ("rollback", "§8 step 3"),
    ("rollback", "§8 step 4"),
    ("rollback", "§8 step 5"),
    ("drill-key-rotation", "§7 Quarterly key rotation drill"),
    ("drill-incident-simulation", "§7 Semi-annual incident simulation"),
    ("drill-dr-failover", "§7 Annual disaster recovery failover"),
]


@pytest.fixture(scope="module")
def definitions() -> dict[str, Definition]:
    return load_definitions(DEFINITIONS_DIR)


@pytest.fixture(scope="module")
def config() -> BotConfig:
    return parse_config(SAMPLE, env={"PCB_PW": "pw", "PCB_HOOK": "hook"})


def _steps(defn: Definition) -> list[StepDef]:
    found: list[StepDef] = []
    for item in defn.steps:
        found.extend(item.steps if isinstance(item, GroupDef) else [item])
    return found


def plan(defn: Definition, config: BotConfig, **override: str) -> Run:
    params = {**PARAMS[defn.name], **override}
    return plan_run(defn, params, inventory=ConfigInventory(config), run_id="r1",
                    initiator="UOP1", now=NOW)


def test_every_workflow_is_shipped(definitions: dict[str, Definition]) -> None:
    """The runbook's procedures, incidents, rollback and drills are all loaded."""
    assert set(definitions) == EXPECTED


def test_every_drill_kind_has_its_workflow(definitions: dict[str, Definition]) -> None:
    """A reminder's button starts a workflow that exists and records that drill kind."""
    for kind, spec in DRILLS.items():
        defn = definitions[spec.workflow]
        assert defn.category == "drill"
        recorders = [s for s in _steps(defn) if s.with_.get("action") == "record_drill"]
        assert [s.with_.get("kind", "restore") for s in recorders] == [kind.value]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_step_cites_the_runbook_and_says_who_does_it(
    definitions: dict[str, Definition], name: str
) -> None:
    """Each step names its runbook section and says what the bot does and what people do."""
    defn = definitions[name]
    assert defn.runbook.startswith("§")
    for step in _steps(defn):
        assert re.search(r"§[1-8]", step.runbook), f"{name}.{step.id} cites no section"
        assert re.match(r"(Bot|Humans?|Deploy system)\b", step.description), (
            f"{name}.{step.id}: the description does not start with who acts"
        )


@pytest.mark.parametrize(("workflow", "reference"), RUNBOOK_STEPS)
def test_every_runbook_step_has_a_workflow_step(
    definitions: dict[str, Definition], workflow: str, reference: str
) -> None:
    """Each step of the runbook appears in the workflow that the design maps it to."""
    cited = [step.runbook for step in _steps(definitions[workflow])]
    assert any(reference in text for text in cited), f"{workflow} does not cite {reference}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_workflow_plans_against_a_sample_config(
    definitions: dict[str, Definition], config: BotConfig, name: str
) -> None:
    """Planned with sample parameters, every step has concrete targets where it needs them."""
    run = plan(definitions[name], config)
    assert run.plan
    for step in run.plan:
        if step.kind in {StepKind.RPC, StepKind.HEALTH}:
            assert step.targets, step.id
        assert "{{ wave" not in step.title


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_write_actions_are_declared_writes(definitions: dict[str, Definition], name: str) -> None:
    """Steps that change something go through the idempotency ledger (effect: write)."""
    for step in _steps(definitions[name]):
        action = step.with_.get("action")
        if step.kind is StepKind.RPC:
            assert action in RPC_ACTIONS
            if action in {"stop", "transaction"}:
                assert step.effect is Effect.WRITE, step.id
        if step.kind is StepKind.WEBHOOK:
            assert step.effect is Effect.WRITE


def test_promote_on_mainnet_asks_two_release_managers_per_wave(
    definitions: dict[str, Definition], config: BotConfig
) -> None:
    """Mainnet waves get the two-person approval, testnet waves the one-person one."""
    mainnet = plan(definitions["promote"], config)
    approvals = [s for s in mainnet.plan if s.kind is StepKind.APPROVAL and s.group]
    assert [s.id for s in approvals] == [
        "wave-1.approve-mainnet", "wave-2.approve-mainnet", "wave-3.approve-mainnet",
    ]
    assert {s.approval.quorum for s in approvals if s.approval} == {2}
    testnet = plan(definitions["promote"], config, environment="testnet")
    approvals = [s for s in testnet.plan if s.kind is StepKind.APPROVAL and s.group]
    assert {s.approval.quorum for s in approvals if s.approval} == {1}


def test_promote_waves_cover_the_environment_and_watch_cumulatively(
    definitions: dict[str, Definition], config: BotConfig
) -> None:
    """Deploy steps cover each node once, canary first; each gate watches all upgraded nodes."""
    run = plan(definitions["promote"], config)
    deploys = [s.targets for s in run.plan if s.group and s.id.endswith(".deploy")]
    assert deploys == [["main-miner-1"], ["main-val-1", "main-val-2"],
                       ["main-val-3", "main-edge-1"]]
    gates = [s.targets for s in run.plan if s.group and s.id.endswith(".health")]
    assert gates[-1] == ["main-miner-1", "main-val-1", "main-val-2", "main-val-3", "main-edge-1"]
    canary = next(s for s in run.plan if s.id == "canary-monitor")
    assert canary.environment == "testnet"
    assert canary.targets == ["test-1"]
    assert canary.offer_on_failure == "rollback"
    assert all(s.offer_on_failure == "rollback" for s in run.plan if s.id.endswith(".health"))


def test_promote_refuses_an_environment_without_a_filtered_approval(
    definitions: dict[str, Definition], config: BotConfig
) -> None:
    """Only environments with an approval alternative can be promoted to (none go unapproved)."""
    with pytest.raises(InvalidParameters, match="mainnet, testnet"):
        plan(definitions["promote"], config, environment="regtest")


@pytest.mark.parametrize(
    ("name", "param", "value"),
    [
        ("promote", "version", "1.4"),
        ("promote", "git_sha", "xyz"),
        ("promote", "canary_window", "an hour"),
        ("incident-release", "lkg_hash", "abc"),
        ("incident-release", "severity", "critical"),
    ],
)
def test_bad_parameters_are_refused_with_the_right_form(
    definitions: dict[str, Definition], config: BotConfig, name: str, param: str, value: str
) -> None:
    """A malformed parameter is refused at start, naming the usage."""
    with pytest.raises(InvalidParameters, match="Usage"):
        plan(definitions[name], config, **{param: value})


def test_default_windows_match_the_runbook(definitions: dict[str, Definition]) -> None:
    """The canary is watched for an hour by default (the runbook says 1-2 hours)."""
    spec = definitions["promote"].parameter("canary_window")
    assert spec is not None
    assert parse_duration(spec.default) == timedelta(hours=1)


def test_the_sample_config_lacks_nothing_the_definitions_need(
    definitions: dict[str, Definition], config: BotConfig
) -> None:
    """Every approver and responder group is populated and every named environment exists."""
    assert config_findings(definitions, config) == []


def test_a_config_without_the_security_group_is_reported(
    definitions: dict[str, Definition],
) -> None:
    """A missing group is reported per step: nobody could approve the security sign-off."""
    text = SAMPLE.replace("  security: [USEC1]\n", "")
    assert "security" not in text
    config = parse_config(text, env={"PCB_PW": "pw", "PCB_HOOK": "hook"})
    findings = config_findings(definitions, config)
    assert any(f.startswith("promote.security-signoff: group security") for f in findings)
