"""The deployment files hold together: they parse, reference what exists, and agree with the
code (probe paths, the console script, the stop deadline, the secrets the config needs).
Docker and Kubernetes cannot run here, so this is what keeps them honest."""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.config import parse_config
from bot.serve import STOP_DEADLINE

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
HTTP_DRAIN = 5.0  # serve's AppRunner shutdown_timeout, before the engine stops
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def k8s(kind: str) -> dict[str, Any]:
    found = [d for p in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in documents(p)
             if d.get("kind") == kind]
    assert len(found) == 1, f"one {kind} expected, found {len(found)}"
    return found[0]


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


@pytest.mark.parametrize("path", sorted(DEPLOY.rglob("*.yaml")), ids=lambda p: p.name)
def test_every_yaml_file_parses(path: Path) -> None:
    """Each YAML file under deploy/ is valid YAML with at least one document."""
    assert documents(path)


def test_dockerfile_copies_only_files_that_exist() -> None:
    """Every COPY source (outside another stage) exists in the repository."""
    copies = [args for word, args in instructions(DEPLOY / "Dockerfile") if word == "COPY"]
    assert copies
    for args in copies:
        if args.startswith("--from="):
            continue
        *sources, _ = args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file"


def test_dockerfile_runs_the_console_script_as_an_unprivileged_user() -> None:
    """CMD is exec-form `parthenon-bot serve` (the pyproject console script) on 0.0.0.0, the
    image runs as a numeric non-root user, on a slim Python 3.11 base, with a /healthz check."""
    steps = instructions(DEPLOY / "Dockerfile")
    bases = [args for word, args in steps if word == "FROM"]
    assert bases
    assert all(base.startswith("python:3.11-slim") for base in bases)
    cmd = json.loads([args for word, args in steps if word == "CMD"][-1])
    assert cmd[:2] == ["parthenon-bot", "serve"]
    assert "parthenon-bot" in PYPROJECT["project"]["scripts"]
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - inside a container
    user = [args for word, args in steps if word == "USER"][-1]
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    healthcheck = [args for word, args in steps if word == "HEALTHCHECK"][-1]
    assert "http://127.0.0.1:3000/healthz" in healthcheck
    assert ("EXPOSE", "3000") in steps


def test_dockerfile_installs_the_lock_without_resolving() -> None:
    """Dependencies come from requirements.lock with --no-deps (nothing unpinned slips in)."""
    runs = [args for word, args in instructions(DEPLOY / "Dockerfile") if word == "RUN"]
    installs = [r for r in runs if "pip install" in r]
    assert installs
    assert all("--no-deps" in r for r in installs)
    assert any("requirements.lock" in r for r in installs)


def test_lock_pins_every_runtime_dependency_to_a_version_pyproject_allows() -> None:
    """Each runtime requirement of pyproject is pinned exactly, within its range."""
    pins: dict[str, str] = {}
    for line in (DEPLOY / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[canonicalize_name(name)] = version
    for raw in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(raw)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in deploy/requirements.lock"
        assert requirement.specifier.contains(pins[name]), (
            f"{name}=={pins[name]} is outside {requirement.specifier}: "
            "regenerate with `.venv/bin/python deploy/lockfile.py > deploy/requirements.lock`"
        )


def test_dockerignore_lets_in_what_the_dockerfile_copies() -> None:
    """The Dockerfile's own ignore file does not exclude a COPY source."""
    allowed = [line[1:].rstrip("/") for line in
               (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
               if line.startswith("!")]
    copies = [args for word, args in instructions(DEPLOY / "Dockerfile") if word == "COPY"]
    for args in copies:
        if args.startswith("--from="):
            continue
        for source in args.split()[:-1]:
            assert source.rstrip("/").lstrip("./") in allowed, source


def test_deployment_has_two_replicas_and_the_right_probes() -> None:
    """Two replicas; readiness on /readyz and liveness on /healthz at the container's port."""
    deployment = k8s("Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    container = spec["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in ports
    assert container["args"][:2] == ["parthenon-bot", "serve"]
    assert str(ports["http"]) in container["args"]
    security = spec["template"]["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_grace_periods_cover_the_engine_stop_deadline() -> None:
    """Kubernetes, compose and systemd wait longer than serve's drain plus the engine's stop
    deadline before SIGKILL, so the step in hand is finished or released first."""
    needed = STOP_DEADLINE + HTTP_DRAIN
    grace = k8s("Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= needed + 5
    compose = documents(DEPLOY / "compose.yaml")[0]
    assert float(compose["services"]["bot"]["stop_grace_period"].rstrip("s")) >= needed + 5
    unit = systemd_unit()
    assert float(unit["Service"]["TimeoutStopSec"]) >= needed + 5
    assert unit["Service"]["KillSignal"] == "SIGTERM"


def test_pdb_and_service_select_the_deployment_pods() -> None:
    """The PodDisruptionBudget keeps one pod and, like the Service, selects the pods' labels."""
    labels = k8s("Deployment")["spec"]["template"]["metadata"]["labels"]
    pdb = k8s("PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert k8s("Service")["spec"]["selector"].items() <= labels.items()


def test_configmap_config_loads_with_the_example_secret() -> None:
    """The ConfigMap's config validates when its *_env variables come from the Secret example,
    and the Secret holds what serve needs (bot token, signing secret, Redis URL)."""
    config_text = k8s("ConfigMap")["data"]["config.yaml"]
    env = k8s("Secret")["stringData"]
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "REDIS_URL"} <= set(env)
    config = parse_config(config_text, source="configmap", env=env)
    assert config.environments
    mount = k8s("Deployment")["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]
    assert mount["mountPath"] == "/etc/parthenon-bot/config.yaml"
    assert mount["subPath"] in k8s("ConfigMap")["data"]


def test_compose_runs_redis_with_aof_on_a_volume() -> None:
    """Redis has appendonly on and its data dir on a named volume; the bot points at it."""
    compose = documents(DEPLOY / "compose.yaml")[0]
    redis = compose["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    volume, _, target = redis["volumes"][0].partition(":")
    assert target == "/data"
    assert volume in compose["volumes"]
    bot = compose["services"]["bot"]
    assert bot["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert bot["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / bot["build"]["context"] / bot["build"]["dockerfile"]).resolve().exists()


def systemd_unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "systemd" / "parthenon-bot.service").read_text())
    return parser


def test_systemd_unit_serves_as_an_unprivileged_user_after_checking_the_config() -> None:
    """The unit runs `parthenon-bot serve`, checks the config first, never as root."""
    unit = systemd_unit()
    service = unit["Service"]
    assert "parthenon-bot serve" in service["ExecStart"]
    assert "parthenon-bot check-config" in service["ExecStartPre"]
    assert service["User"] not in {"root", "0"}
    assert service["NoNewPrivileges"] == "yes"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
