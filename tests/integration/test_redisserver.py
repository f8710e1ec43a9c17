"""The embedded Redis harness itself."""

from __future__ import annotations

from pathlib import Path

import redis as syncredis

from bot.testing.redisserver import RedisServer


def test_restart_on_same_data_dir_keeps_what_was_written(tmp_path: Path) -> None:
    """A value written before a restart (AOF) is there after it."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        client = syncredis.Redis.from_url(server.url)
        client.set("k", "v")
        client.close()
        server.restart()
        client = syncredis.Redis.from_url(server.url)
        assert client.get("k") == b"v"
        client.close()
    finally:
        server.stop()
    assert not server.running
