"""A quiet outage: Redis stops for 20 s under a served bot (`parthenon-bot serve`, a real
process). Each background loop logs one warning when it loses Redis and one line when it is
back, with how long it lasted; no traceback; `/readyz` names Redis; `/metrics` has the outage's
length per loop."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import pytest

from bot.testing.redisserver import RedisServer
from tests.integration.ops.test_serve import (  # the served bot's fixture and helpers
    SECRETS,
    Deployment,
    deployment,  # noqa: F401 - a fixture
    exited,
    get,
    metric,
    serving,
    until_ready,
)

pytestmark = pytest.mark.slow

OUTAGE = 20.0
LOOPS_THAT_POLL = {"engine", "notifier"}  # they touch Redis several times a second


def records(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def outage_lines(log: Path, kind: str) -> list[dict[str, Any]]:
    return [r for r in records(log) if r.get("outage") == kind]


@pytest.mark.timeout(150)
async def test_redis_stopped_for_20_s_is_one_line_when_lost_and_one_when_back_per_loop(
    deployment: Deployment, tmp_path: Path  # noqa: F811 - the fixture imported above
) -> None:
    own = RedisServer(tmp_path / "redis")  # ours alone: stopping it disturbs no other test
    own.start()
    log = tmp_path / "serve.log"
    try:
        with serving({**deployment.env, "REDIS_URL": own.url}, log) as (proc, base):
            await until_ready(proc, base)
            await asyncio.sleep(1.0)
            before = len(records(log))
            await asyncio.to_thread(own.stop)
            status, body = await get(f"{base}/readyz")
            assert status == 503
            checks = json.loads(body)["checks"]
            assert checks["redis"].startswith("redis:")
            assert checks["slack"] == "ok"
            await asyncio.sleep(OUTAGE)
            during = records(log)[before:]
            await asyncio.to_thread(own.start)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while {r["loop"] for r in outage_lines(log, "ended")} < LOOPS_THAT_POLL:
                assert loop.time() < deadline, "the loops never said Redis was back"
                await asyncio.sleep(0.2)
            await until_ready(proc, base, timeout=20)
            _, exposition = await get(f"{base}/metrics")
            proc.send_signal(signal.SIGTERM)
            assert await exited(proc) == 0
    finally:
        own.stop()
    began, ended = outage_lines(log, "began"), outage_lines(log, "ended")
    assert {r["loop"] for r in began} >= LOOPS_THAT_POLL
    for name in {r["loop"] for r in began}:
        starts = [r for r in began if r["loop"] == name]
        ends = [r for r in ended if r["loop"] == name]
        assert len(starts) == 1, starts
        assert len(ends) == 1, ends
        assert starts[0]["level"] == "warning"
        assert starts[0]["dependency"] == ends[0]["dependency"] == "redis"
        assert "Error" in starts[0]["msg"]  # with the error
        if name in LOOPS_THAT_POLL:
            assert OUTAGE - 1 <= ends[0]["outage_seconds"] <= OUTAGE + 30
    assert len(during) <= 10, [r["msg"] for r in during]  # twenty seconds, a handful of lines
    text = log.read_text()
    assert "Traceback" not in text
    for secret in SECRETS:
        assert secret not in text
    for name in LOOPS_THAT_POLL:
        count = metric_labelled(exposition, "parthenon_dependency_outage_seconds_count",
                                loop=name, dependency="redis")
        assert count == 1.0
    assert metric(exposition, "parthenon_dependency_outage_ongoing_seconds") == 0.0


def metric_labelled(text: str, name: str, **labels: str) -> float | None:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None
