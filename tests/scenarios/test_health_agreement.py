"""`/parthenon health` and the health gate judge every node alike, whatever is wrong with it.

For every fault a devnet node can have (bot/devnet/faults.py), one node gets it and then the
bot is asked twice, through its real surfaces: `/parthenon health testnet` as a signed Slack
command, and a one-look health gate over the same nodes run by the engine. The nodes the table
calls not ok are exactly the nodes the gate fails. Then: a node one replica refused is shown as
refused by another replica's `/parthenon health` (which does not ask it anything) and App Home,
until an operator releases it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.devnet import Devnet
from bot.devnet.faults import NodeFaults
from tests.scenarios.harness import Harness, running_bot
from tests.scenarios.nodeworld import world_config
from tests.unit.slack.definitions import definition
from workflows.definition import Definition
from workflows.model import RunStatus, StepStatus

LOOK = """
name: look
title: One look
parameters: [{name: environment}]
steps:
  - {id: gate, title: Health gate, kind: health}
"""

FAULTY = "test-2"
#: fault -> (value, is the faulty node ok after it?)
FAULTS: dict[str, tuple[Any, bool]] = {
    "latency": (0.2, True),
    "http_5xx": (True, False),  # JSON-RPC answers 503: its genesis cannot be read
    "refuse_connections": (True, False),
    "wrong_network": (True, False),
    "stalled_tip": (True, False),  # lags behind the others
    "peers": (0, False),  # syncing, below min_peers
    "divergent_tip": (True, True),  # /health cannot see another branch at the same height
    "validation_errors": (True, True),  # not a /health fact: the evidence step judges them
    "hanging_stop": (True, True),
    "huge_reply": (True, False),  # the genesis reply is over the client's 1 MiB cap
    "garbage_reply": (True, False),
    "slow_trickle": (0.002, True),  # slow, but answered within the timeout
}


def definitions() -> dict[str, Definition]:
    return {"look": definition(LOOK)}


async def table_states(h: Harness, user: str = "UOP") -> tuple[dict[str, str], str]:
    """Each node's state in the bot's `/parthenon health testnet` answer, and the answer."""
    seen = len(h.standin.responses)
    reply = await h.command(user, "health testnet")
    assert reply.status == 200
    assert "Asking the 3 nodes" in reply.text
    got = await h.standin.wait_for(lambda: h.standin.responses[seen:] or None, within=90)
    body = got[0][1]
    table = next(b["text"]["text"] for b in body["blocks"]
                 if b.get("type") == "section" and b["text"]["text"].startswith("```"))
    states = {}
    for line in table.strip("`").splitlines()[1:]:
        name, state = line.split()[:2]
        states[name] = state
    return states, json.dumps(body)


async def gate_failures(h: Harness) -> set[str]:
    """The nodes a one-look health gate over testnet fails, as the engine runs it."""
    run = await h.runtime.service.start("look", {"environment": "testnet"}, actor="UOP")
    run = await h.wait_run(run.id, lambda r: r.terminal or r.status is RunStatus.BLOCKED,
                           within=90)
    step = run.steps[run.index_of("gate") or 0]
    if step.status is StepStatus.SUCCEEDED:
        return set()
    result = step.result or {}
    if "guard" in result:
        return set(result["guard"]["refused"]) | set(result["guard"]["unverified"])
    return {name for name, verdict in result["nodes"].items() if not verdict["passed"]}


def test_the_table_covers_every_fault() -> None:
    assert set(FAULTS) == set(NodeFaults.knob_names())


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_health_answer_and_gate_agree_on_every_node(
    fault: str, redis_url: str, testnet: Devnet
) -> None:
    value, ok = FAULTS[fault]
    async with running_bot(redis_url, definitions(), config=world_config(testnet)) as h:
        await asyncio.sleep(0.3)  # a few blocks
        setattr(testnet.node(FAULTY).faults, fault, value)
        if fault == "stalled_tip":
            await asyncio.sleep(0.8)  # the others go on, more than max_tip_lag blocks
        states, body = await table_states(h)
        failing = await gate_failures(h)
        not_ok = {name for name, state in states.items() if state != "ok"}
        assert set(states) == {node.name for node in testnet.nodes}
        assert not_ok == failing, (fault, states, failing, body)
        assert not_ok == (set() if ok else {FAULTY}), (fault, states, body)
        if not ok:
            assert f"`{FAULTY}`:" in body  # why, under the table
        if fault == "wrong_network":
            assert states[FAULTY] == "refused"


async def test_a_node_refused_by_one_replica_is_shown_refused_by_another_without_asking_it(
    redis_url: str, testnet: Devnet
) -> None:
    config = world_config(testnet)
    async with running_bot(redis_url, definitions(), config=config) as first, \
            running_bot(redis_url, definitions(), config=config) as second:
        testnet.node(FAULTY).faults.wrong_network = True
        assert FAULTY in await gate_failures(first)  # the first replica's gate refuses it
        testnet.node(FAULTY).faults.wrong_network = False  # fixed, but not released
        asked = len(testnet.node(FAULTY).request_log)
        states, body = await table_states(second)
        assert states == {"test-1": "ok", "test-2": "refused", "test-3": "ok"}, body
        assert "release-node" in body
        assert len(testnet.node(FAULTY).request_log) == asked  # not even GET /health
        assert "1 of 3" not in body
        assert "2 of 3 nodes ok" in body
        # App Home shows it too, from Redis, on either replica; a release clears it
        await second.event({"type": "app_home_opened", "user": "UOP", "tab": "home"})
        home = json.dumps(await second.standin.wait_for(lambda: second.standin.home.get("UOP")))
        assert "Nodes refused by the network guard" in home
        assert "`test-2`" in home
        assert "/parthenon release-node test-2" in home
        assert "`test-1`" not in home
        await first.command("UOP", "release-node test-2")
        await first.standin.wait_for(
            lambda: [r for r in first.standin.responses if "is released" in json.dumps(r)])
        second.standin.home.pop("UOP")
        await second.event({"type": "app_home_opened", "user": "UOP", "tab": "home"})
        home = json.dumps(await second.standin.wait_for(lambda: second.standin.home.get("UOP")))
        assert "Nodes refused by the network guard" not in home
