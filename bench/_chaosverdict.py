"""The chaos suite's verdict: what must hold once the faults stop, checked from the outside.

Side effects are counted from what the fakes of the outside world recorded (the devnet nodes'
wallets and request logs, the deploy receivers' requests), approvals and retries from the
driver's own record of what it sent and what it was answered, cards from the Slack stand-in's
messages. The bot's state in Redis is read only to know what each run claims happened.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.devnet import Devnet
from bot.devnet.deploy import NODE_ACTIONS
from bot.slack.views import run_card
from bot.testing.standin import SlackStandIn
from workflows.auditlog import AuditEntry
from workflows.model import Run, RunStatus, StepStatus
from workflows.step_models import Effect, StepKind

__all__ = ["CommandSent", "Verdict", "in_doubt", "judge", "voted"]


@dataclass(frozen=True)
class CommandSent:
    """One approval or retry the driver gave: through the service, or as a signed click on the
    card's button sent to a replica."""

    command: str  # "approve" | "retry"
    run_id: str
    step_id: str
    user: str
    via: str  # "service" | "click"
    status: int  # HTTP status of the click (0: no answer); 200 for a service call that returned
    durable: bool | None = None  # after a 200: applied or an audited refusal, right away
    detail: str = ""


@dataclass
class Verdict:
    violations: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    duplicate_cards: int = 0  # cards posted beyond the first, over all runs

    @property
    def ok(self) -> bool:
        return not self.violations

    def fail(self, text: str) -> None:
        self.violations.append(text)


def in_doubt(run: Run) -> bool:
    """Blocked because a side-effecting step's outcome is unknown (the machine says so)."""
    current = run.current
    if run.status is not RunStatus.BLOCKED or current is None:
        return False
    state = current[1]
    return state.status is StepStatus.BLOCKED and (state.error or "").startswith("in doubt")


def judge(
    runs: list[Run],
    audits: dict[str, list[AuditEntry]],
    ledgers: dict[str, dict[str, Any]],
    cards: dict[str, tuple[str, str] | None],
    commands: list[CommandSent],
    devnets: dict[str, Devnet],
    slack: SlackStandIn,
    *,
    people: Collection[str],
    known_workflows: Collection[str],
    secrets: Iterable[str],
    logs: dict[str, str],
    balances: dict[str, int],
    timeline: list[tuple[float, str]],
) -> Verdict:
    """``balances``: each regtest node's balance of asset 0 before the runs (payments are
    counted from the node's wallet); ``timeline``: (monotonic time, what the driver did)."""
    verdict = Verdict()
    _outcomes(verdict, runs)
    _side_effects(verdict, runs, audits, ledgers, devnets, balances)
    _commands(verdict, runs, audits, commands)
    _cards(verdict, runs, cards, slack, people, known_workflows, timeline)
    _secrets(verdict, slack, logs, tuple(secrets))
    return verdict


def _outcomes(verdict: Verdict, runs: list[Run]) -> None:
    statuses: Counter[str] = Counter()
    for run in runs:
        if run.terminal:
            statuses[run.status.value] += 1
        elif in_doubt(run):
            statuses["blocked in doubt"] += 1
        else:
            statuses[f"unsettled ({run.status.value})"] += 1
            where = run.current[0].id if run.current else "-"
            verdict.fail(f"run {run.id} neither finished nor blocked in doubt: "
                         f"{run.status.value} at {where}: {run.reason}")
    verdict.facts["runs"] = dict(statuses)


