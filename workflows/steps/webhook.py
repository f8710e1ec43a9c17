"""The ``webhook`` step: ask the environment's deploy system to do something, signed.

``with: {action: deploy, version: v1.4.2, guard: true, ...}``: the JSON body carries the action,
the environment, the step's target nodes, the run and step ids, and every other ``with`` value.
Headers: ``X-Parthenon-Timestamp``, ``X-Parthenon-Signature: v1=<hex hmac_sha256(secret,
"{timestamp}.{body}")>`` and ``Idempotency-Key`` (the step attempt's key: the receiver answers a
repeat with its first answer and acts once). 2xx is success. Connection failures and 5xx are
tried again a few times within the attempt with the same key.

When the environment has no ``deploy_webhook`` the step becomes a manual confirmation: a person
does it by hand and confirms (with the step's ``inputs``, when it has some). Target nodes are
checked by the network guard first unless ``guard: false`` (a node being started is down).

``action: verify-version`` is the release gate on deploy evidence (workflows/steps/release.py):
it needs the endpoint, and judges the ``installed`` releases the deploy system reports.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from workflows.errors import OutcomeUnknown
from workflows.model import Outcome, OutcomeFailed, OutcomeSucceeded, OutcomeWait
from workflows.ports import EnvironmentView, WebhookView
from workflows.release_gate import VERIFY_VERSION
from workflows.step_models import StepKind
from workflows.steps.base import StepContext
from workflows.steps.nodeaccess import (
    NodeAccess,
    StepSetupError,
    guard_nodes,
    step_config,
    step_environment,
)
from workflows.steps.release import NoAnswer, verify_release
from workflows.steps.rpc import captures_from

__all__ = ["RESERVED_ARGS", "WebhookExecutor", "build_body", "sign"]

RESERVED_ARGS = frozenset({"action", "guard", "instructions", "evidence"})
_MAX_REPLY = 64 * 1024
_TRIES = 3


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=`` + hex HMAC-SHA256 of ``"{timestamp}.{body}"`` under the webhook secret."""
    message = f"{timestamp}.".encode() + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def build_body(ctx: StepContext, environment: str, nodes: list[str] | None = None) -> bytes:
    """The request body: canonical JSON, so a repeat with the same key is the same bytes.
    ``nodes``: other nodes than the step's targets (a verify-version for the unknown ones)."""
    action = ctx.args.get("action")
    if not isinstance(action, str) or not action:
        raise ValueError("a webhook step needs 'action'")
    payload: dict[str, Any] = {
        key: value for key, value in ctx.args.items() if key not in RESERVED_ARGS
    }
    payload.update(
        action=action,
        environment=environment,
        nodes=list(ctx.step.targets) if nodes is None else nodes,
        run_id=ctx.run.id,
        workflow=ctx.run.workflow,
        step_id=ctx.step.id,
        requested_by=ctx.run.initiator,
    )
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


