"""`/parthenon release-node NODE` through signed Slack requests, and `parthenon-bot
release-node` from a shell: only an operator of the node's environment releases it, only once
its genesis is right again, and every refusal and release is in the guard's audit in Redis."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.devnet import Devnet
from bot.nodes.refusals import GuardEvent
from bot.releasecli import run_release_node
from tests.scenarios.harness import Harness, running_bot
from tests.scenarios.nodeworld import ENV, RELEASE_MANAGER, world_config, world_file
from tests.unit.slack.definitions import definitions
from workflows.nodeerrors import NetworkMismatch


@pytest.fixture
async def bot(redis_url: str, testnet: Devnet) -> AsyncIterator[Harness]:
    async with running_bot(redis_url, definitions(), config=world_config(testnet)) as h:
        yield h


async def refuse(h: Harness, net: Devnet, name: str) -> None:
    """The engine's guard meets the node on the wrong chain (as a step would)."""
    net.node(name).faults.wrong_network = True
    env = h.runtime.config.environment("testnet")
    with pytest.raises(NetworkMismatch):
        await h.runtime.guard.check(h.runtime.config.node(name), env)


async def answer(h: Harness, seen: int) -> str:
    """The text of the next message the bot sends to the response_url after `seen` of them."""
    got = await h.standin.wait_for(lambda: h.standin.responses[seen:] or None, within=20)
    return json.dumps(got[0][1])


async def test_release_in_slack_needs_an_operator_and_the_right_genesis(
    bot: Harness, testnet: Devnet
) -> None:
    h = bot
    await refuse(h, testnet, "test-2")
    outsider = await h.command(RELEASE_MANAGER, "release-node test-2")
    assert outsider.status == 200
    assert "only an operator of environment" in outsider.json["text"]
    assert "testnet" in outsider.json["text"]
    unknown = await h.command("UOP", "release-node nope-9")
    assert "no node 'nope-9'" in unknown.json["text"]

    seen = len(h.standin.responses)
    reply = await h.command("UOP", "release-node test-2")
    assert "genesis before releasing it" in reply.text
    text = await answer(h, seen)
    assert "is not released" in text
    assert "still reports genesis 660189b8" in text
    assert await h.runtime.guard.refused(["test-2"])  # still refused

    testnet.node("test-2").faults.wrong_network = False
    seen = len(h.standin.responses)
    await h.command("UOP2", "release-node test-2")
    text = await answer(h, seen)
    assert "is released" in text
    assert await h.runtime.guard.refused(["test-2"]) == {}
    env = h.runtime.config.environment("testnet")
    await h.runtime.guard.check(h.runtime.config.node("test-2"), env)  # steps may act on it

    audit = await h.runtime.guard.refusals.audit("test-2")
    assert [(a.event, a.actor) for a in audit] == [
        (GuardEvent.REFUSED, "guard"),
        (GuardEvent.RELEASE_REFUSED, "UOP"),
        (GuardEvent.RELEASED, "UOP2"),
    ]
    help_text = (await h.command("UOP", "help")).text
    assert "release-node" in help_text


async def test_release_from_the_cli(
    bot: Harness, testnet: Devnet, redis_url: str, tmp_path: Path
) -> None:
    h = bot
    path = world_file(testnet, tmp_path)
    await refuse(h, testnet, "test-3")
    env = {**ENV, "REDIS_URL": redis_url}

    def cli(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        status = run_release_node(list(argv), env=env, out=out)
        return status, out.getvalue()

    status, text = await asyncio.to_thread(cli, "test-3", "--as", RELEASE_MANAGER,
                                           "--config", str(path))
    assert status == 1
    assert "only an operator of environment testnet" in text
    status, text = await asyncio.to_thread(cli, "test-3", "--as", "UOP", "--config", str(path))
    assert status == 1
    assert "still reports genesis" in text
    testnet.node("test-3").faults.refuse_connections = True  # down: its genesis cannot be read
    status, text = await asyncio.to_thread(cli, "test-3", "--as", "UOP", "--config", str(path))
    assert status == 1
    assert "its genesis could not be read" in text
    assert await h.runtime.guard.refused(["test-3"])  # nothing changed
    status, text = await asyncio.to_thread(cli, "test-3", "--as", "UOP")
    assert status == 2
    assert "give the configuration file" in text
    testnet.node("test-3").faults.update({"refuse_connections": False, "wrong_network": False})
    status, text = await asyncio.to_thread(cli, "test-3", "--as", "UOP", "--config", str(path))
    assert status == 0, text
    assert "is released" in text
    assert await h.runtime.guard.refused(["test-3"]) == {}  # the serving bot sees it at once
    audit = await h.runtime.guard.refusals.audit("test-3")
    assert audit[-1].event is GuardEvent.RELEASED
    assert audit[-1].actor.startswith("UOP (cli, ")
