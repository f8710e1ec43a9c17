"""`check-config --offline` refuses configs that load but cannot work: a quorum nobody can meet,
a promotion target or canary environment without a canary node, a group with no members, a
window minimum that is not a duration. Each problem is printed with its field; none is hidden
behind "(and N more)". The shipped example passes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml

from bot.checkconfig import run_check_config

ROOT = Path(__file__).resolve().parents[3]
ENV = {"RPC_PW": "pw"}


def node(name: str, port: int, canary: bool = False) -> dict[str, Any]:
    return {"name": name, "rpc_url": f"http://127.0.0.1:{port}", "role": "validator",
            "canary": canary}


def document(**changes: Any) -> dict[str, Any]:
    credentials = {"user": "u", "password_env": "RPC_PW"}
    doc: dict[str, Any] = {
        "environments": {
            "regtest": {"network": "regtest", "rpc_credentials": credentials,
                        "nodes": [node("reg-1", 18443)]},
            "testnet": {"network": "testnet", "rpc_credentials": credentials,
                        "nodes": [node("test-1", 18332, canary=True), node("test-2", 18342)]},
            "mainnet": {"network": "mainnet", "rpc_credentials": credentials,
                        "nodes": [node("main-1", 8332, canary=True), node("main-2", 8333)]},
        },
        "groups": {"release-managers": ["URM0001", "URM0002", "URM0003"],
                   "security": ["USEC001"], "operators": ["UOP0001", "URM0001"]},
        "permissions": {"default": {"start": ["release-managers", "operators"],
                                    "operate": ["operators"]}},
    }
    doc.update(changes)
    return doc


def check(tmp_path: Path, doc: dict[str, Any], env: dict[str, str] | None = None) -> tuple[
        int, str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = io.StringIO()
    code = run_check_config(["--offline", str(path)], env=env or ENV, out=out)
    return code, out.getvalue()


def fails(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("FAIL")]


def test_a_config_that_can_work_passes(tmp_path: Path) -> None:
    code, out = check(tmp_path, document())
    assert code == 0, out
    assert fails(out) == []


def test_a_quorum_nobody_can_meet_fails_naming_the_group(tmp_path: Path) -> None:
    """Mainnet waves need two release managers other than the initiator: with two members,
    one of whom may start the promotion, that is one short."""
    doc = document()
    doc["groups"]["release-managers"] = ["URM0001", "URM0002"]
    code, out = check(tmp_path, doc)
    assert code == 1
    lines = fails(out)
    assert ("FAIL  workflow promote: groups.release-managers: step wave.approve-mainnet on "
            "mainnet: approval needs 2 distinct approvers from release-managers, which has 1 "
            "member other than the initiator [quorum_unreachable]") in lines
    assert any("workflow rollback" in line and "mainnet" in line for line in lines)
    assert not any("on testnet" in line for line in lines)  # testnet waves need one


def test_a_promotion_target_without_a_canary_fails(tmp_path: Path) -> None:
    doc = document()
    doc["environments"]["mainnet"]["nodes"] = [node("main-1", 8332), node("main-2", 8333)]
    doc["environments"]["testnet"]["nodes"] = [node("test-1", 18332)]
    code, out = check(tmp_path, doc)
    assert code == 1
    lines = fails(out)
    assert ("FAIL  workflow promote: environments.mainnet.nodes: mainnet is a promotion's "
            "target and has no canary node (mark one `canary: true`) [no_canary]") in lines
    assert any(line.startswith("FAIL  workflow promote: environments.testnet.nodes: testnet is")
               for line in lines)


def test_a_group_with_no_members_fails_wherever_it_is_named(tmp_path: Path) -> None:
    doc = document()
    doc["groups"]["security"] = []
    doc["environments"]["mainnet"]["policy"] = {"skip_approvers": ["security"]}
    code, out = check(tmp_path, doc)
    assert code == 1
    lines = fails(out)
    assert ("FAIL  config: environments.mainnet.policy.skip_approvers: names group 'security', "
            "which has no members: nobody could act [empty_group]") in lines
    assert ("FAIL  workflow promote: step security-signoff: names group 'security', which has "
            "no members: nobody could act [empty_group]") in lines


def test_every_problem_of_a_file_is_printed_with_its_field(tmp_path: Path) -> None:
    """A window minimum that is not a duration, a zero minimum and a policy naming a missing
    group: three lines, three fields, no "(and N more)"."""
    doc = document()
    doc["environments"]["mainnet"]["policy"] = {"min_canary_window": "an hour",
                                                "skip_approvers": ["nobody-group"]}
    doc["environments"]["testnet"]["policy"] = {"min_wave_window": "0s"}
    code, out = check(tmp_path, doc)
    assert code == 1
    assert "more problem" not in out
    lines = fails(out)
    assert any("environments.mainnet.policy.min_canary_window: " in line
               and "not a duration" in line for line in lines), out
    assert any("environments.testnet.policy.min_wave_window: " in line
               and "zero" in line for line in lines), out
    assert len(lines) == 2, out  # the missing group is checked once the fields are valid


def test_a_policy_naming_a_missing_group_is_refused_with_its_field(tmp_path: Path) -> None:
    doc = document()
    doc["environments"]["mainnet"]["policy"] = {"takeover_approvers": ["nobody-group"]}
    code, out = check(tmp_path, doc)
    assert code == 1
    assert ("environments.mainnet.policy.takeover_approvers: group nobody-group is not defined "
            "under groups") in out


def test_the_shipped_example_passes(tmp_path: Path) -> None:
    env = {"PARTHENON_RPC_PASSWORD_TESTNET": "x", "PARTHENON_RPC_PASSWORD_MAINNET": "x",
           "PARTHENON_RPC_PASSWORD_REGTEST": "x", "PARTHENON_DEPLOY_SECRET": "y"}
    out = io.StringIO()
    code = run_check_config(["--offline", str(ROOT / "deploy" / "config.example.yaml")],
                            env=env, out=out)
    assert code == 0, out.getvalue()