def _side_effects(
    verdict: Verdict,
    runs: list[Run],
    audits: dict[str, list[AuditEntry]],
    ledgers: dict[str, dict[str, Any]],
    devnets: dict[str, Devnet],
    balances: dict[str, int],
) -> None:
    # 1. The deploy systems: one applied request per run and step, whatever happened.
    applied: Counter[tuple[str, str]] = Counter()
    replayed = 0
    for net in devnets.values():
        for request in net.deploy.requests:
            body = request.body or {}
            if request.applied:
                applied[(str(body.get("run_id")), str(body.get("step_id")))] += 1
            replayed += request.replay
    for (run_id, step_id), count in applied.items():
        if count > 1:
            verdict.fail(f"deploy system acted {count} times for {run_id} {step_id}")
    # ... and every webhook step that says it acted on nodes did so exactly once.
    for run in runs:
        for step, state in zip(run.plan, run.steps, strict=True):
            action = step.with_.get("action")
            if (step.kind is StepKind.WEBHOOK and state.status is StepStatus.SUCCEEDED
                    and action in NODE_ACTIONS and step.targets
                    and applied[(run.id, step.id)] != 1):
                verdict.fail(f"{run.id} {step.id} succeeded but the deploy system acted "
                             f"{applied[(run.id, step.id)]} times")
    # 2. The nodes' own records: payments from the wallet (one base unit each), stops and
    #    payment requests from the request logs.
    regtest = devnets["regtest"].nodes
    sent_ok = sum(balances[n.name] - n.wallet.balance(n.wallet.asset(0)) for n in regtest)
    asked = sum(1 for n in regtest for r in n.request_log if r.method == "sendtoaddress")
    stops = sum(
        1 for net in devnets.values() for node in net.nodes for record in node.request_log
        if record.method == "stop"
    )
    paid = doubtful = 0
    for run in runs:
        index = run.index_of("regtest-transaction")
        if index is None:
            continue
        state = run.steps[index]
        paid += state.status is StepStatus.SUCCEEDED
        doubtful += state.status is StepStatus.BLOCKED and (state.error or "").startswith(
            "in doubt")
    if not paid <= sent_ok <= paid + doubtful:
        verdict.fail(f"the regtest node made {sent_ok} payments for {paid} recorded by runs "
                     f"and {doubtful} in doubt")
    if stops:
        verdict.fail(f"nodes received {stops} stop calls; a promotion stops no node by RPC")
    # 3. The ledger: one intent per write step, more only after a person asked for a retry.
    for run in runs:
        ledger = ledgers.get(run.id, {})
        intents: Counter[str] = Counter(name.rsplit("#", 1)[0] for name in ledger)
        retries: Counter[str] = Counter(
            e.step_id or "" for e in audits.get(run.id, []) if e.type == "retry")
        for step in run.plan:
            if step.effect is Effect.WRITE and intents[step.id] > 1 + retries[step.id]:
                verdict.fail(f"{run.id} {step.id} was begun {intents[step.id]} times with "
                             f"{retries[step.id]} retries asked for")
    verdict.facts["side effects"] = {
        "deploy requests applied": sum(applied.values()),
        "deploy requests answered from the idempotency record": replayed,
        "sendtoaddress requests at the regtest node": asked,
        "payments made by the regtest node's wallet": sent_ok,
        "payments recorded by runs": paid,
        "payments in doubt": doubtful,
        "stop calls": stops,
    }


def _commands(
    verdict: Verdict,
    runs: list[Run],
    audits: dict[str, list[AuditEntry]],
    commands: list[CommandSent],
) -> None:
    """Nothing answered 200 is lost: every approval or retry answered 200 was applied (a vote,
    a retry in the audit) or refused and audited, when the driver looked right after."""
    by_id = {run.id: run for run in runs}
    refused = 0
    for sent in (c for c in commands if c.status == 200):
        what = f"{sent.command} of {sent.run_id} {sent.step_id} by {sent.user} ({sent.via})"
        if sent.durable is False:
            verdict.fail(f"{what} was answered 200 but was neither applied nor an audited "
                         f"refusal right after ({sent.detail})")
            continue
        entries = audits.get(sent.run_id, [])
        hits = {e.type for e in entries if e.actor == sent.user and e.step_id == sent.step_id}
        if sent.command in hits:
            run = by_id.get(sent.run_id)
            if sent.command == "approve" and (run is None
                                              or not voted(run, sent.step_id, sent.user)):
                verdict.fail(f"{what} is audited but not among the step's votes")
        elif f"refused_{sent.command}" in hits:
            refused += 1
        else:
            verdict.fail(f"{what} was answered 200 and is neither applied nor an audited refusal")
    # Every vote a run counts came from someone the driver asked to approve.
    asked = {(c.run_id, c.step_id, c.user) for c in commands if c.command == "approve"}
    for run in runs:
        for step, state in zip(run.plan, run.steps, strict=True):
            for vote in state.approval.votes if state.approval else []:
                if (run.id, step.id, vote.user) not in asked:
                    verdict.fail(f"{run.id} {step.id} counts a vote by {vote.user} nobody gave")
    clicks = [c for c in commands if c.via == "click"]
    verdict.facts["approvals and retries"] = {
        "clicks sent": len(clicks),
        "clicks answered 200": sum(c.status == 200 for c in clicks),
        "clicks answered 5xx (not taken; sent again later)": sum(c.status >= 500 for c in clicks),
        "clicks not answered (replica down)": sum(c.status == 0 for c in clicks),
        "through the service": sum(c.via == "service" and c.status == 200 for c in commands),
        "answered but refused (audited)": refused,
    }


