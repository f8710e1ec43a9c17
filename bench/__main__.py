"""`make bench`: run every benchmark, each in its own process, and rewrite bench/README.md.

Each benchmark module prints its figures and, as its last line, ``<name>=<ratio>``; this runner
keeps the whole output, the command that reproduces it and the machine it ran on.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bot.testing.redisserver import find_redis_server

HERE = Path(__file__).resolve().parent

#: (module, what it measures, the aim from the issue)
BENCHMARKS: list[tuple[str, str, str]] = [
    ("engine", "engine no-op steps/s across 100 runs vs arq no-op jobs/s; Redis per idle run",
     "engine_vs_arq >= 2.0; <= 10 KB per idle run"),
    ("nodes", "/health sampling of 1,000 devnet nodes (20 ms latency) vs the floor: the bot's "
     "GET client and tuned aiohttp, each against the devnet with and without its GET fast path",
     "fanout_vs_floor <= 1.5; the custom client and the fast path kept only if aiohttp or the "
     "plain devnet cannot reach 1.5"),
    ("ack", "Slack ack latency p50/p99 (status, Approve; concurrency 1 and 50) vs the durable "
     "floor (a bare app doing one XADD) and bare apps; status's answer seen under a burst",
     "ack_p99_vs_durable_floor <= 1.0; status answer seen p99 <= 250 ms at c=50"),
    ("resume", "time for a surviving replica to resume a killed replica's run, at the default "
     "lease and shorter ones; leases lost by live replicas under load",
     "<= 3 s at the default lease, lost_at_default=0"),
    ("memory", "Redis per active promotion; bot resident memory idle and with 1,000 active "
     "runs; Redis per run; Redis after 10,000 finished runs with retention on",
     "redis_kb_per_promotion <= 16; retained_mb flat (bounded by the active runs)"),
]


def machine() -> list[str]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        first = meminfo.read_text().splitlines()[0].split()
        mem = f"{int(first[1]) / 1024 / 1024:.0f} GiB"
    redis = subprocess.run(
        [find_redis_server(), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return [
        f"- CPU: {os.cpu_count()} x {model}; memory {mem}",
        f"- {platform.system()} {platform.release()}; Python {platform.python_version()}",
        f"- {redis.split(' sha=')[0]}",
        f"- load average when the run started: {os.getloadavg()[0]:.2f} "
        "(the machine is shared; figures move with its load)",
    ]


def run_one(module: str) -> tuple[str, str, float, int]:
    """(last line, whole output, seconds, exit code) of ``python -m bench.<module>``."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{module}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=HERE.parent,
    )
    seconds = time.perf_counter() - started
    output = (proc.stdout + ("\n" + proc.stderr if proc.returncode else "")).strip()
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    last = lines[-1] if lines else "(no output)"
    return last, output, seconds, proc.returncode


