"""`make chaos`: fifty promotions through three bot replicas that keep getting killed.

    python -m bench.chaos [--runs 50] [--kills 15] [--seed N] [--workdir DIR]

Three replicas of the bot (``bench._replica``: ``parthenon-bot serve``, each with its engine,
notifier and Slack app) share one redis-server of ours (AOF) and a devnet (regtest for the smoke
test, testnet, mainnet, each with its deploy receiver). The driver starts the promotion runs
through the workflow service and then plays everyone else at once:

- approvers: each approval is given either through the service or as a signed Slack click on
  the card's Approve button, sent to a random live replica (sometimes twice, as Slack redelivers);
- an operator: a run blocked by a failed step (a health look that met a node being restarted by
  another run's deploy, a guard that could not reach a node) is retried; a failure is definite
  (nothing was done, or the bot would have said in doubt); a run blocked in doubt is left alone;
- the killer: SIGKILL to a random replica at random moments, restarted a moment later; the
  redis-server is restarted once (SIGTERM, AOF) half-way through;
- Slack: chat.postMessage and chat.update answer some calls with 429 (Retry-After), 5xx, or
  not within the notifier's timeout (not done, or done with the answer lost).

When every run has finished or is blocked in doubt, the faults stop, the cards settle and the
verdict is taken (``bench._chaosverdict``): every run finished or is blocked in doubt with that
reason on its card; no side effect twice, counted from the devnet's request logs and the deploy
receivers; every approval answered 200 is a vote or an audited refusal; every card shows its
run's final state, and no run has more than one card (counted from the stand-in's recorded
``chat.postMessage`` calls); no secret in any replica's log or any Slack call. Prints a summary,
then ``duplicate_cards=N`` and ``chaos_violations=N``; exits 1 on any violation.
``tests/chaos/test_chaos_short.py`` runs the same code with small numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from redis.exceptions import RedisError

from bench._chaosverdict import CommandSent, Verdict, in_doubt, judge, voted
from bench._chaosworld import (
    GROUPS,
    OPS_CHANNEL,
    SECRETS,
    SIGNING_SECRET,
    World,
    WorldSettings,
)
from bench._slackclient import SignedSlack, click_body
from bot.runtime import Runtime, build_runtime
from bot.slack.ids import ActionId
from bot.slack.payloads import ButtonValue
from bot.slack.views import button_value
from workflows.drills import DrillKind, DrillRecord
from workflows.drillscheduler import DrillBook
from workflows.errors import EnvironmentLocked, WorkflowError
from workflows.model import Abort, Approve, Retry, Run, RunStatus, StepStatus

__all__ = ["ChaosPlan", "ChaosReport", "main", "run_chaos"]

SHA = "c0ffee0123456789abcdef0123456789abcdef01"
VERSION = "v9.0.0"  # one release for all: runs share nodes, and each checks the version it put


@dataclass(frozen=True)
class ChaosPlan:
    runs: int = 50
    kills: int = 15
    redis_restarts: int = 1
    seed: int | None = None
    world: WorldSettings = field(default_factory=WorldSettings)
    canary_window: str = "1s"
    wave_window: str = "1s"
    start_spread: float = 5.0  # seconds over which the runs are started
    kill_every: tuple[float, float] = (0.5, 2.5)  # seconds between two kills
    down_for: tuple[float, float] = (0.2, 2.0)  # seconds a killed replica stays down
    click_share: float = 0.5  # approvals given as signed clicks rather than service calls
    double_click: float = 0.15  # clicks delivered twice
    slack_faults: bool = True
    slack_fault_every: tuple[float, float] = (0.3, 1.2)
    retries_per_run: int = 25  # operator retries of failed steps before giving up
    deadline: float = 900.0  # seconds for every run to settle
    settle_cards: float = 90.0  # seconds for the cards to catch up once the faults stop


@dataclass
class ChaosReport:
    plan: ChaosPlan
    seed: int
    verdict: Verdict
    seconds: float
    kills: int
    redis_restarts: int
    slack_faults: Counter[str]
    retries: int
    exit_codes: dict[str, int | None]
    errors: Counter[str]
    settled: bool

    @property
    def ok(self) -> bool:
        return self.verdict.ok

    def summary(self) -> list[str]:
        lines = [
            f"chaos: {self.plan.runs} promotion runs, {self.plan.world.replicas} replicas, "
            f"seed {self.seed}, {self.seconds:.0f} s",
            f"  faults: {self.kills} SIGKILLs, {self.redis_restarts} Redis restart(s), Slack "
            + ", ".join(f"{k} x{v}" for k, v in sorted(self.slack_faults.items())),
            f"  operator retries of failed steps (a failure is definite; in doubt is left): "
            f"{self.retries}",
            f"  replicas' exit codes on the final SIGTERM: {self.exit_codes}",
        ]
        if self.errors:
            lines.append("  error lines in the replicas' logs (expected around kills and the "
                         "Redis restart):")
            lines += [f"    {count} x {msg}" for msg, count in self.errors.most_common(8)]
        for name, value in self.verdict.facts.items():
            lines.append(f"  {name}: {json.dumps(value)}")
        if self.verdict.violations:
            lines.append(f"VIOLATIONS ({len(self.verdict.violations)}):")
            lines += [f"  - {v}" for v in self.verdict.violations[:60]]
            if len(self.verdict.violations) > 60:
                lines.append(f"  ... and {len(self.verdict.violations) - 60} more")
        else:
            lines.append("no violations")
        return lines


class Chaos:
    def __init__(self, plan: ChaosPlan, world: World, runtime: Runtime,
                 http: aiohttp.ClientSession, rng: random.Random) -> None:
        self.plan = plan
        self.world = world
        self.runtime = runtime
        self.rng = rng
        self.signed = SignedSlack(SIGNING_SECRET, http)
        self.run_ids: list[str] = []
        self.commands: list[CommandSent] = []
        self.kills = 0
        self.retries = 0
        self.slack_faults: Counter[str] = Counter()
        self.settled = asyncio.Event()
        self.timeline: list[tuple[float, str]] = []  # (monotonic time, what the driver did)
        self._asked: dict[tuple[str, str, int, str], float] = {}
        self._retried: dict[str, int] = Counter()
        self._retry_asked: dict[tuple[str, str, int], float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._restarts: set[asyncio.Task[None]] = set()

    # --- starting ------------------------------------------------------------------------

    async def start_runs(self) -> None:
        book = DrillBook(self.runtime.store)
        await book.record(DrillRecord(kind=DrillKind.RESTORE, run_id="r-chaos-seed",
                                      completed_at=self.runtime.store.now() - timedelta(days=3)))
        pause = self.plan.start_spread / max(self.plan.runs, 1)
        for n in range(self.plan.runs):
            params = {"version": VERSION, "git_sha": SHA,
                      "environment": "mainnet" if n % 2 == 0 else "testnet",
                      "canary_window": self.plan.canary_window,
                      "wave_window": self.plan.wave_window}
            run = await _retrying(self._starter(params, f"chaos-start-{n}"))
            self.run_ids.append(run.id)
            await asyncio.sleep(pause)

    def _starter(self, params: dict[str, str], key: str) -> Callable[[], Awaitable[Run]]:
        """One run writes to an environment at a time (environment locks), and every
        promotion writes to regtest and testnet: a start waits for the run holding them. A
        holder that has settled without ending (blocked in doubt) is aborted by the operator,
        as a person would, so the next promotion can go."""
        operator = GROUPS["operators"][0]

        async def start() -> Run:
            while True:
                try:
                    return await self.runtime.service.start(
                        "promote", params, actor=operator, channel=OPS_CHANNEL, dedup_key=key)
                except EnvironmentLocked as exc:
                    holder = await self.runtime.store.load(exc.holder)
                    if holder is not None and not holder.terminal and self._settled(holder):
                        with contextlib.suppress(WorkflowError):
                            await self.runtime.service.command(holder.id, Abort(
                                actor=operator, reason="chaos: the next run needs its lock"))
                await asyncio.sleep(0.2)

        return start

    # --- people --------------------------------------------------------------------------

    async def people(self) -> None:
        """Approvers and the operator, looking at every run ten times a second."""
        while not self.settled.is_set():
            try:
                runs = await self.runtime.store.load_many(list(self.run_ids))
            except RedisError:
                await asyncio.sleep(0.2)
                continue
            settled = True
            for run in runs:
                if not self._settled(run):
                    settled = False
                self._approve_if_asked(run)
                self._retry_if_failed(run)
            if settled and len(runs) == self.plan.runs:
                self.settled.set()
                break
            await asyncio.sleep(0.1)

    def _settled(self, run: Run) -> bool:
        if run.terminal or in_doubt(run):
            return True
        return run.status is RunStatus.BLOCKED and not self._retryable(run)

    def _approve_if_asked(self, run: Run) -> None:
        current = run.current
        if run.status is not RunStatus.WAITING or current is None:
            return
        step, state = current
        request = state.approval
        if state.status is not StepStatus.WAITING or request is None:
            return
        have = {v.user for v in request.votes if v.decision == "approve"}
        need = request.policy.quorum - len(have)
        candidates = [u for g in request.policy.groups for u in GROUPS.get(g, [])
                      if u != run.initiator and u not in have]
        now = time.monotonic()
        for user in candidates[:need]:
            key = (run.id, step.id, state.visits, user)
            if now - self._asked.get(key, -1e9) < 8.0:
                continue  # asked already; give it time to land before asking again
            self._asked[key] = now
            self._spawn(self._approve(run, step.id, user))

    async def _approve(self, run: Run, step_id: str, user: str) -> None:
        if self.rng.random() < self.plan.click_share:
            await self._click(run, step_id, user, ActionId.APPROVE)
            return
        index = run.index_of(step_id)
        visit = run.steps[index].visits if index is not None else 0
        command = Approve(actor=user, step_id=step_id, plan_hash=run.plan_hash)
        key = f"approve:{step_id}:{visit}:{user}:{run.plan_hash}"
        await self._command(run, step_id, user, "approve", key, self.runtime.service.command(
            run.id, command, dedup_key=key))

    async def _command(self, run: Run, step_id: str, user: str, kind: str, key: str,
                       call: Awaitable[Run]) -> None:
        """A command through the service, recorded with whether it was durable right after."""
        before = await self._audited(run.id, step_id, user, kind)
        try:
            await call
        except RedisError as exc:
            self.commands.append(CommandSent(kind, run.id, step_id, user, "service", 0, None,
                                             type(exc).__name__))
            return
        except WorkflowError as exc:
            detail = f"refused: {exc}"
        else:
            detail = "returned"
        durable = await self._durable(run.id, step_id, user, kind, before, key)
        self.commands.append(CommandSent(kind, run.id, step_id, user, "service", 200, durable,
                                         detail))

    async def _audited(self, run_id: str, step_id: str, user: str, kind: str) -> int | None:
        """Audit entries (applied or refused) of this kind, by this person, for this step."""
        for _ in range(20):
            try:
                audit = await self.runtime.store.read_audit(run_id)
            except RedisError:
                await asyncio.sleep(0.25)
                continue
            return sum(1 for e in audit if e.actor == user and e.step_id == step_id
                       and e.type in {kind, f"refused_{kind}"})
        return None  # Redis stayed away: cannot tell

    async def _durable(self, run_id: str, step_id: str, user: str, kind: str,
                       before: int | None, key: str) -> bool | None:
        """Right after a command was answered: applied (a vote; a new retry in the audit; its
        de-duplication key recorded, for a redelivery) or refused and audited? ``before``: the
        count of such audit entries before it was sent."""
        with contextlib.suppress(RedisError):
            if await self.runtime.store.delivered(run_id, key):
                return True
        if kind == "approve":
            for _ in range(20):
                try:
                    if voted(await self.runtime.store.get(run_id), step_id, user):
                        return True
                    break
                except RedisError:
                    await asyncio.sleep(0.25)
        after = await self._audited(run_id, step_id, user, kind)
        if after is None or before is None:
            return None
        return after > before

    async def _click(self, run: Run, step_id: str, user: str, action: ActionId) -> None:
        """Press the button on the card as Slack shows it (or as it would, when the card is
        behind), at a random live replica; approvals are sometimes delivered twice."""
        kind = "approve" if action is ActionId.APPROVE else "retry"
        where = None
        with contextlib.suppress(RedisError):
            where = await self.runtime.store.get_card(run.id)
        value = None
        channel, ts = where if where and where[1] else (OPS_CHANNEL, "0.0")
        message = self.world.slack.message(channel, ts) if self.world.slack else None
        if message is not None:
            value = _button(message.blocks, str(action), step_id)
        if value is None:
            index = run.index_of(step_id)
            value = button_value(run, run.plan[index], run.steps[index]) if index is not None \
                else button_value(run)
        assert self.world.slack is not None
        body = click_body(user, str(action), value, channel=channel, message_ts=ts,
                          response_url=self.world.slack.response_url(f"chaos-{run.id}"))
        shown = ButtonValue.parse(value)
        key = (f"approve:{step_id}:{shown.n}:{user}:{shown.h or ''}" if kind == "approve"
               else f"retry:{step_id}:v{shown.v}:{user}")  # what the bot de-duplicates on
        double = kind == "approve" and self.rng.random() < self.plan.double_click
        for _delivery in range(2 if double else 1):
            before = await self._audited(run.id, step_id, user, kind)
            answer = None
            for _attempt in range(3):
                live = self.world.live()
                if not live:
                    await asyncio.sleep(0.3)
                    continue
                answer = await self.signed.post(self.rng.choice(live).url, body)
                if answer.status:
                    break
            status = answer.status if answer is not None else 0
            durable = None
            if status == 200:
                durable = await self._durable(run.id, step_id, user, kind, before, key)
            detail = (answer.error or answer.body[:200]) if answer else "no replica"
            self.commands.append(CommandSent(kind, run.id, step_id, user, "click", status,
                                             durable, detail))

    def _retryable(self, run: Run) -> bool:
        """An operator retries a failed step: a failure is definite (a step whose side effect
        may have happened is in doubt instead, and is left alone)."""
        current = run.current
        if current is None or run.status is not RunStatus.BLOCKED or in_doubt(run):
            return False
        state = current[1]
        if self._retried[run.id] >= self.plan.retries_per_run:
            return False
        return state.status is StepStatus.BLOCKED

    def _retry_if_failed(self, run: Run) -> None:
        if not self._retryable(run):
            return
        step = run.current[0] if run.current else None
        assert step is not None
        key = (run.id, step.id, run.version)
        now = time.monotonic()
        if now - self._retry_asked.get(key, -1e9) < 5.0:
            return  # asked; a retry that did not land (a replica killed) is asked again later
        self._retry_asked[key] = now
        self._retried[run.id] += 1
        self.retries += 1
        operator = GROUPS["operators"][1]
        if self.rng.random() < self.plan.click_share:
            self._spawn(self._click(run, step.id, operator, ActionId.RETRY))
            return

        key = f"retry:{step.id}:v{run.version}:{operator}"
        call = self.runtime.service.command(run.id, Retry(actor=operator, step_id=step.id),
                                            dedup_key=key)
        self._spawn(self._command(run, step.id, operator, "retry", key, call))

    # --- the faults ----------------------------------------------------------------------

    async def killer(self) -> None:
        half = self.plan.kills // 2
        restarted_redis = 0
        while self.kills < self.plan.kills and not self.settled.is_set():
            await self._sleep(self.rng.uniform(*self.plan.kill_every))
            if self.settled.is_set():
                break
            live = self.world.live()
            if len(live) <= 1:
                continue  # keep one replica serving while the others come back
            victim = self.rng.choice(live)
            victim.kill()
            self.timeline.append((time.monotonic(), f"SIGKILL {victim.name}"))
            self.kills += 1
            task = asyncio.create_task(self._restart(victim))
            self._restarts.add(task)
            task.add_done_callback(self._restarts.discard)
            if self.kills >= half and restarted_redis < self.plan.redis_restarts:
                restarted_redis += 1
                self.timeline.append((time.monotonic(), "Redis restart"))
                await self.world.restart_redis()
                self.timeline.append((time.monotonic(), "Redis back"))
        while restarted_redis < self.plan.redis_restarts and not self.settled.is_set():
            restarted_redis += 1
            self.timeline.append((time.monotonic(), "Redis restart"))
            await self.world.restart_redis()
            self.timeline.append((time.monotonic(), "Redis back"))

    async def _restart(self, replica: Any) -> None:
        await asyncio.sleep(self.rng.uniform(*self.plan.down_for))
        await replica.start()
        self.timeline.append((time.monotonic(), f"{replica.name} serving again"))

    async def slack(self) -> None:
        slack = self.world.slack
        assert slack is not None
        timeout = self.plan.world.slack_timeout
        while self.plan.slack_faults and not self.settled.is_set():
            await self._sleep(self.rng.uniform(*self.plan.slack_fault_every))
            method = self.rng.choice(["chat.update", "chat.update", "chat.postMessage"])
            kind = self.rng.choice(["429", "5xx", "timeout", "lost answer"])
            times = self.rng.randint(1, 3)
            if kind == "429":
                slack.fail(method, status=429, retry_after=1, times=times)
            elif kind == "5xx":
                slack.fail(method, status=self.rng.choice([500, 502, 503]), times=times)
            elif kind == "timeout":
                times = 1
                slack.fail(method, error="chaos_timeout", delay=timeout + 1.0)
            else:  # done by Slack, answered after the notifier gave up waiting
                times = 1
                slack.answer_late(method, timeout + 1.0)
            self.slack_faults[kind] += times

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.settled.wait(), seconds)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the end -------------------------------------------------------------------------

    async def calm(self) -> None:
        """Stop the faults, bring every replica back, wait for the cards to catch up."""
        for task in list(self._restarts):
            with contextlib.suppress(Exception):
                await task
        for replica in self.world.replicas:
            if not replica.alive:
                await replica.start()
        assert self.world.slack is not None
        self.world.slack.clear_faults()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        store = self.runtime.store
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.plan.settle_cards
        quiet_since: float | None = None
        while loop.time() < deadline:
            try:
                dirty = await store.dirty_cards(10)
            except RedisError:
                dirty = ["?"]
            if dirty:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = loop.time()
            elif loop.time() - quiet_since > 2.0:
                return
            await asyncio.sleep(0.2)

    async def observe(self) -> tuple[list[Run], dict[str, Any], dict[str, Any], dict[str, Any]]:
        store = self.runtime.store
        runs = await store.load_many(self.run_ids)
        audits = {run.id: await store.read_audit(run.id) for run in runs}
        ledgers: dict[str, Any] = {}
        for run in runs:
            ledgers[run.id] = await store.read_ledger(run.id)
        cards = {run.id: await store.get_card(run.id) for run in runs}
        return runs, audits, ledgers, cards


def _errors(logs: dict[str, str]) -> Counter[str]:
    """Error-level lines of the replicas' JSON logs, by logger and message."""
    found: Counter[str] = Counter()
    for text in logs.values():
        for line in text.splitlines():
            if not line.startswith("{"):
                continue
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("level") in {"error", "critical"}:
                    found[f"{entry.get('logger')}: {str(entry.get('msg'))[:100]}"] += 1
    return found


