"""Pod volumes as files on the node: what a container sees under its mount paths."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from kubelite.api.resources import CONFIGMAPS, SECRETS
from kubelite.client.fake import FakeApiClient
from kubelite.kubelet.spec import SpecError
from kubelite.kubelet.volumes import VolumeManager, mounts_for


def read(*parts: str) -> str:
    """Small file reads on tmpfs: instant, fine inside a test coroutine."""
    return Path(*parts).read_text()


def exists(*parts: str) -> bool:
    return Path(*parts).exists()


def is_dir(*parts: str) -> bool:
    return Path(*parts).is_dir()


def mode(*parts: str) -> int:
    return os.stat(Path(*parts)).st_mode & 0o777


def _pod(volumes: list[dict], mounts: list[dict]) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "uid-1", "labels": {"app": "x"}},
            "spec": {"nodeName": "n", "volumes": volumes,
                     "containers": [{"name": "c", "image": "i", "volumeMounts": mounts,
                                     "resources": {"limits": {"memory": "64Mi"}}}]}}


@pytest.fixture
def fake() -> FakeApiClient:
    f = FakeApiClient()
    f.add(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"},
                       "data": {"a.conf": "alpha", "b.conf": "beta"}})
    f.add(SECRETS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
                    "data": {"password": base64.b64encode(b"hunter2").decode()}})
    return f


async def test_configmap_secret_downward_and_empty_dir_volumes_are_written(fake: FakeApiClient, tmp_path: Path) -> None:
    vm = VolumeManager(fake, tmp_path)  # type: ignore[arg-type]
    pod = _pod([
        {"name": "cfg", "configMap": {"name": "cm", "items": [{"key": "a.conf", "path": "conf/a"}]}},
        {"name": "sec", "secret": {"secretName": "s", "defaultMode": 0o400}},
        {"name": "info", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory",
                                                 "divisor": "1Mi"}}]}},
        {"name": "scratch", "emptyDir": {}},
        {"name": "host", "hostPath": {"path": str(tmp_path / "hostdir"), "type": "DirectoryOrCreate"}},
    ], [{"name": "cfg", "mountPath": "/etc/cfg"}, {"name": "sec", "mountPath": "/etc/sec"},
        {"name": "scratch", "mountPath": "/scratch", "subPath": "sub"}])
    paths = await vm.prepare(pod)
    assert read(paths["cfg"], "conf", "a") == "alpha"
    assert not exists(paths["cfg"], "b.conf")
    assert read(paths["sec"], "password") == "hunter2" and mode(paths["sec"], "password") == 0o400
    assert read(paths["info"], "labels") == 'app="x"'
    assert read(paths["info"], "mem") == "64"
    assert is_dir(paths["scratch"]) and is_dir(paths["host"])
    mounts = {m.container_path: m for m in mounts_for(pod["spec"]["containers"][0], paths, pod, None)}
    assert mounts["/etc/cfg"].readonly and mounts["/etc/sec"].readonly
    assert not mounts["/scratch"].readonly and mounts["/scratch"].host_path.endswith("/scratch/sub")
    await vm.remove("uid-1")
    assert not exists(str(tmp_path), "uid-1")


async def test_missing_configmaps_fail_unless_optional(fake: FakeApiClient, tmp_path: Path) -> None:
    vm = VolumeManager(fake, tmp_path)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match='configmap "absent" not found'):
        await vm.prepare(_pod([{"name": "v", "configMap": {"name": "absent"}}], []))
    paths = await vm.prepare(_pod([{"name": "v", "configMap": {"name": "absent", "optional": True}}], []))
    assert is_dir(paths["v"])


async def test_paths_escaping_the_volume_and_unknown_volume_types_are_refused(fake: FakeApiClient,
                                                                             tmp_path: Path) -> None:
    vm = VolumeManager(fake, tmp_path)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="inside the volume"):
        await vm.prepare(_pod([{"name": "v", "configMap": {"name": "cm", "items": [
            {"key": "a.conf", "path": "../../etc/passwd"}]}}], []))
    with pytest.raises(SpecError, match="unsupported volume type"):
        await vm.prepare(_pod([{"name": "v", "nfs": {"server": "x", "path": "/"}}], []))
