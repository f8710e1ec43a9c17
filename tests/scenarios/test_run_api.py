"""The run API and `parthenon-bot start`: a pipeline starts a promotion with its token, people
approve it in Slack, and `--wait` exits 0; unknown and out-of-scope tokens are refused with
nothing started and no secret in any log; the budget per token holds."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.config import parse_config
from tests.scenarios.harness import (
    CONFIG,
    OPERATOR,
    Harness,
    button_step,
    running_bot,
    waiting_at,
)
from tests.unit.slack.definitions import definitions

ROOT = Path(__file__).resolve().parents[2]
CI_TOKEN = "ci-token-0123456789abcdef-do-not-leak"
DOCS_TOKEN = "docs-token-0123456789abcdef-do-not-leak"
SUM = "ab" * 32

API_CONFIG = CONFIG + """
api:
  requests_per_minute: 40
  tokens:
    - {name: ci, secret_env: API_CI, start: [promote]}
    - {name: docs, secret_env: API_DOCS, start: [maintenance]}
"""


@pytest.fixture
async def api(redis_url: str) -> AsyncIterator[Harness]:
    config = parse_config(API_CONFIG, source="api.yaml", env={
        "SCENARIO_RPC_PASSWORD": "rpc-pw", "API_CI": CI_TOKEN, "API_DOCS": DOCS_TOKEN})
    async with running_bot(redis_url, definitions(), config=config) as h:
        yield h


async def call(h: Harness, method: str, path: str, token: str | None = None,
               body: object = None) -> tuple[int, dict[str, object], dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with h.http.request(method, f"{h.url}{path}", json=body, headers=headers) as response:
        text = await response.text()
        return response.status, (json.loads(text) if text else {}), dict(response.headers)


async def start_cli(h: Harness, *args: str, token: str = CI_TOKEN) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "start", *args, "--api", h.url, "--interval", "0.2",
        cwd=ROOT, env={"PATH": os.environ.get("PATH", ""), "PARTHENON_API_TOKEN": token},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def test_a_pipeline_starts_a_promotion_people_approve_it_and_wait_exits_0(
    api: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """`parthenon-bot start promote ... --wait` prints the run id and the card's link, a line
    per step, and exits 0 once two release managers approved and an operator confirmed in
    Slack; the run's initiator is api:ci in the run and its audit log."""
    h = api
    caplog.set_level(logging.DEBUG)
    cli = await start_cli(h, "promote", "version=v1.4.2", "git_sha=abc1234",
                          "environment=testnet", "--wait")
    run_id = ""
    for _ in range(3000):  # a minute, as for its exit: the CLI is a new Python process
        ids = await h.runtime.store.active_ids()
        if ids:
            run_id = ids[0]
            break
        await asyncio.sleep(0.02)
    assert run_id, "the CLI started no run"
    run = await h.wait_run(run_id, waiting_at("approve"))
    assert run.initiator == "api:ci"
    card = await h.card(run_id, lambda m: "run.approve" in str(m.blocks))
    assert (await h.click("URM0002", card, "run.approve")).status == 200
    card = await h.card(run_id, lambda m: "approved by <@URM0002>" in str(m.blocks))
    assert (await h.click("URM0003", card, "run.approve")).status == 200
    await h.wait_run(run_id, waiting_at("sbom"))
    await h.confirm(OPERATOR, run_id, "sbom", {"modal.input:checksum": SUM})
    await h.wait_run(run_id, waiting_at("done"))
    card = await h.card(run_id, lambda m: button_step(m, "run.confirm") == "done")
    assert (await h.click(OPERATOR, card, "run.confirm")).status == 200
    out, err = await asyncio.wait_for(cli.communicate(), 60)
    text = out.decode()
    assert cli.returncode == 0, text + err.decode()
    assert f"started {run_id}" in text
    assert f"card: https://slack.com/archives/{card.channel}/p{card.ts.replace('.', '')}" in text
    assert "succeeded" in text.splitlines()[-1]
    assert any("SBOM" in line or "sbom" in line.lower() for line in text.splitlines())
    audit = await h.runtime.service.audit(run_id)
    assert audit[0].actor == "api:ci"
    status, document, _ = await call(h, "GET", f"/api/v1/runs/{run_id}", CI_TOKEN)
    assert status == 200
    assert document["status"] == "succeeded"
    steps = document["steps"]
    assert isinstance(steps, list)
    assert any(s["id"] == "sbom" and s["inputs"] == {"checksum": SUM} for s in steps)
    assert CI_TOKEN not in caplog.text
    assert CI_TOKEN not in err.decode()


