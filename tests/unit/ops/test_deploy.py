"""The deployment files hold together: they parse, reference what exists, and agree with the
code (probe paths, the console script, the stop deadline, the secrets the config needs), and
they hold in production (no secret applied from the repository, a changed config rolls the
pods, required secrets, loopback publishing, bounded memory and /tmp, hardening, pinned
images and hashes). Docker and Kubernetes cannot run here, so this is what keeps them honest."""

from __future__ import annotations

import asyncio
import configparser
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.checkconfig import CheckOptions, check_config
from bot.config import parse_config
from bot.serve import DRAIN, STOP_DEADLINE

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
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
        if line and not line.startswith(("#", " ")):
            name, _, version = line.split()[0].partition("==")
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


def test_grace_periods_cover_the_whole_stop_deadline() -> None:
    """Kubernetes, compose and systemd wait at least 5 s longer than serve's whole stop
    (STOP_DEADLINE from SIGTERM, the drain included) before SIGKILL, so the step in hand is
    finished or released first; the drain is part of that deadline, not added to it."""
    assert DRAIN < STOP_DEADLINE
    needed = STOP_DEADLINE
    grace = k8s("Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= needed + 5
    compose = documents(DEPLOY / "compose.yaml")[0]
    assert float(compose["services"]["bot"]["stop_grace_period"].rstrip("s")) >= needed + 5
    unit = systemd_unit()
    assert float(unit["Service"]["TimeoutStopSec"]) >= needed + 5
    assert unit["Service"]["KillSignal"] == "SIGTERM"


def test_pdb_and_service_select_the_deployment_pods() -> None:
    """The PodDisruptionBudget keeps one pod but lets an unready pod go (a Redis outage must not
    block node drains) and, like the Service, selects the pods' labels."""
    labels = k8s("Deployment")["spec"]["template"]["metadata"]["labels"]
    pdb = k8s("PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert k8s("Service")["spec"]["selector"].items() <= labels.items()


def kustomization() -> dict[str, Any]:
    return documents(DEPLOY / "k8s" / "kustomization.yaml")[0]


def secret_example() -> dict[str, str]:
    document = documents(DEPLOY / "k8s" / "secret.example.yaml")[0]
    assert document["kind"] == "Secret"
    return dict(document["stringData"])


def test_kustomize_never_applies_a_secret_from_the_repository() -> None:
    """`kubectl apply -k` applies no Secret (it would overwrite the real one with placeholders):
    no resource of kind Secret, no secretGenerator reading a file in the repository."""
    kust = kustomization()
    for resource in kust["resources"]:
        kinds = {d.get("kind") for d in documents(DEPLOY / "k8s" / resource)}
        assert "Secret" not in kinds, resource
    assert "secretGenerator" not in kust
    assert "secret.example.yaml" not in kust["resources"]


def test_the_config_is_generated_so_a_change_rolls_the_pods() -> None:
    """The config reaches the pods through a configMapGenerator (its name carries a hash of the
    content, so a change makes a new ReplicaSet), mounted as a directory (no subPath, which
    never sees updates), from a file equal to deploy/config.example.yaml."""
    kust = kustomization()
    [generator] = kust["configMapGenerator"]
    assert generator["files"] == ["config.yaml"]
    assert (DEPLOY / "k8s" / "config.yaml").read_text() == \
        (DEPLOY / "config.example.yaml").read_text(), \
        "deploy/k8s/config.yaml drifted: cp deploy/config.example.yaml deploy/k8s/config.yaml"
    pod = k8s("Deployment")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v.get("configMap"))
    assert volume["configMap"]["name"] == generator["name"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
    assert "subPath" not in mount
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["PARTHENON_BOT_CONFIG"] == f"{mount['mountPath']}/config.yaml"


def test_the_secret_example_feeds_everything_the_config_and_serve_need() -> None:
    """The keys documented in secret.example.yaml are what the shipped config and serve read."""
    env = secret_example()
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "REDIS_URL"} <= set(env)
    config = parse_config((DEPLOY / "k8s" / "config.yaml").read_text(), source="k8s", env=env)
    assert config.environments


CONFIGS = sorted({*DEPLOY.glob("config*.yaml"), *DEPLOY.glob("*/config*.yaml")})


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_shipped_config_passes_check_config_without_a_warning(path: Path) -> None:
    """`parthenon-bot check-config --offline` on each config file shipped in deploy/ finds no
    problem and no warning (config, definitions and their cross-checks)."""
    report = asyncio.run(check_config(CheckOptions(path, offline=True), secret_example()))
    assert [f.line() for f in report.problems + report.warnings] == []


def test_deployment_spreads_required_bounds_tmp_and_drains() -> None:
    """Replicas must land on different nodes, /tmp has a size limit, and the grace period is
    the one the stop deadline was measured against."""
    pod = k8s("Deployment")["spec"]["template"]["spec"]
    [spread] = pod["topologySpreadConstraints"]
    assert spread["whenUnsatisfiable"] == "DoNotSchedule"
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert tmp["emptyDir"]["sizeLimit"]


def test_compose_requires_its_secrets_and_publishes_on_loopback_only() -> None:
    """Every secret is required with `:?` (an unset one stops compose; no `:-` that passes an
    empty secret), the port is published on 127.0.0.1 only, /tmp is a tmpfs, Redis has a
    maxmemory with noeviction."""
    compose = documents(DEPLOY / "compose.yaml")[0]
    bot = compose["services"]["bot"]
    for name, value in bot["environment"].items():
        if name in {"REDIS_URL", "PARTHENON_BOT_CONFIG", "LOG_LEVEL"}:
            continue
        assert value == f"${{{name}:?set {name}}}", name
    assert ":-" not in (DEPLOY / "compose.yaml").read_text()
    assert bot["ports"] == ["127.0.0.1:3000:3000"]
    assert any(t.startswith("/tmp:") for t in bot["tmpfs"])
    command = compose["services"]["redis"]["command"]
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert command[command.index("--maxmemory") + 1]


def test_images_are_pinned_by_digest_and_the_lock_by_hash() -> None:
    """Base images are pinned by digest; every lock entry carries sha256 hashes and the image
    installs it with --require-hashes; the build backend floor is one that builds this
    pyproject (setuptools 77 reads the SPDX license string)."""
    bases = [args.split()[0] for word, args in instructions(DEPLOY / "Dockerfile")
             if word == "FROM"]
    compose = documents(DEPLOY / "compose.yaml")[0]
    images = [*bases, compose["services"]["redis"]["image"]]
    for image in images:
        assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", image), image
    text = (DEPLOY / "requirements.lock").read_text()
    entries = [e for e in re.sub(r"\\\n\s*", " ", text).splitlines()
               if e and not e.startswith("#")]
    assert entries
    for entry in entries:
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), entry
    runs = [args for word, args in instructions(DEPLOY / "Dockerfile") if word == "RUN"]
    assert any("--require-hashes" in r and "requirements.lock" in r for r in runs)
    floor = [r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    assert floor == ["setuptools>=77"]


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


def test_systemd_stops_restarting_a_failing_config_and_is_hardened() -> None:
    """A start limit that Restart=on-failure actually reaches (5 tries in 10 minutes, 5 s
    apart), the hardening systemd recommends for a network service, a state directory for the
    archive, and the env file owned by root (documented in the install steps)."""
    unit = systemd_unit()
    limit = float(unit["Unit"]["StartLimitIntervalSec"])
    burst = int(unit["Unit"]["StartLimitBurst"])
    assert unit["Service"]["Restart"] == "on-failure"
    assert burst * float(unit["Service"]["RestartSec"]) < limit
    service = unit["Service"]
    for key, value in {"ProtectProc": "invisible", "ProcSubset": "pid", "RemoveIPC": "yes",
                       "PrivateUsers": "yes", "MemoryDenyWriteExecute": "yes",
                       "ProtectSystem": "strict"}.items():
        assert service[key] == value, key
    assert "@system-service" in (DEPLOY / "systemd" / "parthenon-bot.service").read_text()
    assert service["StateDirectory"] == "parthenon-bot"
    assert "-o root" in (DEPLOY / "systemd" / "parthenon-bot.service").read_text()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_security_exposure_is_at_most_two(tmp_path: Path) -> None:
    """`systemd-analyze security --offline` rates the unit's exposure 2.0 or lower."""
    unit = tmp_path / "parthenon-bot.service"
    unit.write_text((DEPLOY / "systemd" / "parthenon-bot.service").read_text())
    out = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                         capture_output=True, text=True, check=False)
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out.stdout + out.stderr)
    assert found, out.stdout + out.stderr
    assert float(found.group(1)) <= 2.0
