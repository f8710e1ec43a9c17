"""The `/parthenon health` table as the one evaluator fills it: state per node, and why not ok."""

from __future__ import annotations

import json

from bot.config import parse_config
from bot.slack.views import NodeRow, health_table
from handlers.health import health_rows
from workflows.healthgate import HealthSample
from workflows.nodelook import EnvironmentLook, NodeState, judge_look
from workflows.nodereplies import NodeHealth
from workflows.steps.health import conditions_for

CONFIG = """
environments:
  testnet:
    network: testnet
    min_peers: 1
    max_tip_lag: 2
    rpc_credentials: {user: parthenon, password_env: PW}
    nodes:
      - {name: a, rpc_url: "http://127.0.0.1:9"}
"""


def test_states_and_reasons_are_shown_and_only_ok_nodes_count() -> None:
    rows = [
        NodeRow("test-1", "ok", 120, peers=4, syncing=False),
        NodeRow("test-2", "refused", reasons=("node test-2 reports genesis 6601… <!here>",)),
        NodeRow("test-3", "failing", 119, peers=0, syncing=True,
                reasons=("0 peers, fewer than the 1 required", "still syncing")),
    ]
    message = health_table("testnet", rows, source="Judged as a health gate judges.")
    body = json.dumps(message.blocks)
    assert "1 of 3 nodes ok" in body
    assert "tip" not in body.split("```")[1]  # no tip or version column when nobody has one
    assert ":no_entry: `test-2`" in body
    assert ":x: `test-3`: 0 peers, fewer than the 1 required; still syncing" in body
    assert "<!here>" not in body
    assert "Judged as a health gate judges." in body


def test_judge_look_marks_refused_unverified_and_failing_nodes() -> None:
    def sample(node: str, height: int, peers: int, syncing: bool) -> HealthSample:
        health = NodeHealth(status="ok", best_height=height, peer_count=peers, syncing=syncing)
        return HealthSample(node=node, at=1.0, health=health)

    config = parse_config(CONFIG, env={"PW": "secret-pw"})
    conditions = conditions_for(config.environment("testnet"), False)
    looks = judge_look(
        ["a", "b", "c", "d", "e"],
        [sample("a", 100, 3, False), sample("c", 100, 3, False), sample("d", 90, 3, False),
         sample("e", 100, 0, True)],
        conditions,
        refused={"b": "reports genesis 6601… (the mainnet genesis)"},
        unverified={"c": "getblock answered 503"},
    )
    seen = EnvironmentLook("testnet", looks)
    states = {look.node: look.state for look in looks}
    assert states == {"a": NodeState.OK, "b": NodeState.REFUSED, "c": NodeState.FAILING,
                      "d": NodeState.FAILING, "e": NodeState.FAILING}
    assert seen.ok_count == 1
    reasons = {look.node: " | ".join(look.reasons) for look in looks}
    assert "its network cannot be verified: getblock answered 503" in reasons["c"]
    assert "10 blocks behind the highest" in reasons["d"]
    assert "0 peers" in reasons["e"]
    assert "still syncing" in reasons["e"]
    rows = health_rows(seen)
    assert [row.status for row in rows] == ["ok", "refused", "failing", "failing", "failing"]
