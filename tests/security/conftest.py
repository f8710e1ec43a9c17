"""The security suite's fixtures, and the session-wide secret watch (``secretwatch``).

When collection is done (every test module, and the constants that name the session's secrets,
are loaded by then) the watch is registered as a plugin of its own, so its hooks see every test
of the session, not only this directory's. It lowers the root logger to INFO (production's
default) so that every record of every test at that level is emitted and searched; slack_sdk's
DEBUG records, which carry the body of every Web API call the bot makes and its answer, are
searched too and then dropped (so failing tests do not print them). It searches the Slack
stand-ins each test's fixtures hold after the test ran, and fails the session at its end if
anything leaked. It is active whenever this directory is
part of the run (``make test`` runs everything).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.testing.standin import SlackStandIn
from tests.scenarios.harness import Harness, running_bot
from tests.security.secretwatch import SecretWatch, discover_secrets, secret_pattern
from tests.unit.slack.definitions import definitions

PLUGIN_NAME = "parthenon-secret-watch"


@pytest.fixture
async def harness(redis_url: str) -> AsyncIterator[Harness]:
    """The whole bot served on loopback, driven with signed Slack requests (the scenarios'
    harness, with the scenarios' small workflow definitions)."""
    async with running_bot(redis_url, definitions()) as h:
        yield h


def pytest_collection_finish(session: pytest.Session) -> None:
    manager = session.config.pluginmanager
    if manager.get_plugin(PLUGIN_NAME) is None:
        manager.register(WatchPlugin(SecretWatch(secret_pattern(discover_secrets()))),
                         PLUGIN_NAME)


def watch_of(config: pytest.Config) -> SecretWatch | None:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    return plugin.watch if isinstance(plugin, WatchPlugin) else None


class _SearchThenDrop(logging.Filter):
    """On slack_sdk's loggers: search every record (DEBUG ones carry each Web API call's body
    and answer), then let through only what their level let through before."""

    def __init__(self, watch: SecretWatch, own_level: int) -> None:
        super().__init__()
        self.watch = watch
        self.own_level = own_level  # the logger's level before (0: it followed its parents)

    def filter(self, record: logging.LogRecord) -> bool:
        self.watch.emit(record)
        level = self.own_level or logging.getLogger().getEffectiveLevel()
        return record.levelno >= level


class WatchPlugin:
    """Global hooks (a registered plugin, unlike a conftest, sees every test)."""

    def __init__(self, watch: SecretWatch) -> None:
        self.watch = watch
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(watch)
        root.setLevel(min(root.level, logging.INFO))  # what production logs by default
        self._tapped: list[tuple[logging.Logger, _SearchThenDrop, int]] = []
        for name in list(logging.Logger.manager.loggerDict):
            if name.startswith("slack_sdk"):
                logger = logging.getLogger(name)
                tap = _SearchThenDrop(watch, logger.level)
                self._tapped.append((logger, tap, logger.level))
                logger.addFilter(tap)
                logger.setLevel(logging.DEBUG)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[Any]:
        self.watch.test = item.nodeid
        try:
            return (yield)
        finally:
            self.watch.test = "(between tests)"

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Iterator[Any]:
        if isinstance(item, pytest.Function):  # before the fixtures are torn down
            for standin in _standins(item.funcargs.values()):
                self.watch.search_standin(standin)
        return (yield)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        root = logging.getLogger()
        root.removeHandler(self.watch)
        root.setLevel(self._level)
        for logger, tap, level in self._tapped:
            logger.removeFilter(tap)
            logger.setLevel(level)
        if self.watch.leaks:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        watch = self.watch
        if watch.leaks:
            terminalreporter.section("SECRETS LEAKED", sep="!", red=True, bold=True)
            for leak in watch.leaks[:50]:
                terminalreporter.write_line(str(leak))
            terminalreporter.write_line(f"{len(watch.leaks)} leak(s); the session fails.")
        else:
            terminalreporter.write_line(
                f"secret watch: {watch.records} log records and {watch.calls} recorded Slack "
                "calls searched, no secret found (records by logger: "
                + ", ".join(f"{n} {c}" for n, c in watch.loggers.most_common(6)) + ")")


def _standins(values: Any) -> list[SlackStandIn]:
    """Stand-ins a test's fixtures hold: directly, or as an attribute (a harness)."""
    found: list[SlackStandIn] = []
    for value in values:
        candidates = [value, *(getattr(value, "__dict__", {}) or {}).values()]
        found += [c for c in candidates if isinstance(c, SlackStandIn) and c not in found]
    return found
