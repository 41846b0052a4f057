"""Static pods: pod manifests in a directory on the node, run without (or before) an API server.

The directory is polled (about once a second): a new file starts a pod, a changed file gives a
new pod uid (the uid is a hash of the node name and the file's bytes, as the real kubelet
derives it), so the old pod is stopped and the new one started, and a removed file stops its
pod. Each static pod is named ``<name>-<node>`` and, when the API server is reachable, gets a
*mirror pod* there: a read-only copy carrying the annotation ``kubernetes.io/config.mirror``.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import yaml

from kubelite.api.defaults import apply_defaults
from kubelite.kubelet.spec import Obj

log = logging.getLogger(__name__)

ANNOTATION_CONFIG_HASH = "kubernetes.io/config.hash"
ANNOTATION_CONFIG_MIRROR = "kubernetes.io/config.mirror"
ANNOTATION_CONFIG_SOURCE = "kubernetes.io/config.source"
ANNOTATION_CONFIG_SEEN = "kubernetes.io/config.seen"
_SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(ValueError):
    """A manifest file that is not a single valid Pod."""


def static_pod(raw: bytes, node_name: str, source: str) -> Obj:
    """The static pod described by a manifest's bytes (defaulted, uid = content hash)."""
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise ManifestError(f"{source}: not valid YAML: {err}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "Pod" or doc.get("apiVersion") != "v1":
        raise ManifestError(f"{source}: a static pod manifest must hold one v1 Pod")
    meta = doc.setdefault("metadata", {})
    spec = doc.get("spec")
    if not isinstance(meta, dict) or not meta.get("name") or not isinstance(spec, dict) or not spec.get("containers"):
        raise ManifestError(f"{source}: the pod needs metadata.name and spec.containers")
    uid = hashlib.md5(node_name.encode() + b"\0" + raw, usedforsecurity=False).hexdigest()
    meta["name"] = f"{meta['name']}-{node_name}"
    meta.setdefault("namespace", "default")
    meta["uid"] = uid
    annotations = meta.get("annotations") or {}
    annotations.update({ANNOTATION_CONFIG_HASH: uid, ANNOTATION_CONFIG_SOURCE: "file",
                        ANNOTATION_CONFIG_SEEN: "true"})
    meta["annotations"] = annotations
    spec["nodeName"] = node_name
    spec.setdefault("tolerations", []).append({"operator": "Exists", "effect": "NoExecute"})
    apply_defaults("v1", "Pod", doc)
    doc.setdefault("status", {})
    return doc


def mirror_pod(pod: Obj, node_uid: str | None) -> Obj:
    """The API copy of a static pod."""
    mirror = copy.deepcopy(pod)
    meta = mirror["metadata"]
    for f in ("uid", "resourceVersion", "creationTimestamp"):
        meta.pop(f, None)
    meta["annotations"][ANNOTATION_CONFIG_MIRROR] = pod["metadata"]["uid"]
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": pod["spec"]["nodeName"],
                                    "uid": node_uid, "controller": True}]
    mirror["status"] = {}
    return mirror


def is_mirror(pod: Obj) -> bool:
    return ANNOTATION_CONFIG_MIRROR in ((pod.get("metadata") or {}).get("annotations") or {})


class StaticPodSource:
    """Polls `path`; calls `on_change(pods by uid)` after each scan that changed something."""

    def __init__(self, path: Path, node_name: str, on_change: Callable[[dict[str, Obj]], None],
                 period: float = 1.0) -> None:
        self.path = path
        self.node_name = node_name
        self.on_change = on_change
        self.period = period
        self.pods: dict[str, Obj] = {}
        self.scanned = asyncio.Event()
        self._cache: dict[str, tuple[tuple[int, int], Obj | None]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"static-pods:{self.path}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                pods = await asyncio.to_thread(self._scan)
            except Exception:  # a broken directory must not kill the agent
                log.exception("scanning static pod manifests in %s failed", self.path)
                pods = self.pods
            changed = pods.keys() != self.pods.keys()
            self.pods = pods
            first = not self.scanned.is_set()
            self.scanned.set()
            if changed or first:
                self.on_change(dict(pods))
            await asyncio.sleep(self.period)

    def _scan(self) -> dict[str, Obj]:
        """Read new or changed manifest files (by mtime and size); blocking."""
        try:
            names = sorted(n for n in os.listdir(self.path) if n.endswith(_SUFFIXES) and not n.startswith("."))
        except FileNotFoundError:
            names = []
        pods: dict[str, Obj] = {}
        seen: set[str] = set()
        for name in names:
            full = os.path.join(self.path, name)
            try:
                st = os.stat(full)
                stamp = (st.st_mtime_ns, st.st_size)
                cached = self._cache.get(full)
                if cached is None or cached[0] != stamp:
                    with open(full, "rb") as f:
                        raw = f.read()
                    try:
                        pod: Obj | None = static_pod(raw, self.node_name, full)
                    except ManifestError as err:
                        log.warning("ignoring static pod manifest: %s", err)
                        pod = None
                    cached = (stamp, pod)
                    self._cache[full] = cached
            except OSError:
                continue
            seen.add(full)
            if cached[1] is not None:
                pods[cached[1]["metadata"]["uid"]] = cached[1]
        for gone in set(self._cache) - seen:
            del self._cache[gone]
        return pods
