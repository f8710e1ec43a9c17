"""The rpc step's actions: one plain call, and the composite node actions the runbook needs.

Each action gets the step's guarded target nodes and returns an ``ActionOutput`` (per-node values,
per-node problems, whole-step fields); the executor turns that into an outcome. Node errors become
that node's problem; a bad argument raises ValueError before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from workflows.nodeerrors import (
    NodeAuthError,
    NodeError,
    NodeMethodError,
    NodeRateLimited,
    NodeTransientError,
    NodeUnreachable,
)
from workflows.nodereplies import StopOutcome
from workflows.ports import READ_METHODS, EnvironmentView, NodeRef
from workflows.step_models import Effect, parse_duration
from workflows.steps.base import StepContext
from workflows.steps.checks import (
    TipRef,
    agreement,
    check_continuity,
    check_expectations,
    parse_expectations,
    parse_tip_refs,
    same_version,
)
from workflows.steps.nodeaccess import NodeAccess

__all__ = [
    "ACTIONS",
    "HARMLESS_METHODS",
    "READ_ACTIONS",
    "ActionInput",
    "ActionOutput",
    "describe_error",
    "is_stopped",
]

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
#: Methods whose repetition does no harm: the reads, and a new (unused) wallet address.
HARMLESS_METHODS = READ_METHODS | {"getnewaddress"}
DEFAULT_STOP_ORDER = ("miner", "validator", "rpc-edge")


@dataclass(frozen=True)
class ActionInput:
    ctx: StepContext
    access: NodeAccess
    environment: EnvironmentView
    nodes: list[NodeRef]
    limit: int

    @property
    def args(self) -> dict[str, Any]:
        return self.ctx.args


@dataclass
class ActionOutput:
    values: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    transient: bool = False  # every problem may clear by itself
    extra: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    failed: str | None = None  # a whole-step failure beyond per-node problems
    # Nodes whose call with side effects may have happened: sent, and no definite answer back.
    unknown: dict[str, str] = field(default_factory=dict)


def describe_error(exc: NodeError) -> str:
    return f"{exc.method}: {exc.message}" if exc.method else exc.message


Probe = Callable[[NodeRef], Awaitable[tuple[Any, str | None]]]


def _outcome_unknown(error: NodeError) -> bool:
    """The node may have acted on a call with side effects: it was sent and no definite answer
    came back (a 429 or a JSON-RPC/auth error is definite: the node did not act)."""
    definite = isinstance(error, NodeRateLimited | NodeMethodError | NodeAuthError)
    return error.sent and not definite and error.method not in HARMLESS_METHODS


async def fan_out(inp: ActionInput, nodes: list[NodeRef], probe: Probe) -> ActionOutput:
    """Run ``probe`` on every node (bounded); a probe returns (value, problem or None)."""
    out = ActionOutput()
    results = await inp.access.client.gather(nodes, probe, limit=inp.limit)
    transient = True
    for result in results:
        if result.error is not None:
            out.problems[result.node] = describe_error(result.error)
            if _outcome_unknown(result.error):
                out.unknown[result.node] = describe_error(result.error)
            transient = transient and isinstance(result.error, NodeTransientError)
            continue
        value, problem = result.value if result.value is not None else (None, "no answer")
        out.values[result.node] = value
        if problem is not None:
            out.problems[result.node] = problem
            transient = False
    out.transient = bool(out.problems) and transient
    return out


def seconds(value: object, default: float) -> float:
    if value is None or value == "":
        return default
    parsed = parse_duration(value)
    if not isinstance(parsed, timedelta):
        raise ValueError(f"not a duration: {value!r}")
    return parsed.total_seconds()


def _require_write(inp: ActionInput, what: str) -> None:
    if inp.ctx.step.effect is not Effect.WRITE:
        raise ValueError(f"{what} changes the node: declare the step 'effect: write'")


# --- actions ------------------------------------------------------------------------------


async def _call(inp: ActionInput) -> ActionOutput:
    method = inp.args.get("method")
    if not isinstance(method, str) or not method:
        raise ValueError("a call needs 'method'")
    if method == "stop":
        raise ValueError("use 'action: stop', which verifies that the node went down")
    params = inp.args.get("params", [])
    if not isinstance(params, list | dict):
        raise ValueError("params must be a list or a mapping")
    if method not in READ_METHODS:
        _require_write(inp, f"method {method}")
    expectations = parse_expectations(inp.args.get("expect"))

    async def probe(node: NodeRef) -> tuple[Any, str | None]:
        value = await inp.access.client.call(node, method, params)
        problems = check_expectations(value, expectations)
        return value, "; ".join(problems) or None

    return await fan_out(inp, inp.nodes, probe)


async def _network(inp: ActionInput) -> ActionOutput:
    """The guard already compared every target's genesis; say what was verified."""
    env = inp.environment
    value = {"network": str(env.network), "genesis": env.expected_genesis}
    out = ActionOutput(values={node.name: value for node in inp.nodes})
    out.note = (
        f"all {len(inp.nodes)} node(s) report the {env.network!s} genesis "
        f"{env.expected_genesis[:12]}…"
    )
    return out