async def test_unknown_and_out_of_scope_tokens_are_refused_and_start_nothing(
    api: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """No token or an unknown one: 401; docs starting a promotion: 403 (audited as a refused
    start); the CLI exits 2 saying why; no run exists and no token reaches a log line."""
    h = api
    caplog.set_level(logging.DEBUG)
    body = {"workflow": "promote",
            "params": {"version": "v1.4.2", "git_sha": "abc1234", "environment": "testnet"}}
    assert (await call(h, "POST", "/api/v1/runs", None, body))[0] == 401
    status, answer, headers = await call(h, "POST", "/api/v1/runs", "x" * 40, body)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    status, answer, _ = await call(h, "POST", "/api/v1/runs", DOCS_TOKEN, body)
    assert status == 403
    assert answer["error"] == "not_authorized"
    assert "may not start promote" in str(answer["message"])
    cli = await start_cli(h, "promote", "version=v1.4.2", "git_sha=abc1234",
                          "environment=testnet", token="nope-" + "y" * 30)
    out, err = await asyncio.wait_for(cli.communicate(), 30)
    assert cli.returncode == 2
    assert "refused (401" in err.decode()
    assert await h.runtime.store.active_ids() == []
    refused = await h.runtime.store.refused_starts()
    assert any(r.get("actor") == "api:docs" for r in refused)
    for secret in (CI_TOKEN, DOCS_TOKEN, "x" * 40, "y" * 30):
        assert secret not in caplog.text
        assert secret not in out.decode() + err.decode()


async def test_bad_input_and_policy_refusals_carry_slacks_texts(api: Harness) -> None:
    """A parameter that does not fit is a 400 with the same text as Slack; a body that is not
    an object, an unknown field or a non-string parameter is a 400; nothing starts."""
    h = api
    bad = {"workflow": "promote",
           "params": {"version": "1.4", "git_sha": "abc1234", "environment": "testnet"}}
    status, answer, _ = await call(h, "POST", "/api/v1/runs", CI_TOKEN, bad)
    assert status == 400
    assert answer["error"] == "invalid_parameters"
    slack = await h.command("URM0001", "promote 1.4 abc1234 testnet")
    assert str(answer["message"]).split(". Usage")[0] in slack.text
    for body in ([1, 2], {"workflow": "promote", "extra": 1},
                 {"workflow": "promote", "params": {"version": 1}}, {"params": {}}):
        status, answer, _ = await call(h, "POST", "/api/v1/runs", CI_TOKEN, body)
        assert status == 400, body
        assert answer["error"] == "invalid_body"
    assert await h.runtime.store.active_ids() == []


async def test_listing_reading_and_the_openapi_document(api: Harness) -> None:
    """An API start answers 201 with a Location; the run is listed as active and read back;
    a retried start with the same Idempotency-Key returns the same run; the OpenAPI document
    describes the three routes."""
    h = api
    body = {"workflow": "promote",
            "params": {"version": "v2.0.0", "git_sha": "abcdef1", "environment": "testnet"}}
    async with h.http.post(f"{h.url}/api/v1/runs", json=body, headers={
            "Authorization": f"Bearer {CI_TOKEN}", "Idempotency-Key": "pipeline-77"}) as first:
        assert first.status == 201
        started = await first.json()
        assert first.headers["Location"] == f"/api/v1/runs/{started['id']}"
    async with h.http.post(f"{h.url}/api/v1/runs", json=body, headers={
            "Authorization": f"Bearer {CI_TOKEN}", "Idempotency-Key": "pipeline-77"}) as again:
        assert (await again.json())["id"] == started["id"]
    status, listed, _ = await call(h, "GET", "/api/v1/runs?status=active", CI_TOKEN)
    assert status == 200
    runs = listed["runs"]
    assert isinstance(runs, list)
    assert [r["id"] for r in runs] == [started["id"]]
    assert (await call(h, "GET", "/api/v1/runs/r-none", CI_TOKEN))[0] == 404
    assert (await call(h, "GET", "/api/v1/runs?status=weird", CI_TOKEN))[0] == 400
    async with h.http.get(f"{h.url}/api/v1/openapi.json") as response:
        spec = await response.json()
    assert set(spec["paths"]) == {"/api/v1/runs", "/api/v1/runs/{run_id}"}


async def test_each_token_has_its_budget_per_minute(api: Harness) -> None:
    """Past requests_per_minute a token gets 429 with Retry-After; another token is not
    affected."""
    h = api
    into = time.time() % 60
    if into > 50:  # the budget is per minute: start well inside one
        await asyncio.sleep(60.5 - into)
    statuses = []
    async with aiohttp.ClientSession() as http:
        for _ in range(45):
            async with http.get(f"{h.url}/api/v1/runs",
                                headers={"Authorization": f"Bearer {DOCS_TOKEN}"}) as response:
                statuses.append(response.status)
                if response.status == 429:
                    assert int(response.headers["Retry-After"]) >= 1
    assert statuses.count(429) >= 5
    assert statuses[:20] == [200] * 20
    assert (await call(h, "GET", "/api/v1/runs", CI_TOKEN))[0] == 200