def _button(blocks: list[dict[str, Any]], action_id: str, step_id: str) -> str | None:
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") != action_id:
                continue
            value = str(element.get("value", ""))
            with contextlib.suppress(Exception):
                if ButtonValue.parse(value).s == step_id:
                    return value
    return None


async def _retrying(make: Callable[[], Awaitable[Run]], attempts: int = 20) -> Run:
    for attempt in range(attempts):
        try:
            return await make()
        except RedisError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.25)
    raise AssertionError("unreachable")


async def run_chaos(plan: ChaosPlan, workdir: Path,
                    progress: Callable[[str], None] | None = None) -> ChaosReport:
    """Run the whole suite in ``workdir``; the report carries the verdict."""
    say = progress or (lambda _text: None)
    seed = plan.seed if plan.seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    began = time.monotonic()
    async with World(workdir, plan.world) as world, aiohttp.ClientSession() as http:
        assert world.config is not None
        assert world.redis is not None
        assert world.slack is not None
        runtime = await build_runtime(world.config, world.redis.url)
        try:
            chaos = Chaos(plan, world, runtime, http, rng)
            balances = {n.name: n.wallet.balance(n.wallet.asset(0))
                        for n in world.devnets["regtest"].nodes}
            say(f"world up: {len(world.replicas)} replicas on ports "
                f"{[r.port for r in world.replicas]}; starting {plan.runs} runs (seed {seed})")
            people = asyncio.create_task(chaos.people())
            killer = asyncio.create_task(chaos.killer())
            slack = asyncio.create_task(chaos.slack())
            await chaos.start_runs()
            settled = True
            try:
                await asyncio.wait_for(asyncio.shield(people), plan.deadline)
            except TimeoutError:
                settled = False
                chaos.settled.set()
            await asyncio.gather(people, killer, slack, return_exceptions=True)
            say(f"runs settled after {time.monotonic() - began:.0f} s ({chaos.kills} kills); "
                "letting the cards catch up")
            await chaos.calm()
            runs, audits, ledgers, cards = await chaos.observe()
            codes = await world.stop_replicas()
            logs = {r.name: r.log_text() for r in world.replicas}
            people_ids = frozenset(u for members in world.config.groups.values()
                                   for u in members)
            verdict = judge(runs, audits, ledgers, cards, chaos.commands, world.devnets,
                            world.slack, people=people_ids,
                            known_workflows=frozenset(runtime.definitions),
                            secrets=SECRETS, logs=logs, balances=balances,
                            timeline=chaos.timeline)
            if not settled:
                verdict.fail(f"not every run settled within {plan.deadline:g} s")
            for name, code in codes.items():
                if code != 0:
                    verdict.fail(f"{name} exited {code} on SIGTERM")
            errors = _errors(logs)
            return ChaosReport(plan, seed, verdict, time.monotonic() - began, chaos.kills,
                               len(world.redis_restarts), chaos.slack_faults, chaos.retries,
                               codes, errors, settled)
        finally:
            await runtime.aclose()


async def _interruptible(work: Awaitable[ChaosReport]) -> ChaosReport:
    """SIGTERM cancels the suite, so the world is taken down (no replica or Redis left)."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await work


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--kills", type=int, default=15)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--lease", type=float, default=3.0)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the replicas' logs and Redis here (default: a temp dir)")
    args = parser.parse_args(argv)
    plan = ChaosPlan(runs=args.runs, kills=args.kills, seed=args.seed,
                     world=WorldSettings(lease=args.lease))
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="chaos-")))
        report = asyncio.run(_interruptible(run_chaos(
            plan, workdir, progress=lambda t: print(t, flush=True))))
    for line in report.summary():
        print(line)
    print(f"duplicate_cards={report.verdict.duplicate_cards}")
    print(f"chaos_violations={len(report.verdict.violations)}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