async def _tip(inp: ActionInput) -> ActionOutput:
    async def probe(node: NodeRef) -> tuple[Any, str | None]:
        tip = await inp.access.client.tip(node)
        return {"height": tip.height, "hash": tip.hash}, None

    out = await fan_out(inp, inp.nodes, probe)
    out.extra["at"] = inp.ctx.now.isoformat()
    if out.values:
        out.extra["highest"] = max(v["height"] for v in out.values.values())
        out.note = "captured " + ", ".join(
            f"{name} {v['height']}/{v['hash'][:12]}…" for name, v in out.values.items()
        )
    return out


async def _block_hash(inp: ActionInput, node: NodeRef, height: int) -> str | None:
    block = await inp.access.client.call(node, "getblock", [height])
    found = block.get("hash") if isinstance(block, dict) else None
    return found.lower() if isinstance(found, str) and _HEX64.match(found) else None


async def _continuity(inp: ActionInput) -> ActionOutput:
    if "against" not in inp.args:
        raise ValueError("continuity needs 'against': a captured tip or tips")
    refs = parse_tip_refs(inp.args["against"], [node.name for node in inp.nodes])

    async def probe(node: NodeRef) -> tuple[Any, str | None]:
        ref = refs.get(node.name)
        if ref is None:
            return None, "no captured height and hash for this node"
        height = await inp.access.client.call(node, "getblockcount", [], expect=int)
        found = await _block_hash(inp, node, ref.height) if height >= ref.height else None
        value = {"height": height, "checked_height": ref.height, "hash": found}
        return value, check_continuity(ref, height, found)

    out = await fan_out(inp, inp.nodes, probe)
    if not out.problems:
        out.note = f"continuous: {len(out.values)} node(s) have the captured blocks"
    return out


async def _transaction(inp: ActionInput) -> ActionOutput:
    _require_write(inp, "a transaction")
    amount = int(inp.args.get("amount", 1))
    asset = int(inp.args.get("asset", 0))
    if amount <= 0 or not 0 <= asset <= 2:
        raise ValueError("amount must be positive base units and asset 0, 1 or 2")

    async def probe(node: NodeRef) -> tuple[Any, str | None]:
        client = inp.access.client
        address = await client.call(node, "getnewaddress", [])
        if not isinstance(address, str) or not _HEX64.match(address):
            return {"address": address}, f"getnewaddress gave {address!r}, not a 64-hex key"
        txid = await client.call(node, "sendtoaddress", [address, amount, asset])
        value = {"address": address, "txid": txid, "amount": amount, "asset": asset}
        if not isinstance(txid, str) or not _HEX64.match(txid):
            return value, f"sendtoaddress gave {txid!r}, not a txid"
        return value, None

    out = await fan_out(inp, inp.nodes, probe)
    if not out.problems:
        out.note = "accepted " + ", ".join(
            f"{name} tx {v['txid'][:12]}…" for name, v in out.values.items()
        )
    return out


