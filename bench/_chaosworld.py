"""The world the chaos suite runs in: our own redis-server (AOF), the Slack Web API stand-in,
three devnets (regtest for the smoke test, testnet, mainnet) with their deploy receivers, a bot
config pointing at them, and the bot replicas as separate OS processes (``bench._replica``:
``parthenon-bot serve`` with its engine, notifier and Slack app each).

Everything listens on 127.0.0.1 only. The devnets' rate-limit window and the bot's POST budget
window are both shortened to one second (same allowance, sixty times the pace), so fifty
promotions do not wait minutes for the nodes' 100-per-minute limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.config import BotConfig, load_config
from bot.devnet import Devnet
from bot.testing.redisserver import RedisServer
from bot.testing.standin import SlackStandIn

__all__ = [
    "BOT_TOKEN",
    "OPS_CHANNEL",
    "RPC_PASSWORD",
    "SECRETS",
    "SIGNING_SECRET",
    "Replica",
    "World",
    "WorldSettings",
]

ROOT = Path(__file__).resolve().parent.parent

BOT_TOKEN = "xoxb-7777-chaos-bot-token-must-not-leak"  # noqa: S105 (made up for the suite)
SIGNING_SECRET = "chaos-signing-secret-must-not-leak"  # noqa: S105
RPC_PASSWORD = "chaos-rpc-password-must-not-leak"  # noqa: S105
HOOK_SECRETS = {
    net: f"chaos-{net}-webhook-secret-must-not-leak" for net in ("regtest", "testnet", "mainnet")
}
SECRETS = (BOT_TOKEN, SIGNING_SECRET, RPC_PASSWORD, *HOOK_SECRETS.values())
OPS_CHANNEL = "C0CHAOSOPS"

GROUPS: dict[str, list[str]] = {
    "operators": ["UOPCHAOS1", "UOPCHAOS2"],
    "release-managers": ["URMCHAOS1", "URMCHAOS2", "URMCHAOS3", "URMCHAOS4"],
    "security": ["USECCHAOS1", "USECCHAOS2"],
}


def _port_block(count: int) -> int:
    """The first of ``count`` consecutive free ports below the ephemeral range: a node that is
    restarted must get its port back, and the thousands of outgoing connections of a chaos run
    (which take ephemeral ports) could otherwise hold it in the moment it is down."""
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.SystemRandom()
    for _ in range(200):
        base = rng.randrange(max(1024, low - 12000), low - count)
        if all(_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no block of free ports below the ephemeral range")


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class WorldSettings:
    replicas: int = 3
    lease: float = 3.0  # the engine lease of every replica, seconds
    rate_window: float = 1.0  # the devnets' rate-limit window and the bot's POST budget window
    slack_timeout: int = 2  # the notifier's Web API timeout, seconds
    notifier_interval: float = 0.3
    block_interval: float = 0.1


class Replica:
    """One ``bench._replica`` process; killed with SIGKILL and started again at will."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self._args = args
        self._env = env
        self._logdir = logdir
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.starts = 0
        self.logs: list[Path] = []

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self.port > 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, log: Path) -> subprocess.Popen[str]:
        with log.open("w") as sink:
            return subprocess.Popen(
                [sys.executable, "-m", "bench._replica", *self._args,
                 "--worker", f"{self.name}-{self.starts}"],
                cwd=ROOT, env=self._env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=sink, text=True,
            )

    async def start(self, within: float = 60.0) -> None:
        self.starts += 1
        log = self._logdir / f"{self.name}-{self.starts}.log"
        self.logs.append(log)
        proc = await asyncio.to_thread(self._spawn, log)
        self.proc = proc
        self.port = 0
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), within)
        except TimeoutError:
            proc.kill()
            raise RuntimeError(f"replica {self.name} did not start within {within:g}s") from None
        if not line.startswith("ready "):
            proc.wait(5)
            tail = " | ".join(log.read_text(errors="replace").splitlines()[-5:])
            raise RuntimeError(f"replica {self.name} failed to start: {tail}")
        self.port = int(line.split()[1])

    def kill(self) -> None:
        """SIGKILL: no stop handler runs, leases and card locks are left behind."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._close()
        self.port = 0

    async def terminate(self, within: float = 30.0) -> int | None:
        """SIGTERM and wait: the graceful stop of ``serve``; returns the exit code."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            self._close()
            return proc.returncode if proc is not None else None
        proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(asyncio.to_thread(proc.wait), within)
        except TimeoutError:
            proc.kill()
            code = await asyncio.to_thread(proc.wait)
        self._close()
        self.port = 0
        return code

    def _close(self) -> None:
        if self.proc is not None:
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs if p.exists())