def voted(run: Run, step_id: str, user: str) -> bool:
    """The step's approval request counts an approval by ``user``."""
    index = run.index_of(step_id)
    if index is None:
        return False
    approval = run.steps[index].approval
    return approval is not None and any(
        v.user == user and v.decision == "approve" for v in approval.votes)


def _cards(
    verdict: Verdict,
    runs: list[Run],
    cards: dict[str, tuple[str, str] | None],
    slack: SlackStandIn,
    people: Collection[str],
    known_workflows: Collection[str],
    timeline: list[tuple[float, str]],
) -> None:
    posted: dict[str, list[float]] = {}
    for call in slack.calls_of("chat.postMessage"):
        if not call.ok or call.args.get("thread_ts"):
            continue
        for block in call.args.get("blocks") or []:
            if isinstance(block, dict) and block.get("block_id") == "card.footer":
                text = str(block.get("elements", [{}])[0].get("text", ""))
                run_id = text.split("`")[1] if "`" in text else ""
                posted.setdefault(run_id, []).append(call.at)
    stale = 0
    for run in runs:
        where = cards.get(run.id)
        message = slack.message(*where) if where and where[1] else None
        if message is None:
            verdict.fail(f"run {run.id} has no card in Slack")
            continue
        expected = run_card(run, people=people, known_workflows=known_workflows)
        if message.blocks != expected.blocks or message.text != expected.text:
            stale += 1
            verdict.fail(f"the card of {run.id} does not show its final state "
                         f"(Slack: {message.text!r}; run: {expected.text!r})")
        if in_doubt(run) and "in doubt" not in str(message.blocks):
            verdict.fail(f"the card of {run.id} does not say why it is blocked (in doubt)")
        times = posted.get(run.id, [])
        if len(times) > 1:  # one card per run, whatever was killed or lost around it
            verdict.duplicate_cards += len(times) - 1
            near = [f"{what} at {at - times[0]:+.2f} s" for at, what in timeline
                    if times[0] - 3 <= at <= times[0] + 5]
            verdict.fail(f"the card of {run.id} was posted {len(times)} times, "
                         f"{times[-1] - times[0]:.2f} s apart (around the first: "
                         f"{near or 'nothing'})")
    updates = slack.calls_of("chat.update")
    verdict.facts["slack"] = {
        "cards in their final state": len(runs) - stale,
        "cards posted more than once (counted from the stand-in's calls)": verdict.duplicate_cards,
        "messages looked up before posting again (conversations.history/replies)": sum(
            1 for c in slack.calls
            if c.method in {"conversations.history", "conversations.replies"}),
        "chat.update calls": len(updates),
        "answered 429": sum(c.status == 429 for c in slack.calls),
        "answered 5xx": sum(c.status >= 500 for c in slack.calls),
    }


def _secrets(verdict: Verdict, slack: SlackStandIn, logs: dict[str, str],
             secrets: tuple[str, ...]) -> None:
    recorded = repr([(c.method, c.args, c.response) for c in slack.calls])
    for secret in secrets:
        if secret in recorded:
            verdict.fail("a secret appears in a recorded Slack call")
        for name, text in logs.items():
            if secret in text:
                verdict.fail(f"a secret appears in the log of {name}")
