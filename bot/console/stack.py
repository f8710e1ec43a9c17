"""Everything the demo runs, started and stopped in one place, all on 127.0.0.1.

An embedded redis-server with AOF in the data dir (runs survive a restart of the demo), three
devnets (regtest 1 node, testnet 3 with one canary, mainnet 10) with their deploy receivers, a
config generated for them with the demo people, the Slack stand-in, and the bot itself, served
by ``bot.serve.serve`` exactly as in production, with its Web API pointed at the stand-in.
Monitor windows are shortened (parameter defaults) and blocks come every second, so a promotion
takes tens of seconds. ``stop()`` undoes all of it, whatever was reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.app import SlackBot
from bot.config import BotConfig, load_config
from bot.console.users import DEMO_USERS, GROUPS
from bot.devnet import Devnet, DevnetNode
from bot.serve import serve
from bot.settings import load_settings
from bot.testing.redisserver import RedisServer
from bot.testing.standin import SlackStandIn
from workflows.catalog import load_catalog
from workflows.connection import connect
from workflows.definition import Definition
from workflows.drills import DrillKind, DrillRecord
from workflows.drillscheduler import DrillBook
from workflows.store import RunStore

__all__ = [
    "BLOCK_INTERVAL",
    "DEMO_POLICY",
    "DEMO_WINDOWS",
    "NETWORKS",
    "OPS_CHANNEL",
    "DemoStack",
    "DemoStartError",
    "demo_definitions",
]

log = logging.getLogger("parthenon.demo")

#: parameter -> the demo's default (the runbook's are 60m / 10m / minutes)
DEMO_WINDOWS: dict[str, str] = {"canary_window": "6s", "wave_window": "3s", "window": "4s"}
#: the demo's `policy:` on every environment: minimums lowered on purpose (the runbook's are
#: a 1 h canary and 10 m waves), so that the demo's windows of seconds are accepted
DEMO_POLICY: dict[str, str] = {"min_canary_window": "5s", "min_wave_window": "2s"}
BLOCK_INTERVAL = 1.0  # seconds between devnet blocks: a window of seconds sees the tip advance
#: environment, nodes, canaries
NETWORKS: tuple[tuple[str, int, int], ...] = (("regtest", 1, 0), ("testnet", 3, 1),
                                              ("mainnet", 10, 0))
OPS_CHANNEL = "C0DEMOOPS"
OPS_CHANNEL_NAME = "ops"
RPC_PASSWORD = "devnet-password"  # noqa: S105 (the local simulator's password)
BOT_TOKEN = "xoxb-0000-demo-console-token"  # noqa: S105 (checked by the stand-in only)
SEEDED_DRILL = "r-demo-seeded"


class DemoStartError(RuntimeError):
    """A part of the demo could not start; the message says which."""

    code = "demo_start"


def demo_definitions(
    windows: Mapping[str, str] = DEMO_WINDOWS, extra: Path | None = None
) -> dict[str, Definition]:
    """The shipped definitions (and those of ``extra``, as `serve --definitions` adds them) with
    the demo's shorter monitor windows as parameter defaults (a run shows them among its
    parameters; ``name=value`` in the command still sets them)."""
    found: dict[str, Definition] = {}
    for name, defn in load_catalog(extra).items():
        params = [
            p.model_copy(update={"default": windows[p.name]})
            if p.name in windows and p.default is not None else p
            for p in defn.parameters
        ]
        found[name] = defn.model_copy(update={"parameters": params})
    return found


class DemoStack:
    def __init__(self, data_dir: Path, *, seed_restore_drill: bool = True,
                 definitions: Path | None = None) -> None:
        self.definitions_dir = definitions
        self.shown_dir = Path(data_dir)  # as given, for what the console prints
        self.data_dir = Path(data_dir).resolve()
        self.seed_restore_drill = seed_restore_drill
        self.signing_secret = secrets.token_hex(16)
        self.redis_server: RedisServer | None = None
        self.devnets: dict[str, Devnet] = {}
        self.standin = SlackStandIn(
            bot_token=BOT_TOKEN, users={u.id: u.name for u in DEMO_USERS},
        )
        self.config: BotConfig | None = None
        self.bot: SlackBot | None = None
        self.port = 0
        self.seeded = False
        self.stop_event = asyncio.Event()
        self._serve: asyncio.Task[int] | None = None
        self._log_handler: logging.Handler | None = None
        self._log_level = logging.WARNING

    # --- start -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every part; on any failure, stop what was started and raise DemoStartError."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._start_logging()
        self.redis_server = RedisServer(self.data_dir / "redis")
        self.redis_server.start()
        for network, nodes, canaries in NETWORKS:
            devnet = Devnet(network, nodes=nodes, canaries=canaries,
                            block_interval=BLOCK_INTERVAL, rpc_password=RPC_PASSWORD)
            self.devnets[network] = devnet
            await devnet.start()
        self.standin.add_channel(OPS_CHANNEL, OPS_CHANNEL_NAME, {u.id for u in DEMO_USERS})
        await self.standin.start()
        config_path, env = self._write_config()
        self.config = load_config(config_path, env=env)
        settings = load_settings({
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": self.signing_secret,
            "SLACK_API_URL": self.standin.api_url,
            "REDIS_URL": self.redis_server.url,
        })
        started: asyncio.Future[tuple[int, SlackBot]] = asyncio.get_running_loop().create_future()

        def on_started(port: int, bot: SlackBot) -> None:
            if not started.done():
                started.set_result((port, bot))

        if self.seed_restore_drill:  # before the bot's drill scheduler first looks
            self.seeded = await self._seed_restore_drill()
        self._serve = asyncio.create_task(serve(
            settings, self.config, host="127.0.0.1", port=0,
            definitions=demo_definitions(extra=self.definitions_dir),
            stop=self.stop_event, on_started=on_started,
        ), name="demo-bot")
        pending: set[asyncio.Future[Any]] = {started, self._serve}
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            started.cancel()
            raise DemoStartError(f"the bot did not start (see {self.log_path})")
        self.port, self.bot = started.result()
        self._serve.add_done_callback(lambda _: self.stop_event.set())  # the bot ended: so do we

    def _write_config(self) -> tuple[Path, dict[str, str]]:
        """The devnets' environments plus the demo's groups, permissions and channel."""
        path = self.data_dir / "config.yaml"
        path.unlink(missing_ok=True)
        env: dict[str, str] = {}
        for network, devnet in self.devnets.items():
            secret_env = f"DEMO_DEPLOY_SECRET_{network.upper()}"
            password_env = f"DEMO_RPC_PASSWORD_{network.upper()}"
            env[secret_env] = secrets.token_hex(16)
            env[password_env] = RPC_PASSWORD
            devnet.write_config(path, environment=network, webhook_secret=env[secret_env],
                                secret_env=secret_env, password_env=password_env)
        document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        for entry in document["environments"].values():
            entry["policy"] = dict(DEMO_POLICY)
            # The daemon's getinfo.version is a constant: a node's release is what the devnet's
            # deploy receiver reports having installed (the "Deploy webhook contract").
            entry.setdefault("evidence", {})["release"] = {"source": "deploy"}
        document["groups"] = GROUPS
        document["permissions"] = {
            "default": {"start": ["operators", "release-managers", "security"],
                        "operate": ["operators"]},
        }
        document["slack"] = {"ops_channel": OPS_CHANNEL, "incident_responders": ["responders"]}
        document["drills"] = {"restore_drill_slo_days": 90}
        header = ("# Written by `parthenon-bot demo` at each start (ports change); "
                  "secrets are in the demo process only.\n"
                  "# Evidence: evidence.release is `deploy` everywhere (the devnet deploy "
                  "receivers report the release they installed on each node), and so is "
                  "evidence.validation_errors (they answer `check-logs` with the validation "
                  "errors each node logged; the daemon exports no metric for them).\n")
        path.write_text(header + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return path, env

    async def _seed_restore_drill(self) -> bool:
        """A fresh data dir gets a restore drill passed 10 days ago, so the promotion gate
        (runbook §6) is met; a real one (examples/restore-drill.demo) replaces it."""
        if self.redis_server is None:
            return False
        client = connect(self.redis_server.url)
        try:
            store = RunStore(client)
            book = DrillBook(store)
            if await book.record_of(DrillKind.RESTORE) is not None:
                return False
            await book.record(DrillRecord(
                kind=DrillKind.RESTORE, run_id=SEEDED_DRILL,
                completed_at=store.now() - timedelta(days=10),
                details={"seeded_by": "parthenon-bot demo", "rto_seconds": 900.0,
                         "rpo_seconds": 3600.0},
            ))
            return True
        finally:
            await client.aclose()

    def _start_logging(self) -> None:
        """The bot's logs go to a file in the data dir, not over the console."""
        root = logging.getLogger()
        self._log_level = root.level
        handler = logging.FileHandler(self.log_path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        self._log_handler = handler

    @property
    def log_path(self) -> Path:
        return self.data_dir / "demo.log"

    # --- looking -----------------------------------------------------------------------------

    def ports(self) -> dict[str, int]:
        """Every port the demo listens on, by what listens."""
        found: dict[str, int] = {}
        if self.port:
            found["bot"] = self.port
        if self.standin.port:
            found["slack-standin"] = self.standin.port
        if self.redis_server is not None:
            found["redis"] = self.redis_server.port
        for devnet in self.devnets.values():
            for node in devnet.nodes:
                found[node.name] = node.port
            found[f"deploy-{devnet.network}"] = devnet.deploy.port
        return found

    def node(self, name: str) -> DevnetNode | None:
        for devnet in self.devnets.values():
            for node in devnet.nodes:
                if node.name == name:
                    return node
        return None

    # --- stop --------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop the bot (gracefully), the stand-in, the devnets and Redis; safe to call twice."""
        self.stop_event.set()
        if self._serve is not None:
            task, self._serve = self._serve, None
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self.standin.stop()
        for devnet in self.devnets.values():
            with contextlib.suppress(Exception):
                await devnet.stop()
        if self.redis_server is not None:
            self.redis_server.stop()
        if self._log_handler is not None:
            root = logging.getLogger()
            root.removeHandler(self._log_handler)
            root.setLevel(self._log_level)
            self._log_handler.close()
            self._log_handler = None
