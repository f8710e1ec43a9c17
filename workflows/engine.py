"""The engine: async workers that pick up due runs, execute their steps, record the results.

A worker claims a run's lease (a fencing token), asks the pure machine what is due, executes the
step through the executor registry while renewing the lease, and commits the outcome only while
its token still holds. A run whose current step was begun by a worker that vanished is resumed:
a read step is simply run again; a write step (intent in the ledger, no outcome) is in doubt and
is verified by its executor, or blocked for a human. Nothing that changed something is repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from workflows import dedupkeys
from workflows.apply import apply
from workflows.autorollback import AutoRollback
from workflows.errors import InvalidCommand, LeaseLost
from workflows.machine import next_action, wake_at
from workflows.model import (
    Outcome,
    OutcomeFailed,
    Run,
    StepBegan,
    StepFinished,
    StepInDoubt,
    StepStatus,
    Tick,
)
from workflows.outage import Outage
from workflows.service import WorkflowService
from workflows.step_models import Effect
from workflows.steps.base import ExecutorRegistry, StepContext, StepExecutor
from workflows.steps.deps import StepDeps
from workflows.store import RunStore
from workflows.storecommit import CommitOutcome, CommitStatus, LedgerWrite
from workflows.template import TemplateError, context_for, render

__all__ = ["Engine", "EngineSettings", "EngineStats", "default_worker_id"]

log = logging.getLogger("parthenon.engine")

_HALT_RETRY = timedelta(seconds=5)  # a halt whose automatic rollback failed is tried again


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class EngineSettings:
    worker_id: str = field(default_factory=default_worker_id)
    # A crashed worker's run is resumed when its lease runs out: between lease - heartbeat and
    # lease after the worker's last renewal (2-2.5 s). A live worker keeps its lease through an
    # event-loop stall or a slow Redis of up to lease - heartbeat (2 s); longer, and another
    # replica resumes the run while this one's commits are refused by the fencing token.
    lease: timedelta = timedelta(seconds=2.5)
    heartbeat: timedelta | None = None  # None: every fifth of the lease, at most 0.5 s
    poll_interval: float = 0.1  # seconds between looks at the due index when idle
    concurrency: int = 50  # runs processed at once by this process
    batch: int = 200  # due runs fetched per look
    max_steps_per_claim: int = 100  # steps run back to back under one lease, for fairness

    @property
    def lease_ms(self) -> int:
        return int(self.lease.total_seconds() * 1000)

    @property
    def renew_every(self) -> float:
        """Seconds between two renewals of a lease in hand."""
        if self.heartbeat is not None:
            return max(self.heartbeat.total_seconds(), 0.01)
        return max(min(self.lease.total_seconds() / 5, 0.5), 0.01)


@dataclass
class EngineStats:
    """Counters for /metrics and the benchmarks."""

    steps_executed: int = 0
    steps_failed: int = 0
    takeovers: int = 0  # runs resumed after another worker's lease ran out mid-step
    in_doubt: int = 0
    conflicts: int = 0
    lease_lost: int = 0
    claims: int = 0


class Engine:
    def __init__(
        self,
        store: RunStore,
        registry: ExecutorRegistry,
        *,
        settings: EngineSettings | None = None,
        deps: StepDeps | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings or EngineSettings()
        self.deps = deps or StepDeps()
        self.stats = EngineStats()
        self.outage = Outage("engine", log)  # Redis away: one line when it begins, one at its end
        self._stopping = asyncio.Event()
        self._inflight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        self._auto: AutoRollback | None = None

    # --- the loop --------------------------------------------------------------------------

    async def resume_all(self) -> int:
        """Put every active run back on the due index (at its own wake time): on start, so a
        run whose index entry was lost in a crash is still picked up. Returns how many."""
        count = 0
        now = self.store.now()
        for run in await self.store.load_many(await self.store.active_ids(limit=100_000)):
            when = wake_at(run, now)
            if when is not None:
                await self.store.wake(run.id, when)
                count += 1
        return count

    async def run_forever(self) -> None:
        """Resume active runs, then poll the due index until ``stop``; ride out Redis restarts."""
        try:
            resumed = await self.resume_all()
            log.info("engine started; %d active runs due", resumed)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            self.outage.failed("redis", exc)  # (every run is resumed by its wake time anyway)
        kept_at = 0.0
        while not self._stopping.is_set():
            kept_at = await self._keep(kept_at)
            try:
                started = await self.run_once()
                self.outage.recovered()
                wait = self.settings.poll_interval
            except (RedisConnectionError, RedisTimeoutError) as exc:
                started, wait = 0, self.outage.failed("redis", exc)
            if started == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), wait)

    async def _keep(self, last: float) -> float:
        """Every second or so: the freezes of incidents that have ended are lifted and the runs
        they held released (``workflows.freezer``; any replica, the first one wins)."""
        now = asyncio.get_running_loop().time()
        keeper = self.deps.freezer
        if keeper is None or now - last < 1.0:
            return last
        try:
            await keeper.reconcile()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            self.outage.failed("redis", exc)
        except Exception:
            log.exception("freeze keeper pass failed")
        return now

    async def run_once(self) -> int:
        """Start processing every due run not already in hand; returns how many were started."""
        due = await self.store.due(self.store.now(), self.settings.batch)
        started = 0
        for run_id in due:
            if self._stopping.is_set():
                break
            if run_id in self._inflight:
                continue
            await self._slots.acquire()
            self._inflight.add(run_id)
            task = asyncio.create_task(self._guarded(run_id), name=f"run:{run_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def drain(self) -> None:
        """Wait for the runs in hand (tests and benchmarks)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self, deadline: float = 10.0) -> None:
        """Take no new work; let steps in hand finish within ``deadline``, then release them."""
        self._stopping.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=deadline)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _guarded(self, run_id: str) -> None:
        try:
            await self.process(run_id)
        except asyncio.CancelledError:
            log.warning("run released on stop", extra={"run_id": run_id})
            raise
        except (RedisConnectionError, RedisTimeoutError) as exc:
            self.outage.failed("redis", exc)  # the run stays due; resumed once Redis is back
        except Exception:
            log.exception("engine error while processing a run", extra={"run_id": run_id})
        finally:
            self._inflight.discard(run_id)
            self._slots.release()

    # --- one run ---------------------------------------------------------------------------

    async def process(self, run_id: str) -> None:
        """Claim the run, do what is due, release it."""
        token = await self.store.claim(run_id, self.settings.worker_id, self.settings.lease_ms)
        if token is None:
            return
        self.stats.claims += 1
        work = asyncio.current_task()
        heartbeat = asyncio.create_task(self._heartbeat(run_id, token, work))
        latest: Run | None = None  # the run as this worker last committed it
        halt_again = False  # a halt's automatic rollback failed: come back to it
        try:
            for _ in range(self.settings.max_steps_per_claim):
                if self._stopping.is_set():
                    break
                run = latest or await self.store.load(run_id)
                latest = run
                if run is None:
                    break
                action = next_action(run, self.store.now())
                if action is None:
                    # Still under the lease, and still on the due index until released: a halt
                    # whose environment rolls back starts its rollback here, once.
                    halt_again = not await self._after_halt(run)
                    break
                outcome: CommitOutcome | None
                if action == "tick":
                    outcome = await apply(self.store, run_id, Tick(), now=self.store.now,
                                          token=token, known=run)
                elif action == "recover":
                    self.stats.takeovers += 1
                    outcome = await self._recover(run, token)
                else:
                    outcome = await self._step(run, token, fresh=action == "execute")
                if outcome is not None and outcome.status is CommitStatus.LEASE_LOST:
                    self.stats.lease_lost += 1
                    raise LeaseLost(f"lost the lease on {run_id}")
                if outcome is not None and outcome.status is CommitStatus.IN_DOUBT:
                    break
                latest = outcome.run if outcome is not None else None
        except LeaseLost:
            log.warning("lease lost; another worker has the run", extra={"run_id": run_id})
            return
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self.store.release(run_id, token, latest))
            if halt_again:
                await self.store.wake(run_id, self.store.now() + _HALT_RETRY)

    async def _after_halt(self, run: Run) -> bool:
        """A halted run's automatic rollback (workflows.autorollback); False if it failed and
        should be tried again."""
        halts = self._halts()
        if halts is None or halts.wanted(run) is None:
            return True
        try:
            await halts.after_halt(run)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            self.outage.failed("redis", exc)
            return False
        except Exception:
            log.exception("automatic rollback failed", extra={"run_id": run.id})
            return False
        return True

    def _halts(self) -> AutoRollback | None:
        """Built over the service the steps get (none: an engine without one rolls nothing)."""
        service = self.deps.runs
        if self._auto is None and isinstance(service, WorkflowService):
            self._auto = AutoRollback(service)
        return self._auto

    async def _heartbeat(self, run_id: str, token: str, work: asyncio.Task[Any] | None) -> None:
        """Renew the lease every heartbeat while the run is in hand; if it is gone, stop the
        work (its commits would be refused by the fencing token anyway)."""
        every = self.settings.renew_every
        while True:
            await asyncio.sleep(every)
            try:
                held = await self.store.renew(run_id, token, self.settings.lease_ms)
            except (RedisConnectionError, RedisTimeoutError):
                continue
            if not held:
                self.stats.lease_lost += 1
                log.warning("lease expired while in hand", extra={"run_id": run_id})
                if work is not None:
                    work.cancel()
                return

    async def _step(self, run: Run, token: str, *, fresh: bool) -> CommitOutcome | None:
        current = run.current
        if current is None:
            return None
        step, state = current
        attempt = state.attempt + 1 if fresh else state.attempt
        if fresh and step.effect is Effect.WRITE:
            # Intent before the call, durably: the ledger is what prevents a second execution.
            # A read step's beginning is not recorded; its outcome begins it implicitly.
            began = await self._begin(run, token, attempt)
            if began.status is not CommitStatus.OK or began.run is None:
                return began
            run = began.run
        outcome = await self._execute(run, token, attempt)
        if outcome is None:  # a write step that timed out or crashed and could not be verified
            return await apply(
                self.store, run.id,
                StepInDoubt(
                    step_id=step.id,
                    attempt=attempt,
                    reason="its call did not complete and its result could not be verified",
                ),
                token=token, now=self.store.now,
            )
        return await self._finish(run, token, attempt, outcome)

    async def _begin(self, run: Run, token: str, attempt: int) -> CommitOutcome:
        step = run.plan[run.cursor or 0]
        ledger = None
        if step.effect is Effect.WRITE:
            ledger = LedgerWrite(
                "intent", step.id, attempt,
                {"worker": self.settings.worker_id, "token": token,
                 "at": self.store.now().isoformat()},
            )
        event = StepBegan(step_id=step.id, attempt=attempt, worker=self.settings.worker_id)
        try:
            outcome = await apply(
                self.store, run.id, event, token=token,
                ledger=(lambda _r: ledger) if ledger else None, known=run, now=self.store.now,
            )
        except InvalidCommand:
            # The connection dropped after our commit landed and the client sent it again (a
            # Redis restart): if the stored beginning is ours, under this very lease, it stands.
            mine = await self._own_beginning(run.id, step.id, attempt, token)
            if mine is None:
                raise
            return CommitOutcome(CommitStatus.OK, mine)
        if outcome.status is CommitStatus.IN_DOUBT:
            # An intent for this very attempt exists already: never execute it a second time.
            self.stats.in_doubt += 1
            log.error("intent already recorded; not executing", extra={"run_id": run.id})
        return outcome

    async def _own_beginning(
        self, run_id: str, step_id: str, attempt: int, token: str
    ) -> Run | None:
        """The run, if its step ``attempt`` is running and its ledger intent carries our token."""
        stored = await self.store.load(run_id)
        index = stored.index_of(step_id) if stored is not None else None
        if stored is None or index is None:
            return None
        state = stored.steps[index]
        if state.status is not StepStatus.RUNNING or state.attempt != attempt:
            return None
        entry = await self.store.ledger_entry(run_id, step_id, attempt)
        if entry is None or entry.get("token") != token or "outcome" in entry:
            return None
        return stored

    async def _finish(
        self, run: Run, token: str, attempt: int, outcome: Outcome
    ) -> CommitOutcome:
        step = run.plan[run.cursor or 0]
        ledger = None
        if step.effect is Effect.WRITE and outcome.kind in {"succeeded", "failed"}:
            ledger = LedgerWrite(
                "outcome", step.id, attempt,
                {"outcome": outcome.kind, "at": self.store.now().isoformat(),
                 "worker": self.settings.worker_id},
            )
        if isinstance(outcome, OutcomeFailed):
            self.stats.steps_failed += 1
        try:
            return await apply(
                self.store, run.id,
                StepFinished(step_id=step.id, attempt=attempt, outcome=outcome),
                token=token,
                ledger=(lambda _r: ledger) if ledger else None,
                known=run, now=self.store.now,
            )
        except InvalidCommand as exc:
            # The run moved on under us in a way that makes this outcome moot (e.g. retried).
            log.warning("step outcome not recorded: %s", exc, extra={"run_id": run.id})
            return CommitOutcome(CommitStatus.CONFLICT, None, str(exc))

    async def _recover(self, run: Run, token: str) -> CommitOutcome | None:
        """The current step was begun by a worker that is gone."""
        step, state = run.current or (None, None)
        if step is None or state is None:
            return None
        if step.effect is Effect.READ:
            return await self._step(run, token, fresh=True)
        entry = await self.store.ledger_entry(run.id, step.id, state.attempt)
        if entry is not None and "outcome" in entry:  # cannot normally happen: same commit
            return None
        executor = self.registry.get(step.kind)
        verified = None
        if executor is not None:
            verified = await self._verify(executor, run, state.attempt)
        if verified is not None:
            return await self._finish(run, token, state.attempt, verified)
        self.stats.in_doubt += 1
        return await apply(
            self.store, run.id,
            StepInDoubt(
                step_id=step.id,
                attempt=state.attempt,
                reason=f"worker {entry.get('worker', '?') if entry else '?'} began it and "
                "stopped before recording a result; it was not verified",
            ),
            token=token, now=self.store.now,
        )

    async def _verify(self, executor: StepExecutor, run: Run, attempt: int) -> Outcome | None:
        try:
            ctx = self._context(run, attempt)
            return await asyncio.wait_for(executor.verify(ctx), ctx.step.timeout.total_seconds())
        except (TemplateError, TimeoutError):
            return None
        except Exception:
            log.exception("verification failed", extra={"run_id": run.id})
            return None

    def _context(self, run: Run, attempt: int) -> StepContext:
        step, state = run.plan[run.cursor or 0], run.steps[run.cursor or 0]
        return StepContext(
            run=run,
            step=step,
            state=state,
            args=render(step.with_, context_for(run, step, self.store.now())),
            now=self.store.now(),
            attempt=attempt,
            idempotency_key=dedupkeys.step_attempt(run.id, step.id, attempt),
            deps=self.deps,
        )

    async def _execute(self, run: Run, token: str, attempt: int) -> Outcome | None:
        """Run the executor under the step's timeout (the heartbeat keeps the lease alive)."""
        step = run.plan[run.cursor or 0]
        executor = self.registry.get(step.kind)
        if executor is None:
            return OutcomeFailed(error=f"no executor for {step.kind.value} steps in this bot")
        try:
            ctx = self._context(run, attempt)
        except TemplateError as exc:
            return OutcomeFailed(error=str(exc))
        self.stats.steps_executed += 1
        try:
            async with asyncio.timeout(step.timeout.total_seconds()):  # no extra task per step
                return await executor.execute(ctx)
        except TimeoutError:
            return await self._timed_out(executor, run, attempt)
        except Exception as exc:
            log.exception("executor raised", extra={"run_id": run.id, "step_id": step.id})
            if step.effect is Effect.WRITE:
                return await self._verify(executor, run, attempt)
            return OutcomeFailed(error=f"{type(exc).__name__}: {exc}", transient=True)

    async def _timed_out(self, executor: StepExecutor, run: Run, attempt: int) -> Outcome | None:
        step = run.plan[run.cursor or 0]
        if step.effect is Effect.WRITE:
            return await self._verify(executor, run, attempt)
        seconds = step.timeout.total_seconds()
        return OutcomeFailed(error=f"timed out after {seconds:g}s", transient=True)
