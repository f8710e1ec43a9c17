"""One way to open Redis for the whole bot: a client that rides out a restart or failover.

Commands that fail on a dropped connection are retried with backoff; the store's writes are
safe to retry because every one of them is checked against the run's version.

Three deployments, one URL each:

- one server: ``redis://[user:password@]host:port/db`` (``rediss://`` for TLS, ``unix://``);
- Sentinel: ``redis+sentinel://[user:password@]host:port,host:port/<service>[/db]``; the
  credentials are the master's, the listed hosts are the sentinels; a failover is followed;
- Cluster: ``redis+cluster://[user:password@]host:port,host:port`` (seed nodes; the rest of the
  cluster is discovered). Every key of a run shares one hash slot (``pcb:{run}:...``) and each
  change is one Lua script on that slot, so the store works unchanged; global indexes are single
  keys and pipelines are never transactions.

``rediss+sentinel://`` and ``rediss+cluster://`` use TLS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from workflows.errors import RedisUrlError

__all__ = ["RedisTarget", "connect", "parse_redis_url"]

_DEFAULT_PORT = 6379
_DEFAULT_SENTINEL_PORT = 26379
_SCHEMES: dict[str, tuple[Literal["server", "sentinel", "cluster"], bool]] = {
    "redis": ("server", False),
    "rediss": ("server", True),
    "unix": ("server", False),
    "redis+sentinel": ("sentinel", False),
    "rediss+sentinel": ("sentinel", True),
    "redis+cluster": ("cluster", False),
    "rediss+cluster": ("cluster", True),
}


@dataclass(frozen=True)
class RedisTarget:
    """What a Redis URL names; `repr` never shows the password."""

    kind: Literal["server", "sentinel", "cluster"]
    url: str  # for kind "server": the URL as given, handed to redis-py unchanged
    hosts: tuple[tuple[str, int], ...] = ()
    service: str | None = None  # Sentinel: the monitored master's name
    db: int = 0
    username: str | None = None
    password: str | None = None
    ssl: bool = False

    def __repr__(self) -> str:
        hosts = ",".join(f"{h}:{p}" for h, p in self.hosts)
        return f"RedisTarget({self.kind}, hosts={hosts!r}, service={self.service!r}, db={self.db})"


def parse_redis_url(url: str) -> RedisTarget:
    """Read a Redis URL of any of the three kinds; refuse anything else with a RedisUrlError.

    Messages name the scheme and the part that is wrong, never the URL (it may hold a password).
    """
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        known = ", ".join(f"{s}://" for s in _SCHEMES)
        raise RedisUrlError(f"unsupported Redis URL scheme {scheme.lower()!r}; use one of {known}")
    kind, ssl = _SCHEMES[scheme.lower()]
    if kind == "server":
        return RedisTarget("server", url, ssl=ssl)
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hostlist = netloc.rpartition("@")
    if not at:
        userinfo, hostlist = "", netloc
    username: str | None = None
    password: str | None = None
    if userinfo:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    default_port = _DEFAULT_SENTINEL_PORT if kind == "sentinel" else _DEFAULT_PORT
    hosts = tuple(_host_port(item, default_port, scheme) for item in hostlist.split(","))
    path = [unquote(p) for p in parts.path.split("/") if p]
    service: str | None = None
    db = 0
    if kind == "sentinel":
        if not path:
            raise RedisUrlError(
                f"{scheme}:// needs the master's service name as its path: "
                f"{scheme}://host:port,host:port/<service>"
            )
        service, path = path[0], path[1:]
    if path:
        if kind == "cluster":
            raise RedisUrlError("a Redis Cluster has only database 0; drop the path")
        if len(path) > 1 or not path[0].isdigit():
            raise RedisUrlError(f"{scheme}:// path after the service name must be a db number")
        db = int(path[0])
    return RedisTarget(kind, url, hosts, service, db, username, password, ssl)


def _host_port(item: str, default: int, scheme: str) -> tuple[str, int]:
    item = item.strip()
    if not item:
        raise RedisUrlError(f"{scheme}:// lists an empty host")
    if item.startswith("["):  # [::1]:26379
        host, _, rest = item[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = item.partition(":")
    if not host:
        raise RedisUrlError(f"{scheme}:// lists a host with no name")
    if not port_text:
        return host, default
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RedisUrlError(f"{scheme}:// host {host} has a bad port")
    return host, int(port_text)


def _retry(attempts: int) -> Retry:
    return Retry(ExponentialBackoff(cap=1.0, base=0.05), attempts)


_RETRY_ON: list[type[Exception]] = [RedisConnectionError, RedisTimeoutError]


class _SentinelRedis(aioredis.Redis):
    """A master client that also closes its connections to the sentinels."""

    watchers: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self.watchers is not None:
            for client in self.watchers.sentinels:
                await client.aclose()


def connect(url: str, *, attempts: int = 6) -> aioredis.Redis:
    """A client for ``url`` whose commands retry over a dropped connection (about 3 s).

    For a Cluster URL the client is a ``RedisCluster``; it is typed as ``Redis`` because the
    store and the node budget use only commands both offer (single-slot scripts, single keys,
    non-transactional pipelines).
    """
    target = parse_redis_url(url)
    common: dict[str, Any] = {
        "retry": _retry(attempts),
        "retry_on_error": _RETRY_ON,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
    }
    if target.kind == "server":
        client: aioredis.Redis = aioredis.Redis.from_url(url, health_check_interval=30, **common)
        return client
    auth = {"username": target.username, "password": target.password}
    if target.kind == "cluster":
        cluster = RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
            ssl=target.ssl,
            health_check_interval=30,
            **auth,
            **common,
        )
        return cast("aioredis.Redis", cluster)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(target.hosts),
        sentinel_kwargs={"socket_connect_timeout": 5, "ssl": target.ssl},
        ssl=target.ssl,
        db=target.db,
        health_check_interval=30,
        **auth,
        **common,
    )
    master = cast(
        "_SentinelRedis", sentinel.master_for(target.service or "", redis_class=_SentinelRedis)
    )
    master.watchers = sentinel
    return master
