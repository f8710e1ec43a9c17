"""`parthenon-bot start WORKFLOW key=value ... --api URL [--wait]`: a run from a pipeline.

Starts the run through the run API with the bearer token in $PARTHENON_API_TOKEN (or the
variable `--token-env` names), prints the run id and its Slack card's link, and with `--wait`
follows the run, a line per step that changes, until it ends or needs a person for too long.
Exit status: 0 succeeded (or started, without --wait); 1 failed, aborted or blocked; 2 refused
(bad input, a token that may not start it, a locked environment, a freeze) or unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections.abc import Sequence
from typing import Any

import aiohttp

__all__ = ["run_start"]

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
FINAL_OK = {"succeeded"}
FINAL_BAD = {"failed", "aborted", "blocked"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parthenon-bot start", description=__doc__.split("\n")[0])
    parser.add_argument("workflow", help="the workflow to start, e.g. promote")
    parser.add_argument("params", nargs="*", metavar="key=value", help="its parameters")
    parser.add_argument("--api", required=True,
                        help="the bot's base URL, e.g. https://parthenon-bot.internal")
    parser.add_argument("--token-env", default="PARTHENON_API_TOKEN",
                        help="the environment variable holding the API token "
                             "(default PARTHENON_API_TOKEN)")
    parser.add_argument("--wait", action="store_true",
                        help="follow the run to its end; exit 0 succeeded, 1 failed/aborted/"
                             "blocked, 2 refused")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between looks")
    parser.add_argument("--idempotency-key", help="a retried call with the same key returns "
                                                  "the same run (default: a new one each call)")
    return parser


def _params(pairs: Sequence[str]) -> dict[str, str] | str:
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            return f"parameters are key=value, not {pair!r}"
        found[key] = value
    return found


def run_start(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    token = os.environ.get(args.token_env, "").strip()
    if not token:
        print(f"parthenon-bot start: set {args.token_env} to the API token", file=sys.stderr)
        return EXIT_REFUSED
    params = _params(args.params)
    if isinstance(params, str):
        print(f"parthenon-bot start: {params}", file=sys.stderr)
        return EXIT_REFUSED
    try:
        return asyncio.run(_start(args, token, params))
    except KeyboardInterrupt:
        return 130


async def _start(args: argparse.Namespace, token: str, params: dict[str, str]) -> int:
    base = args.api.rstrip("/")
    headers = {"Authorization": f"Bearer {token}",
               "Idempotency-Key": args.idempotency_key or uuid.uuid4().hex}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
        try:
            async with http.post(f"{base}/api/v1/runs",
                                 json={"workflow": args.workflow, "params": params}) as response:
                body = await _json(response)
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            print(f"parthenon-bot start: cannot reach {base} ({type(exc).__name__})",
                  file=sys.stderr)
            return EXIT_REFUSED
        if status != 201:
            message = body.get("message") or f"HTTP {status}"
            print(f"refused ({status} {body.get('error', '')}): {message}", file=sys.stderr)
            return EXIT_REFUSED
        run_id = str(body["id"])
        print(f"started {run_id}: {body.get('title', args.workflow)}", flush=True)
        run = await _until_card(http, base, run_id, args.interval)
        card = (run or body).get("card")
        print(f"card: {card['url']}" if card else
              f"card: not posted yet (GET {base}/api/v1/runs/{run_id})", flush=True)
        if not args.wait:
            return EXIT_OK
        return await _follow(http, base, run_id, args.interval, run or body)


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        value = await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return {}
    return value if isinstance(value, dict) else {}


async def _look(http: aiohttp.ClientSession, base: str, run_id: str) -> dict[str, Any] | None:
    try:
        async with http.get(f"{base}/api/v1/runs/{run_id}") as response:
            if response.status != 200:
                return None
            return await _json(response)
    except (aiohttp.ClientError, TimeoutError):
        return None


async def _until_card(http: aiohttp.ClientSession, base: str, run_id: str,
                      interval: float, tries: int = 10) -> dict[str, Any] | None:
    run = None
    for _ in range(tries):
        run = await _look(http, base, run_id)
        if run is not None and run.get("card"):
            return run
        await asyncio.sleep(min(interval, 1.0))
    return run


async def _follow(http: aiohttp.ClientSession, base: str, run_id: str, interval: float,
                  first: dict[str, Any]) -> int:
    seen: dict[str, str] = {}
    run: dict[str, Any] | None = first
    while True:
        if run is not None:
            for step in run.get("steps", []):
                state = str(step.get("status"))
                if seen.get(step["id"]) != state and state != "pending":
                    seen[step["id"]] = state
                    detail = step.get("error") or step.get("note") or ""
                    print(f"  {state:<10} {step.get('title', step['id'])}"
                          + (f" ({detail})" if detail else ""), flush=True)
            status = str(run.get("status"))
            if status in FINAL_OK:
                print(f"{run_id} {status}", flush=True)
                return EXIT_OK
            if status in FINAL_BAD:
                print(f"{run_id} {status}: {run.get('reason') or ''}".rstrip(": "), flush=True)
                return EXIT_FAILED
        await asyncio.sleep(interval)
        run = await _look(http, base, run_id)
