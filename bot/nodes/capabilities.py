"""Know the node before relying on it: what a node can tell about itself, probed once.

Through the node's documented surface only (docs/node-dialect.md): `getinfo` once over JSON-RPC (one
POST, through the client's POST budget when it has one), `GET /health` and `GET /metrics` (not
rate-limited). The probe reports

- the version kind: a release string (a daemon that reports its release in `getinfo.version`)
  or the daemon's constant integer (`100` on parthenond, whatever release is installed);
- the metric families `/metrics` exports (the daemon: exactly five, no validation-error one);
- the fields of the `/health` object.

`check-config` prints them as a table and fails the gates a node cannot feed (bot/capcheck.py);
`serve` logs one line per node at start.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bot.nodes.metrics import NodeMetrics
from workflows.nodeerrors import NodeError

if TYPE_CHECKING:
    from bot.environments import EnvironmentConfig, NodeConfig
    from bot.nodes.rpc import NodeClient

__all__ = [
    "HEALTH_FIELDS_NEEDED",
    "NodeCapabilities",
    "VersionKind",
    "metric_families",
    "probe",
    "probe_all",
    "table",
    "version_kind",
]

HEALTH_FIELDS_NEEDED = ("best_height", "peer_count", "status", "syncing")
"""The /health fields every health gate reads."""

_SUFFIXES = ("_bucket", "_sum", "_count", "_created", "_total")
_RELEASE = re.compile(r"^v?\d+(\.\d+)+([-+.][0-9A-Za-z.-]+)?$")


class VersionKind(StrEnum):
    RELEASE = "release string"  # getinfo.version names the installed release (e.g. v1.4.2)
    CONSTANT = "constant"  # a build constant (parthenond: the integer 100), not the release
    UNKNOWN = "unknown"  # getinfo could not be read, or says something else


@dataclass(frozen=True)
class NodeCapabilities:
    node: str
    environment: str
    version: str | None  # getinfo.version as the node answered it (JSON text)
    version_kind: VersionKind
    metric_families: tuple[str, ...] | None  # None: /metrics could not be read
    health_fields: tuple[str, ...] | None  # None: /health could not be read
    problems: tuple[str, ...] = ()  # what could not be probed, and why

    @property
    def reachable(self) -> bool:
        return self.health_fields is not None

    def version_text(self) -> str:
        if self.version is None:
            return "unknown"
        return f"{self.version_kind} {self.version}"

    def as_log(self) -> dict[str, Any]:
        """The structured fields of the start-up log line (no secret: no URL, no login)."""
        return {
            "node": self.node,
            "environment": self.environment,
            "version": self.version,
            "version_kind": self.version_kind.value,
            "metric_families": list(self.metric_families or ()),
            "health_fields": list(self.health_fields or ()),
            "probe_problems": list(self.problems),
        }


def version_kind(value: object) -> VersionKind:
    """An integer (or all digits) is a build constant; a dotted version is a release."""
    if isinstance(value, bool) or value is None:
        return VersionKind.UNKNOWN
    if isinstance(value, int):
        return VersionKind.CONSTANT
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return VersionKind.CONSTANT
        if _RELEASE.match(text):
            return VersionKind.RELEASE
    return VersionKind.UNKNOWN


def metric_families(page: NodeMetrics) -> tuple[str, ...]:
    """Family names: the `# TYPE` names, and sample names not derived from one of them."""
    families = set(page.types)
    for sample in page.samples:
        name = sample.name
        if name in families:
            continue
        if any(name == base + suffix for base in page.types for suffix in _SUFFIXES):
            continue
        families.add(name)
    return tuple(sorted(families))


async def probe(
    client: NodeClient, node: NodeConfig, environment: EnvironmentConfig
) -> NodeCapabilities:
    """One probe of one node: getinfo (one POST), /health and /metrics (GETs)."""
    problems: list[str] = []
    fields: tuple[str, ...] | None = None
    families: tuple[str, ...] | None = None
    version: str | None = None
    kind = VersionKind.UNKNOWN
    try:
        fields = await client.health_fields(node)
    except NodeError as exc:
        problems.append(f"/health: {exc.message}")
    try:
        families = metric_families(await client.metrics(node, retry=False))
    except NodeError as exc:
        problems.append(f"/metrics: {exc.message}")
    if fields is not None:  # a node that does not answer GETs is not sent a POST
        try:
            info = await client.call(node, "getinfo", retry=False)
            raw = info.get("version") if isinstance(info, dict) else None
            version = None if raw is None else str(raw)[:64]
            kind = version_kind(raw)
        except NodeError as exc:
            problems.append(f"getinfo: {exc.message}")
    return NodeCapabilities(node.name, environment.name, version, kind, families, fields,
                            tuple(problems))


async def probe_all(
    client: NodeClient, pairs: Iterable[tuple[EnvironmentConfig, NodeConfig]],
    *, limit: int = 16, refused: Collection[str] = (),
) -> list[NodeCapabilities]:
    """Probe every (environment, node), `limit` at a time, in the order given. A node the
    network guard refuses (`refused`) is sent nothing at all."""
    semaphore = asyncio.Semaphore(limit)

    async def one(environment: EnvironmentConfig, node: NodeConfig) -> NodeCapabilities:
        if node.name in refused:
            return NodeCapabilities(
                node.name, environment.name, None, VersionKind.UNKNOWN, None, None,
                ("refused by the network guard (wrong genesis): not probed",))
        async with semaphore:
            return await probe(client, node, environment)

    return list(await asyncio.gather(*(one(e, n) for e, n in pairs)))


def table(caps: Sequence[NodeCapabilities]) -> list[str]:
    """The capability table: one line per node, what it can tell about itself."""
    header = f"{'node':<18} {'environment':<12} {'getinfo.version':<24} {'/health fields':<44} " \
             "/metrics families"
    lines = [header]
    for cap in caps:
        health = ", ".join(cap.health_fields) if cap.health_fields is not None else "unreadable"
        metrics = (
            f"{len(cap.metric_families)}: {', '.join(cap.metric_families)}"
            if cap.metric_families is not None else "unreadable"
        )
        lines.append(f"{cap.node:<18} {cap.environment:<12} {cap.version_text():<24} "
                     f"{health:<44} {metrics}")
    return lines