class WebhookExecutor:
    kind = StepKind.WEBHOOK

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        retry_delay: float = 0.5,
    ) -> None:
        self._clock = clock
        self._retry_delay = retry_delay

    async def execute(self, ctx: StepContext) -> Outcome:
        try:
            config = step_config(ctx)
            env = step_environment(config, ctx)
            body = build_body(ctx, env.name)
        except (StepSetupError, ValueError) as exc:
            return OutcomeFailed(error=str(exc))
        hook = env.deploy_webhook
        if ctx.args.get("action") == VERIFY_VERSION:
            return await self._verify_version(ctx, env, hook)
        if hook is None:
            what = ctx.args.get("instructions") or ctx.step.description
            note = f"no deploy endpoint for {env.name}: do it by hand and confirm"
            return OutcomeWait(
                waiting_for="confirmation", note=f"{note}. {what}" if what else note
            )
        if ctx.step.targets and ctx.args.get("guard", True) not in (False, "false", "no"):
            try:
                access = NodeAccess.of(ctx)
                nodes = access.targets(ctx)
                guarded = access.environment(ctx)  # the guard's view of the same environment
            except StepSetupError as exc:
                return OutcomeFailed(error=str(exc))
            report = await guard_nodes(access, nodes, guarded)
            if not report.ok:
                return OutcomeFailed(
                    error=report.error(), transient=report.transient,
                    result={"guard": report.as_result()},
                )
        return await self._post(ctx, hook, body)

    async def verify(self, ctx: StepContext) -> Outcome | None:
        """The receiver de-duplicates on the Idempotency-Key, which is the same for this
        attempt: sending again either performs the call that never arrived or returns the
        first answer. A manual fallback needs a person either way."""
        try:
            config = step_config(ctx)
            env = step_environment(config, ctx)
            body = build_body(ctx, env.name)
        except (StepSetupError, ValueError):
            return None
        if ctx.args.get("action") == VERIFY_VERSION:  # a read: judge the versions again
            return await self._verify_version(ctx, env, env.deploy_webhook)
        if env.deploy_webhook is None:
            return None
        return await self._post(ctx, env.deploy_webhook, body)

    async def _verify_version(
        self, ctx: StepContext, env: EnvironmentView, hook: WebhookView | None
    ) -> Outcome:
        """The release gate on deploy evidence; without an endpoint there is none to trust."""
        if hook is None:
            return OutcomeFailed(
                error=f"{env.name} has no deploy_webhook to report installed releases: set "
                "evidence.release to person (or rpc on a daemon that reports release strings)"
            )

        async def ask(nodes: list[str]) -> tuple[int, Any]:
            body = build_body(ctx, env.name, nodes)
            try:
                return await self._exchange(ctx, hook, body)
            except _Unanswered as exc:
                raise NoAnswer(exc.last_error) from None

        return await verify_release(ctx, ask)

    async def _post(self, ctx: StepContext, hook: WebhookView, body: bytes) -> Outcome:
        try:
            status, reply = await self._exchange(ctx, hook, body)
        except _Unanswered as exc:
            if exc.reached:
                # It may have acted: a Retry (a new attempt, a new Idempotency-Key) could act
                # twice. The engine verifies with this attempt's key, else the run is blocked.
                raise OutcomeUnknown(
                    f"the deploy endpoint gave no definite answer ({exc.last_error}) after "
                    f"{_TRIES} tries"
                ) from None
            return OutcomeFailed(
                error=f"the deploy endpoint did not answer ({exc.last_error}) after {_TRIES} tries",
                transient=True,
            )
        return self._answer(ctx, status, reply)

    async def _exchange(
        self, ctx: StepContext, hook: WebhookView, body: bytes
    ) -> tuple[int, Any]:
        """POST the signed body, a few tries on connection errors and 5xx; (status, reply)."""
        secret = hook.secret.get_secret_value()
        timeout = aiohttp.ClientTimeout(total=hook.timeout)
        last_error = "no attempt made"
        reached = False  # some try may have reached the deploy system (not just refused)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for attempt in range(_TRIES):
                if attempt:
                    await asyncio.sleep(self._retry_delay * 2 ** (attempt - 1))
                timestamp = int(self._clock())
                headers = {
                    "Content-Type": "application/json",
                    "X-Parthenon-Timestamp": str(timestamp),
                    "X-Parthenon-Signature": sign(secret, timestamp, body),
                    "Idempotency-Key": ctx.idempotency_key,
                }
                try:
                    async with session.post(hook.url, data=body, headers=headers) as response:
                        raw = await response.content.read(_MAX_REPLY)
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                    reached = reached or not isinstance(exc, aiohttp.ClientConnectorError)
                    continue
                reply = _decode(raw)
                if status >= 500:
                    last_error = f"HTTP {status}: {_short(reply)}"
                    reached = True
                    continue
                return status, reply
        raise _Unanswered(last_error, reached=reached)

    @staticmethod
    def _answer(ctx: StepContext, status: int, reply: Any) -> Outcome:
        result = {"status": status, "response": reply, "nodes": list(ctx.step.targets)}
        if not 200 <= status < 300:
            return OutcomeFailed(
                error=f"the deploy endpoint refused with HTTP {status}: {_short(reply)}",
                result=result,
            )
        captures, missing = captures_from(ctx, result)
        if missing:
            return OutcomeFailed(error="nothing to capture for " + ", ".join(missing),
                                 result=result)
        action = ctx.args.get("action")
        targets = ", ".join(ctx.step.targets)
        note = f"deploy system did {action}" + (f" on {targets}" if targets else "")
        return OutcomeSucceeded(result=result, captures=captures, note=note)


class _Unanswered(Exception):
    """No definite answer after every try; ``reached``: some try may have arrived."""

    def __init__(self, last_error: str, *, reached: bool) -> None:
        super().__init__(last_error)
        self.last_error = last_error
        self.reached = reached


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")[:500]


def _short(reply: Any) -> str:
    if isinstance(reply, dict) and "error" in reply:
        return str(reply["error"])[:300]
    return json.dumps(reply, default=str)[:300] if not isinstance(reply, str) else reply[:300]
