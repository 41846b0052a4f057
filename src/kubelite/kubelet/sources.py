"""Desired pods: the API informer and the static pod source, merged by uid; mirror pods.

Kubernetes' counterparts: pkg/kubelet/config (`PodConfig` merging the API and file sources,
"all sources ready"), pkg/kubelet/pod (the pod manager: pods by uid and by name, static pods and
their mirror pods) and pkg/kubelet/pod/mirror_client.go.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from kubelite.api.resources import PODS
from kubelite.client.rest import ApiError
from kubelite.kubelet.containers import ContainerManager
from kubelite.kubelet.static import is_mirror, mirror_pod

log = logging.getLogger(__name__)

Obj = dict[str, Any]





class PodSources(ContainerManager):
    """The pods this node should run, as its sources give them (see the module docstring)."""

    async def _wait_api_synced(self) -> None:
        assert self.informer is not None
        while not await self.informer.wait_synced(timeout=5):
            pass
        self._api_synced = True
        self._sources_changed()

    @property
    def sources_ready(self) -> bool:
        return self._api_synced and self._static_scanned

    def resync_all(self) -> None:
        """Sync every known pod now (e.g. once the node's network became ready)."""
        for uid in set(self._signatures) | set(self._api_pods) | set(self._static_pods):
            self.workers.enqueue(uid)

    def _sources_changed(self) -> None:
        if self.sources_ready:
            log.debug("pod sources loaded: %d API pods, %d static pods, %d pods in the runtime",
                     len(self._api_pods), len(self._static_pods), len(self._signatures))
            for uid in set(self._signatures) | set(self._api_pods) | set(self._static_pods):
                self.workers.enqueue(uid)

    def _on_add(self, pod: Obj) -> None:
        if is_mirror(pod):
            self._mirror_changed(pod)
            return
        uid = str(pod["metadata"]["uid"])
        self._api_pods[uid] = pod
        self.workers.enqueue(uid)

    def _on_update(self, old: Obj, new: Obj) -> None:
        # Our own status writes come back as updates: they change nothing the sync reads.
        if not is_mirror(new) and str(new["metadata"].get("uid")) in self._api_pods:
            om, nm = old.get("metadata") or {}, new.get("metadata") or {}
            old_spec, new_spec = old.get("spec"), new.get("spec")
            if (old_spec is new_spec or old_spec == new_spec) and all(
                    om.get(k) == nm.get(k) for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "labels",
                                                      "annotations")):
                self._api_pods[str(nm["uid"])] = new
                self._reconcile_status(str(nm["uid"]), new)
                return
        self._on_add(new)

    def _on_delete(self, pod: Obj) -> None:
        if is_mirror(pod):
            self._mirror_changed(pod)
            return
        uid = str(pod["metadata"]["uid"])
        self._api_pods.pop(uid, None)
        self.workers.enqueue(uid)

    def _mirror_changed(self, mirror: Obj) -> None:
        meta = mirror.get("metadata") or {}
        for uid, pod in self._static_pods.items():
            if pod["metadata"]["name"] == meta.get("name") and pod["metadata"]["namespace"] == meta.get("namespace"):
                self.workers.enqueue(uid)

    def _on_static(self, pods: dict[str, Obj]) -> None:
        changed = set(pods) ^ set(self._static_pods)
        self._static_pods = pods
        first = not self._static_scanned
        self._static_scanned = True
        for uid in changed:
            self.workers.enqueue(uid)
        if first:
            self._sources_changed()

    def desired(self, uid: str) -> Obj | None:
        return self._static_pods.get(uid) or self._api_pods.get(uid)

    def pods(self) -> list[Obj]:
        """Every pod this node should run (API pods and static pods)."""
        return list(self._api_pods.values()) + list(self._static_pods.values())

    def pod_by_name(self, namespace: str, name: str) -> Obj | None:
        """The pod (API or static) with this name on this node, as the kubelet server needs it."""
        for pod in self.pods():
            meta = pod["metadata"]
            if meta.get("name") == name and meta.get("namespace", "default") == namespace:
                return pod
        return None

    def pod_ref(self, namespace: str, name: str) -> tuple[str, str, dict[str, str], dict[str, str]] | None:
        """(uid, sandbox id, current container ids, previous container ids) of a pod, for the kubelet server."""
        pod = self.pod_by_name(namespace, name)
        if pod is None:
            return None
        st = self._states.get(str(pod["metadata"]["uid"]))
        if st is None:
            return None
        return st.uid, st.sandbox_id, dict(st.container_ids), dict(st.previous_ids)

    async def _sync_mirror(self, pod: Obj) -> None:
        if self.client is None or self.informer is None or not self._api_synced:
            return
        meta = pod["metadata"]
        ns, name, uid = str(meta["namespace"]), str(meta["name"]), str(meta["uid"])
        current = self.informer.store.get_by(ns, name)
        if current is not None:
            cmeta = current.get("metadata") or {}
            if (cmeta.get("annotations") or {}).get("kubernetes.io/config.mirror") == uid \
                    and not cmeta.get("deletionTimestamp"):
                return
            with contextlib.suppress(ApiError):
                await self.client.delete(PODS, name, ns, grace_period_seconds=0,
                                         preconditions={"uid": cmeta.get("uid")})
        try:
            await self.client.create(PODS, mirror_pod(pod, self.node_uid), ns)
        except ApiError as err:
            # 409: the old mirror is still being removed; anything else: the server is unwell. Retry.
            raise OSError(f"creating mirror pod {ns}/{name}: {err}") from None

    async def _delete_mirror(self, pod: Obj) -> None:
        if self.client is None or self.informer is None:
            return
        meta = pod["metadata"]
        current = self.informer.store.get_by(str(meta["namespace"]), str(meta["name"]))
        if current is None:
            return
        if ((current.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/config.mirror") \
                != meta["uid"]:
            return
        with contextlib.suppress(ApiError):
            await self.client.delete(PODS, str(meta["name"]), str(meta["namespace"]), grace_period_seconds=0,
                                     preconditions={"uid": current["metadata"]["uid"]})