def main() -> int:
    selected = sys.argv[1:] or [name for name, _, _ in BENCHMARKS]
    header = machine()
    sections: list[str] = []
    summary: list[str] = []
    failed = 0
    for name, what, aim in BENCHMARKS:
        if name not in selected:
            continue
        if not (HERE / f"{name}.py").exists():
            summary.append(f"| {name} | {what} | {aim} | not written yet |")
            continue
        print(f"== bench.{name}", flush=True)
        last, output, seconds, code = run_one(name)
        print(output, flush=True)
        failed += code != 0
        result = last if code == 0 else f"failed (exit {code})"
        summary.append(f"| {name} | {what} | {aim} | `{result}` |")
        sections += [
            f"## {name}",
            "",
            f"Reproduce: `.venv/bin/python -m bench.{name}` ({seconds:.0f} s)",
            "",
            "```",
            output,
            "```",
            "",
        ]
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    readme = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`), which runs every benchmark in its own",
        f"process and rewrites this file. Last run: {now}.",
        "",
        "Machine:",
        "",
        *header,
        "",
        "| benchmark | measures | aim | result |",
        "|---|---|---|---|",
        *summary,
        "",
        *NOTES,
        "",
        *sections,
    ]
    (HERE / "README.md").write_text("\n".join(readme).rstrip() + "\n")
    return 1 if failed else 0


NOTES = [
    "What the figures mean, and what they do not:",
    "",
    "- engine vs arq: one engine process works 100 runs of 20 no-op steps; arq works the same",
    "  number of no-op jobs with max_jobs=100, both on one fresh redis-server, alternating for",
    "  three rounds (medians). Every engine step is a durable, audited state change (one Lua",
    "  script: version check, fencing token, run document, audit stream entry, indexes); an arq",
    "  job is a queue entry and a result.",
    "- The devnet in the fan-out benchmark is Python too and runs on the same two cores as the",
    "  client, so the floor (latency x nodes / concurrency) leaves out both processes' CPU.",
    "  The node closes a connection after 5 requests, so one sweep in five reconnects to every",
    "  node: the median hides that sweep, the mean shows it. The decision the issue asked for,",
    "  from one run that interleaves both clients against both devnets: the same NodeClient",
    "  with its GETs on a tuned aiohttp session (limit_per_host=1, keep-alive 4 s, the same",
    "  timeouts, cap, errors and re-send) spends ~0.2-0.45 ms of client CPU per /health where",
    "  the custom GET client (bot/nodes/_httpget.py) spends ~0.08-0.15 ms, and sweeps at",
    "  ~1.5-4.8x the floor where the custom one is at ~1.25-2.2x (no limit per host: no",
    "  faster); on a quiet machine both come closer, aiohttp never under 1.5x, so the custom",
    "  client stays. Without the",
    "  devnet's GET fast path (every request through aiohttp's server: ~0.2 ms of devnet CPU",
    "  per request instead of ~0.1) even the custom client sweeps at ~1.5-3x the floor, so the",
    "  fast path stays too. Both are test-covered (tests/integration/devnet/test_getpath.py,",
    "  tests/integration/nodes/).",
    "- ack: the bot, two bare bolt apps and the durable floor (a bare app with",
    "  process_before_response that does one XADD on the same Redis before its ack) share one",
    "  process (the engine and the notifier run in it too); rounds run one at a time, each from",
    "  a settled bot, so no round pays for the one before. An Approve click is durable before",
    "  its 200 as the floor's is, but it also reads the run, checks the approver, the plan hash",
    "  and the place of the click, and commits with one script (version, dedup, audit, indexes):",
    "  a profile puts the click's own path at ~1.7 ms of CPU and the card update the notifier",
    "  makes after it (re-render and chat.update, same process) at ~3.8 ms (cProfile figures),",
    "  against ~0.8 ms for the floor's request; at concurrency 1 the next click waits for that",
    "  card work, which is why the worst cell (Approve, c=1) stays at several times the floor.",
    "  `status` answers in the ack when alone; under a burst it acks at once and answers",
    "  through the response_url when the background lane gives it a turn, the asks waiting for",
    "  one turn sharing one reading (status CPU per request at c=50 fell from ~3.8-4.9 ms to",
    "  ~1-1.3 ms). Its 'answer seen' p99 under the c=50 burst fell from ~1.9-5.9 s to",
    "  ~0.5-1.4 s, not 250 ms: the burst keeps",
    "  the bot's one event loop (and the load generator's) busy, and every hop of the answer",
    "  (turn, reading, POST to the response_url, the receiver's loop) waits behind the 50",
    "  requests in flight. Answering in the ack under a burst would meet it, but the tests fix",
    "  the acks-first behaviour (tests/scenarios/test_bursts.py), so it is left as is.",
    "- resume: the default lease is 2.5 s with a renewal every 0.5 s (a live worker rides out",
    "  2 s stalls); shorter leases resume faster but lose live leases under the bench's CPU",
    "  load when the machine is busy (at a load average of ~6 from other work, 0.5 s and 0.25 s",
    "  lost 283 and 1,235 leases while 2.5 s and 1 s lost none; on a quiet machine none do),",
    "  see docs/operations.md.",
    "- memory: with retention on, 10,000 finished runs leave Redis as it was: `retained_mb` is",
    "  what remains once each thousand was archived (runs whose random id collided with an",
    "  archived one stay in Redis, the trimmed recent and archived indexes, allocator slack),",
    "  against `unarchived_mb` per thousand finished runs kept. The 1,000 active runs are",
    "  key-compromise incidents: one run writes to an environment at a time, so 1,000",
    "  promotions cannot be active at once; one promotion is weighed on its own",
    "  (`redis_kb_per_promotion`, the sum of its keys' MEMORY USAGE; its plan is stored",
    "  deflated since this issue: 21 KB of JSON, 3 KB in Redis). Its entries in the shared",
    "  indexes add ~1 KB (the incidents' used_memory per run minus their keys); the used_memory",
    "  growth printed beside it is the first run's after the replica started and also holds",
    "  what the first run creates once (the indexes, Lua scripts, connection buffers).",
    "- before and after the refactor of issue 14 (one owner per concern; 2026-12-04 16:57-17:13",
    "  UTC, load 0.4-1.4): each benchmark run on the tree before it (7e15021, in a git",
    "  worktree) and on 14b7d0c, alternating, two rounds, each tree with its own bench code.",
    "  engine steps/s 2159, 2274 before / 2226, 2315 after (engine_vs_arq 1.52, 1.62 / 1.65,",
    "  1.58: arq's own rate moves ~10% between runs); fanout_vs_floor 1.29, 1.32 / 1.25, 1.27;",
    "  ack_p99_vs_durable_floor 7.97, 7.07 / 7.33, 7.75; resume at the default lease 2.22,",
    "  2.21 s / 2.23, 2.23 s, none lost; Redis per promotion 11.4 KB / 11.4 KB, per idle run",
    "  1683, 1715 B / 1715, 1647 B; bot RSS idle 67.5 MB / 67.8 MB and with 1,000 active runs",
    "  96.1 MB / 96.4-96.5 MB (more, smaller modules). No worse within the noise. Both trees'",
    "  resume bench then failed at the 1 s or 0.5 s lease: a survivor that re-ran the step and",
    "  let go of the run between two looks was never seen; fixed since (bcc7b2f).",
]


if __name__ == "__main__":
    sys.exit(main())