async def _auth_refused(inp: ActionInput) -> ActionOutput:
    async def probe(node: NodeRef) -> tuple[Any, str | None]:
        if await inp.access.client.auth_required(node):
            return {"unauthenticated": "refused (401)"}, None
        return {"unauthenticated": "accepted"}, (
            "answered a JSON-RPC call sent without credentials: RPC auth is not enforced"
        )

    return await fan_out(inp, inp.nodes, probe)


async def _version(inp: ActionInput) -> ActionOutput:
    expected = inp.args.get("version")
    if not isinstance(expected, str) or not expected:
        raise ValueError("a version check needs 'version'")

    async def probe(node: NodeRef) -> tuple[Any, str | None]:
        info = await inp.access.client.call(node, "getinfo", [])
        reported = info.get("version") if isinstance(info, dict) else None
        if isinstance(reported, int) and not isinstance(reported, bool):
            # The daemon's getinfo.version is a constant compiled into it (docs/node-dialect.md).
            return {"version": reported}, (
                f"this node's getinfo.version is the daemon's constant {reported}, it cannot "
                "tell the release: set evidence.release to deploy or person"
            )
        if same_version(reported, expected):
            return {"version": reported}, None
        return {"version": reported}, f"runs version {reported!r}, not {expected}"

    out = await fan_out(inp, inp.nodes, probe)
    marker = inp.args.get("evidence")
    out.extra["evidence"] = {
        **(marker if isinstance(marker, dict) else {"source": "rpc"}),
        "by": "node RPC (getinfo.version)",
        "value": {
            name: value.get("version") if isinstance(value, dict) else value
            for name, value in out.values.items()
        },
    }
    if not out.problems:
        out.extra["evidence"]["summary"] = (
            f"getinfo.version reports {expected} on {', '.join(out.values)}"
        )
    return out


async def _stop(inp: ActionInput) -> ActionOutput:
    """Stop role by role in order; a role that does not verifiably stop halts the rest."""
    _require_write(inp, "stopping a node")
    order = [str(r) for r in inp.args.get("order") or DEFAULT_STOP_ORDER]
    stop_timeout = seconds(inp.args.get("stop_timeout"), 5.0)
    verify = seconds(inp.args.get("verify_window"), 15.0)
    groups: list[tuple[str, list[NodeRef]]] = []
    for role in order:
        members = [n for n in inp.nodes if str(n.role) == role]
        if members:
            groups.append((role, members))
    rest = [n for n in inp.nodes if str(n.role) not in order]
    if rest:
        groups.append(("other", rest))

    async def probe(node: NodeRef) -> tuple[Any, str | None]:
        result = await inp.access.client.stop(node, stop_timeout=stop_timeout, verify=verify)
        value = {"outcome": result.outcome.value, "evidence": result.evidence,
                 "role": str(node.role)}
        if result.outcome is StopOutcome.STOPPED:
            return value, None
        return value, f"did not verifiably stop ({result.outcome.value}: {result.evidence})"

    out = ActionOutput(extra={"order": [role for role, _ in groups]})
    for index, (role, members) in enumerate(groups):
        step = await fan_out(inp, members, probe)
        out.values.update(step.values)
        out.problems.update(step.problems)
        if step.problems:
            out.transient = True  # a stop may be sent again: it is safe to repeat
            left = [n.name for _, later in groups[index + 1 :] for n in later]
            if left:
                out.failed = f"stopped nothing after the {role} nodes: {', '.join(left)} still run"
            break
    if not out.problems:
        out.note = "stopped in order: " + " -> ".join(
            f"{role} ({', '.join(n.name for n in members)})" for role, members in groups
        )
    return out


