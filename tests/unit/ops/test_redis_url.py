"""Redis URLs for one server, Sentinel and Cluster, read into what `connect` opens."""

from __future__ import annotations

import pytest

from workflows.connection import RedisTarget, parse_redis_url
from workflows.errors import RedisUrlError


@pytest.mark.parametrize(
    ("url", "kind", "ssl"),
    [
        ("redis://127.0.0.1:6380/0", "server", False),
        ("rediss://user:pw@redis.internal:6380/2", "server", True),
        ("unix:///run/redis.sock?db=1", "server", False),
        ("REDIS://127.0.0.1", "server", False),
    ],
)
def test_single_server_urls_pass_through_unchanged(url: str, kind: str, ssl: bool) -> None:
    """A one-server URL is handed to redis-py as written (its own parser owns that syntax)."""
    target = parse_redis_url(url)
    assert (target.kind, target.url, target.ssl) == (kind, url, ssl)


def test_sentinel_url_lists_sentinels_and_names_the_service() -> None:
    """redis+sentinel:// names the sentinels (default port 26379), the service and the db."""
    target = parse_redis_url("redis+sentinel://:s%40cret@10.0.0.1:26380,10.0.0.2,[::1]:5000/main/3")
    assert target.kind == "sentinel"
    assert target.hosts == (("10.0.0.1", 26380), ("10.0.0.2", 26379), ("::1", 5000))
    assert target.service == "main"
    assert target.db == 3
    assert target.username is None
    assert target.password == "s@cret"
    assert not target.ssl


def test_cluster_url_lists_seed_nodes_with_credentials() -> None:
    """redis+cluster:// lists seed nodes (default port 6379); rediss+ turns TLS on."""
    target = parse_redis_url("rediss+cluster://bot:pw@a:7000,b:7001,c")
    assert target.kind == "cluster"
    assert target.hosts == (("a", 7000), ("b", 7001), ("c", 6379))
    assert (target.username, target.password, target.ssl) == ("bot", "pw", True)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://127.0.0.1:6379", "unsupported Redis URL scheme 'http'"),
        ("127.0.0.1:6379", "unsupported Redis URL scheme"),
        ("redis+sentinel://10.0.0.1:26379", "needs the master's service name"),
        ("redis+sentinel://10.0.0.1:26379/main/x", "must be a db number"),
        ("redis+cluster://a:7000,,b:7001", "lists an empty host"),
        ("redis+cluster://a:70000", "host a has a bad port"),
        ("redis+cluster://a:7000/1", "only database 0"),
        ("redis+cluster://:pw@:7000", "a host with no name"),
    ],
)
def test_bad_urls_are_refused_with_a_specific_reason(url: str, complaint: str) -> None:
    """Each malformed URL gets a RedisUrlError naming what is wrong with it."""
    with pytest.raises(RedisUrlError) as caught:
        parse_redis_url(url)
    assert complaint in str(caught.value)
    assert caught.value.code == "redis_url"


def test_password_never_appears_in_errors_or_repr() -> None:
    """Neither a refusal nor the parsed target's repr shows the password from the URL."""
    with pytest.raises(RedisUrlError) as caught:
        parse_redis_url("redis+sentinel://:hunter2-secret@10.0.0.1:26379")
    assert "hunter2" not in str(caught.value)
    target = parse_redis_url("redis+cluster://:hunter2-secret@a:7000")
    assert isinstance(target, RedisTarget)
    assert "hunter2" not in repr(target)