@dataclass
class World:
    """Build with ``async with World(workdir, settings) as world``."""

    workdir: Path
    settings: WorldSettings = field(default_factory=WorldSettings)
    redis: RedisServer | None = None
    slack: SlackStandIn | None = None
    devnets: dict[str, Devnet] = field(default_factory=dict)
    config_path: Path | None = None
    config: BotConfig | None = None
    env: dict[str, str] = field(default_factory=dict)
    replicas: list[Replica] = field(default_factory=list)
    redis_restarts: list[float] = field(default_factory=list)

    async def __aenter__(self) -> World:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _start(self) -> None:
        s = self.settings
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(self.workdir / "redis")
        self.redis.start()
        self.slack = SlackStandIn(bot_token=BOT_TOKEN)
        await self.slack.start()
        shape = {"regtest": (2, 0), "testnet": (4, 1), "mainnet": (4, 1)}
        for network, (nodes, canaries) in shape.items():
            net = Devnet(network, nodes=nodes, block_interval=s.block_interval,
                         canaries=canaries, rpc_password=RPC_PASSWORD, port_base=_port_block(nodes),
                         rate_window=s.rate_window, deploy_secret=HOOK_SECRETS[network])
            await net.start()
            net.deploy.environment = network
            self.devnets[network] = net
        self.config_path, self.env = self._write_config()
        self.config = load_config(self.config_path, env=self.env)
        args = ["--config", str(self.config_path), "--lease", str(s.lease), "--poll", "0.05",
                "--budget-window", str(s.rate_window), "--slack-timeout", str(s.slack_timeout),
                "--notifier-interval", str(s.notifier_interval)]
        logdir = self.workdir / "logs"
        logdir.mkdir(exist_ok=True)
        self.replicas = [Replica(f"replica{i + 1}", args, self.env, logdir)
                         for i in range(s.replicas)]
        await asyncio.gather(*(r.start() for r in self.replicas))

    def _write_config(self) -> tuple[Path, dict[str, str]]:
        assert self.redis is not None
        assert self.slack is not None
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PCB_RPC_PASSWORD": RPC_PASSWORD,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": self.slack.api_url,
            "REDIS_URL": self.redis.url,
        }
        environments: dict[str, Any] = {}
        for name, net in self.devnets.items():
            secret_env = f"PCB_HOOK_{name.upper()}"
            env[secret_env] = HOOK_SECRETS[name]
            environments[name] = net.config_entry(
                secret_env=secret_env, password_env="PCB_RPC_PASSWORD")  # noqa: S106 (a name)
            # runs watch for a second: the runbook's minimums are lowered on purpose
            environments[name]["policy"] = {"min_canary_window": "1s", "min_wave_window": "1s"}
        document = {
            "environments": environments,
            "groups": GROUPS,
            "permissions": {"default": {"start": ["operators", "release-managers"],
                                        "operate": ["operators"]}},
            "slack": {"ops_channel": OPS_CHANNEL},
            "drills": {"restore_drill_slo_days": 90},
        }
        path = self.workdir / "config.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path, env

    # --- faults ----------------------------------------------------------------------------

    async def restart_redis(self, down_for: float = 0.5) -> None:
        """SIGTERM (the AOF is flushed), stay down a moment, start on the same port and dir."""
        assert self.redis is not None
        self.redis_restarts.append(time.monotonic())
        await asyncio.to_thread(self.redis.stop)
        await asyncio.sleep(down_for)
        await asyncio.to_thread(self.redis.start)

    def live(self) -> list[Replica]:
        return [r for r in self.replicas if r.alive]

    # --- the end ---------------------------------------------------------------------------

    async def stop_replicas(self) -> dict[str, int | None]:
        codes = await asyncio.gather(*(r.terminate() for r in self.replicas))
        return {r.name: code for r, code in zip(self.replicas, codes, strict=True)}

    async def close(self) -> None:
        for replica in self.replicas:
            replica.kill()
        for net in self.devnets.values():
            with contextlib.suppress(Exception):
                await net.stop()
        if self.slack is not None:
            await self.slack.stop()
        if self.redis is not None:
            self.redis.stop()