async def _lkg(inp: ActionInput) -> ActionOutput:
    """A height and hash at least ``min_agree`` nodes share, or the operator's, verified."""
    needed = max(1, min(int(inp.args.get("min_agree", 2)), len(inp.nodes)))
    given_height, given_hash = inp.args.get("height"), inp.args.get("hash")
    operator: TipRef | None = None
    if given_height not in (None, "") or given_hash not in (None, ""):
        operator = parse_tip_refs({"height": given_height, "hash": given_hash}, ["-"])["-"]

    async def count(node: NodeRef) -> tuple[Any, str | None]:
        return await inp.access.client.call(node, "getblockcount", [], expect=int), None

    tips = await fan_out(inp, inp.nodes, count)
    heights: dict[str, int] = dict(tips.values)
    out = ActionOutput(extra={"unreachable": dict(tips.problems), "needed": needed})
    out.values = {name: {"height": h} for name, h in heights.items()}
    if len(heights) < needed:
        out.failed = f"only {len(heights)} node(s) answered; {needed} must agree"
        out.transient = True
        return out
    if operator is not None:
        return await _verify_operator_lkg(inp, out, operator, heights, needed)
    candidate = sorted(heights.values(), reverse=True)[needed - 1]
    for probe_number in range(int(inp.args.get("max_probes", 8))):
        hashes = await _hashes_at(inp, candidate, heights)
        found = agreement(candidate, hashes, needed)
        if found.ok:
            out.extra.update(
                height=candidate, hash=found.hash, agreed_by=found.agreed_by,
                disagree=found.others, source="nodes",
            )
            out.note = (
                f"last known good: height {candidate}, hash {found.hash} "
                f"(agreed by {', '.join(found.agreed_by)})"
            )
            return out
        if candidate == 1:
            break
        candidate = max(1, candidate - 2**probe_number)
    out.failed = f"no height found where {needed} nodes agree on the block hash"
    return out


async def _hashes_at(inp: ActionInput, height: int, heights: dict[str, int]) -> dict[str, str]:
    having = [n for n in inp.nodes if heights.get(n.name, 0) >= height]

    async def probe(node: NodeRef) -> tuple[Any, str | None]:
        return await _block_hash(inp, node, height), None

    found = await fan_out(inp, having, probe)
    return {name: h for name, h in found.values.items() if isinstance(h, str)}


async def _verify_operator_lkg(
    inp: ActionInput, out: ActionOutput, ref: TipRef, heights: dict[str, int], needed: int
) -> ActionOutput:
    hashes = await _hashes_at(inp, ref.height, heights)
    agreed = sorted(n for n, h in hashes.items() if h == ref.hash)
    others = {n: h for n, h in hashes.items() if h != ref.hash}
    short = sorted(n for n, h in heights.items() if h < ref.height)
    out.extra.update(
        height=ref.height, hash=ref.hash, agreed_by=agreed, disagree=others, source="operator",
        below=short,
    )
    if len(agreed) < needed:
        detail = "; ".join(f"{n} has {h}" for n, h in others.items())
        if short:
            detail = "; ".join(filter(None, [detail, f"below that height: {', '.join(short)}"]))
        out.failed = (
            f"the given block {ref.height}/{ref.hash} is confirmed by {len(agreed)} node(s), "
            f"{needed} needed" + (f" ({detail})" if detail else "")
        )
        return out
    out.note = f"operator's last known good {ref.height}/{ref.hash[:12]}… confirmed by " + (
        ", ".join(agreed)
    )
    return out


async def is_stopped(inp: ActionInput, node: NodeRef) -> tuple[bool, str]:
    """Look at a node (GET /health only): is it down?"""
    try:
        health = await inp.access.client.health(node, retry=False)
    except NodeUnreachable as exc:
        if not exc.sent:
            return True, "the RPC port refuses connections"
        return False, exc.message
    except NodeError as exc:
        return False, exc.message
    if health.status == "stopped":
        return True, "/health says stopped"
    return False, f"/health says {health.status} at height {health.best_height}"


Action = Callable[[ActionInput], Awaitable[ActionOutput]]

ACTIONS: dict[str, Action] = {
    "call": _call,
    "network": _network,
    "tip": _tip,
    "continuity": _continuity,
    "transaction": _transaction,
    "auth_refused": _auth_refused,
    "version": _version,
    "stop": _stop,
    "lkg": _lkg,
}

#: Actions that only look: safe to run again when their outcome is in doubt.
READ_ACTIONS = frozenset({"network", "tip", "continuity", "auth_refused", "version", "lkg"})
