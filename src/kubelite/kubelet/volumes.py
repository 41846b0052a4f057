"""Pod volumes as directories on the node, bind-mounted into containers by the runtime.

Every volume of a pod lives under ``<data-dir>/pods/<uid>/volumes/<plugin>/<name>`` (the real
kubelet's layout), except hostPath, which is the host's own path. ConfigMap, Secret,
downwardAPI and projected volumes are written as files when a container of the pod is about to
start (so a restarted container sees the current data); the API objects are fetched with plain
GETs, which keeps a node's cost at zero while it runs nothing that needs them. File writes are
blocking and run in a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import shutil
from pathlib import Path

from kubelite.api.resources import CONFIGMAPS, SECRETS, SERVICEACCOUNTS
from kubelite.client.rest import ApiClient, ApiError, is_not_found
from kubelite.kubelet.spec import Obj, SpecError, field_ref_value, resource_field_value
from kubelite.runtime.types import Mount

log = logging.getLogger(__name__)

DEFAULT_MODE = 0o644
READ_ONLY_SOURCES = ("configMap", "secret", "downwardAPI", "projected")


def _plugin_dir(volume: Obj) -> str:
    for key, plugin in (("emptyDir", "kubernetes.io~empty-dir"), ("configMap", "kubernetes.io~configmap"),
                        ("secret", "kubernetes.io~secret"), ("downwardAPI", "kubernetes.io~downward-api"),
                        ("projected", "kubernetes.io~projected")):
        if key in volume:
            return plugin
    return "kubernetes.io~other"


def _safe_rel(path: str) -> str:
    norm = os.path.normpath(path)
    if norm.startswith("..") or os.path.isabs(norm):
        raise SpecError(f"volume item path {path!r} must be relative and stay inside the volume")
    return norm


class VolumeManager:
    """Prepares a pod's volumes (see the module docstring)."""

    def __init__(self, client: ApiClient | None, pods_dir: Path) -> None:
        self.client = client
        self.pods_dir = pods_dir

    def pod_dir(self, uid: str) -> Path:
        return self.pods_dir / uid

    # -- API lookups -----------------------------------------------------------------------

    async def _get(self, kind: str, namespace: str, name: str, optional: bool) -> Obj | None:
        if self.client is None:
            if optional:
                return None
            raise SpecError(f"{kind} {namespace}/{name} cannot be read: no API server")
        res = CONFIGMAPS if kind == "configmap" else SECRETS
        try:
            return await self.client.get(res, name, namespace)
        except ApiError as err:
            if is_not_found(err):
                if optional:
                    return None
                raise SpecError(f'{kind} "{name}" not found') from None
            raise SpecError(f"cannot read {kind} {namespace}/{name}: {err}") from None

    async def config_data(self, kind: str, namespace: str, name: str, optional: bool) -> dict[str, bytes] | None:
        """The key -> bytes of a configmap or secret (None if optional and missing)."""
        obj = await self._get(kind, namespace, name, optional)
        if obj is None:
            return None
        out: dict[str, bytes] = {}
        if kind == "configmap":
            for k, v in (obj.get("data") or {}).items():
                out[k] = str(v).encode()
            for k, v in (obj.get("binaryData") or {}).items():
                out[k] = base64.b64decode(v)
        else:
            for k, v in (obj.get("stringData") or {}).items():
                out[k] = str(v).encode()
            for k, v in (obj.get("data") or {}).items():
                out[k] = base64.b64decode(v)
        return out

    async def _token(self, pod: Obj, source: Obj) -> bytes | None:
        """A projected service-account token via the TokenRequest API (best effort)."""
        if self.client is None:
            return None
        spec = pod.get("spec") or {}
        meta = pod.get("metadata") or {}
        sa = spec.get("serviceAccountName") or "default"
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": [source["audience"]] if source.get("audience") else [],
                         "expirationSeconds": int(source.get("expirationSeconds") or 3607),
                         "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": meta.get("name"),
                                            "uid": meta.get("uid")}}}
        try:
            answer = await self.client.create(SERVICEACCOUNTS, body, meta.get("namespace"), subresource="token",
                                              name=sa)
        except (ApiError, ValueError) as err:
            log.debug("token request for %s/%s failed: %s", meta.get("namespace"), sa, err)
            return None
        token = (answer.get("status") or {}).get("token")
        return str(token).encode() if token else None

    # -- files for one volume --------------------------------------------------------------

    async def _files(self, pod: Obj, volume: Obj, node_allocatable: Obj | None) -> dict[str, tuple[bytes, int]]:
        """relative path -> (content, mode) for configMap/secret/downwardAPI/projected volumes."""
        ns = str((pod.get("metadata") or {}).get("namespace") or "default")
        files: dict[str, tuple[bytes, int]] = {}

        async def add_config(kind: str, src: Obj, default_mode: int) -> None:
            name = src.get("name") if kind == "configmap" else src.get("secretName", src.get("name"))
            data = await self.config_data(kind, ns, str(name), bool(src.get("optional")))
            if data is None:
                return
            items = src.get("items")
            if items:
                for item in items:
                    key = item.get("key")
                    if key not in data:
                        if src.get("optional"):
                            continue
                        raise SpecError(f'{kind} "{name}" has no key {key!r}')
                    files[_safe_rel(str(item.get("path") or key))] = (data[key], int(item.get("mode") or default_mode))
            else:
                for key, value in data.items():
                    files[_safe_rel(key)] = (value, default_mode)

        def add_downward(items: list[Obj], default_mode: int) -> None:
            for item in items:
                if item.get("fieldRef"):
                    value = field_ref_value(pod, item["fieldRef"])
                elif item.get("resourceFieldRef"):
                    value = resource_field_value(pod, "", item["resourceFieldRef"], node_allocatable)
                else:
                    continue
                files[_safe_rel(str(item.get("path")))] = (value.encode(), int(item.get("mode") or default_mode))

        if "configMap" in volume:
            src = volume["configMap"] or {}
            await add_config("configmap", src, int(src.get("defaultMode") or DEFAULT_MODE))
        elif "secret" in volume:
            src = volume["secret"] or {}
            await add_config("secret", src, int(src.get("defaultMode") or DEFAULT_MODE))
        elif "downwardAPI" in volume:
            src = volume["downwardAPI"] or {}
            add_downward(src.get("items") or [], int(src.get("defaultMode") or DEFAULT_MODE))
        elif "projected" in volume:
            src = volume["projected"] or {}
            mode = int(src.get("defaultMode") or DEFAULT_MODE)
            for source in src.get("sources") or []:
                if "configMap" in source:
                    await add_config("configmap", source["configMap"] or {}, mode)
                elif "secret" in source:
                    await add_config("secret", source["secret"] or {}, mode)
                elif "downwardAPI" in source:
                    add_downward((source["downwardAPI"] or {}).get("items") or [], mode)
                elif "serviceAccountToken" in source:
                    sat = source["serviceAccountToken"] or {}
                    token = await self._token(pod, sat)
                    if token is not None:
                        files[_safe_rel(str(sat.get("path") or "token"))] = (token, mode)
        return files

    # -- the whole pod ---------------------------------------------------------------------

    async def prepare(self, pod: Obj, node_allocatable: Obj | None = None) -> dict[str, str]:
        """Create every volume of `pod`; volume name -> host directory."""
        uid = str(pod["metadata"]["uid"])
        base = self.pod_dir(uid) / "volumes"
        paths: dict[str, str] = {}
        writes: list[tuple[Path, dict[str, tuple[bytes, int]]]] = []
        host_dirs: list[tuple[Path, str]] = []
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            name = str(volume.get("name"))
            if "hostPath" in volume:
                hp = volume["hostPath"] or {}
                path = Path(str(hp.get("path", "")))
                if not path.is_absolute():
                    raise SpecError(f"volume {name}: hostPath.path must be absolute")
                host_dirs.append((path, str(hp.get("type") or "")))
                paths[name] = str(path)
                continue
            if not any(k in volume for k in ("emptyDir", *READ_ONLY_SOURCES)):
                raise SpecError(f"volume {name}: unsupported volume type (use emptyDir, hostPath, configMap, "
                                "secret, downwardAPI or projected)")
            target = base / _plugin_dir(volume) / name
            paths[name] = str(target)
            if "emptyDir" in volume:
                writes.append((target, {}))
            else:
                writes.append((target, await self._files(pod, volume, node_allocatable)))
        await asyncio.to_thread(_materialize, writes, host_dirs)
        return paths

    async def etc_hosts(self, pod: Obj, pod_ip: str) -> str:
        """An /etc/hosts naming the pod (the real kubelet manages this file too)."""
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        hostname = str(spec.get("hostname") or meta.get("name") or "pod")
        lines = ["# Kubernetes-managed hosts file (kubelite).", "127.0.0.1\tlocalhost",
                 "::1\tlocalhost ip6-localhost ip6-loopback"]
        if pod_ip:
            lines.append(f"{pod_ip}\t{hostname}")
        for alias in spec.get("hostAliases") or []:
            lines.append(f"{alias.get('ip')}\t{' '.join(alias.get('hostnames') or [])}")
        path = self.pod_dir(str(meta.get("uid"))) / "etc-hosts"
        await asyncio.to_thread(_write_file, path, ("\n".join(lines) + "\n").encode(), 0o644)
        return str(path)

    async def remove(self, uid: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.pod_dir(uid), True)


