"""Look-alike digits typed into Slack: `/parthenon promote "v1.4.2" ...` with the version in
mathematical bold digits, and windows like `3h` with an Arabic-Indic three, are refused on the
parameter they are in (the shipped workflows, signed commands to the served bot); nothing
starts. The same command in ASCII digits starts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from tests.scenarios.harness import Harness
from tests.scenarios.shipped import running_shipped

BOLD = {str(d): chr(0x1D7CE + d) for d in range(10)}
ARABIC = {str(d): chr(0x0660 + d) for d in range(10)}


def fake(text: str, digits: dict[str, str]) -> str:
    return "".join(digits.get(c, c) for c in text)


@pytest.fixture
async def shipped(redis_url: str) -> AsyncIterator[Harness]:
    """The shipped workflows, with a regtest environment so that a promotion can start."""
    async with running_shipped(redis_url) as h:
        yield h


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (f'promote "{fake("v1.4.2", BOLD)}" 3f9c2ab testnet', "version"),
        (f"promote {fake('v1.4.2', ARABIC)} 3f9c2ab testnet", "version"),
        (f"promote v1.4.2 3f9c2ab testnet canary_window={fake('3h', ARABIC)}", "canary_window"),
        (f"promote v1.4.2 3f9c2ab testnet wave_window={fake('20m', BOLD)}", "wave_window"),
        (f"rollback testnet v1.4.3 lkg_height={fake('1200', BOLD)}", "lkg_height"),
    ],
    ids=["bold-version-quoted", "arabic-version", "arabic-canary-window", "bold-wave-window",
         "bold-rollback-height"],
)
async def test_a_look_alike_digit_is_refused_on_its_parameter(
    shipped: Harness, text: str, named: str
) -> None:
    h = shipped
    reply = await h.command("URM0001", text)
    assert reply.status == 200
    answer = json.dumps(reply.json, ensure_ascii=False)
    assert named in answer
    assert "Started" not in answer
    assert await h.runtime.service.active_runs() == []


async def test_the_same_command_in_ascii_digits_starts(shipped: Harness) -> None:
    h = shipped
    reply = await h.command("URM0001", "promote v1.4.2 3f9c2ab testnet canary_window=3h")
    run = await h.run(await h.started_run(reply))
    assert run.params["version"] == "v1.4.2"
    assert run.params["canary_window"] == "3h"
