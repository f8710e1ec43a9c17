"""Every shipped way to run the bot gives the archive (finished runs past their retention) a
durable, writable place at the default ``retention.archive_dir``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.retention import DEFAULT_ARCHIVE_DIR, RetentionConfig

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def docs(name: str) -> list[Any]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d is not None]


def test_the_default_archive_dir_is_where_the_deployments_mount_it() -> None:
    assert RetentionConfig().archive_dir == DEFAULT_ARCHIVE_DIR == Path(
        "/var/lib/parthenon-bot/archive")


def test_kubernetes_mounts_a_shared_claim_at_the_archive_dir() -> None:
    [deployment] = docs("k8s/deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    [bot] = pod["containers"]
    mounts = {m["name"]: m for m in bot["volumeMounts"]}
    assert mounts["archive"]["mountPath"] == str(DEFAULT_ARCHIVE_DIR)
    assert not mounts["archive"].get("readOnly")
    volumes = {v["name"]: v for v in pod["volumes"]}
    claim = volumes["archive"]["persistentVolumeClaim"]["claimName"]
    [pvc] = docs("k8s/archive-pvc.yaml")
    assert pvc["kind"] == "PersistentVolumeClaim"
    assert pvc["metadata"]["name"] == claim
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]  # every replica archives and reads
    [kustomization] = docs("k8s/kustomization.yaml")
    assert "archive-pvc.yaml" in kustomization["resources"]
    assert pod["securityContext"]["fsGroup"] == 10001  # the volume is writable by the bot


def test_compose_mounts_a_named_volume_at_the_archive_dir() -> None:
    [compose] = docs("compose.yaml")
    assert f"archive:{DEFAULT_ARCHIVE_DIR}" in compose["services"]["bot"]["volumes"]
    assert "archive" in compose["volumes"]


def test_the_image_has_the_archive_dir_owned_by_the_bot() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"mkdir -p {DEFAULT_ARCHIVE_DIR}" in dockerfile
    assert "chown -R 10001:10001 /var/lib/parthenon-bot" in dockerfile


def test_systemd_gives_the_bot_its_state_directory() -> None:
    unit = (DEPLOY / "systemd/parthenon-bot.service").read_text()
    assert "StateDirectory=parthenon-bot\n" in unit  # /var/lib/parthenon-bot, writable
    assert DEFAULT_ARCHIVE_DIR.parent == Path("/var/lib/parthenon-bot")