def mounts_for(container: Obj, volume_paths: dict[str, str], pod: Obj, etc_hosts: str | None) -> list[Mount]:
    """The container's volumeMounts as runtime mounts (subPath resolved; sources made read-only)."""
    volumes = {str(v.get("name")): v for v in (pod.get("spec") or {}).get("volumes") or []}
    mounts: list[Mount] = []
    seen: set[str] = set()
    for vm in container.get("volumeMounts") or []:
        name = str(vm.get("name"))
        if name not in volume_paths:
            raise SpecError(f"container {container.get('name')}: volumeMount names unknown volume {name!r}")
        host = volume_paths[name]
        sub = vm.get("subPath")
        if sub:
            host = os.path.join(host, _safe_rel(str(sub)))
        read_only = bool(vm.get("readOnly")) or any(k in volumes.get(name, {}) for k in READ_ONLY_SOURCES)
        path = str(vm.get("mountPath"))
        seen.add(path)
        mounts.append(Mount(container_path=path, host_path=host, readonly=read_only))
    if etc_hosts and "/etc/hosts" not in seen:
        mounts.append(Mount(container_path="/etc/hosts", host_path=etc_hosts, readonly=False))
    return mounts


def _write_file(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _materialize(writes: list[tuple[Path, dict[str, tuple[bytes, int]]]], host_dirs: list[tuple[Path, str]]) -> None:
    for path, type_ in host_dirs:
        if type_ == "DirectoryOrCreate":
            path.mkdir(parents=True, exist_ok=True)
        elif type_ == "FileOrCreate" and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        elif type_ in ("Directory", "File", "Socket") and not path.exists():
            raise SpecError(f"hostPath {path} does not exist (type {type_})")
    for target, files in writes:
        target.mkdir(parents=True, exist_ok=True)
        os.chmod(target, 0o777 if not files else 0o755)
        for rel, (data, mode) in files.items():
            _write_file(target / rel, data, mode)
        if files:
            wanted = {rel.split(os.sep)[0] for rel in files}
            for entry in os.listdir(target):
                if entry not in wanted and not entry.startswith("."):
                    victim = target / entry
                    with contextlib.suppress(OSError):
                        shutil.rmtree(victim) if victim.is_dir() else victim.unlink()
