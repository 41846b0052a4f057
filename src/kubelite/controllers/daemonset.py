"""DaemonSet controller: one pod on every node that should run one.

A node should run the daemon pod when it matches the template's nodeSelector and required node
affinity and every NoSchedule/NoExecute taint on it is tolerated by the template's tolerations
plus the DaemonSet defaults (not-ready, unreachable, disk/memory/pid pressure, unschedulable),
so daemons keep running on sick or cordoned nodes. Pods are pinned with a required node
affinity on `metadata.name` (as Kubernetes does) and the scheduler binds them.

Template changes roll out with the `controller-revision-hash` label: under RollingUpdate, old
pods are deleted while at most maxUnavailable daemon pods are unavailable; the next reconcile
creates their replacements. OnDelete leaves old pods until the user deletes them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kubelite.api.resources import DAEMONSETS, NODES, PODS
from kubelite.client.informer import InformerFactory
from kubelite.client.lister import index_by_owner_uid
from kubelite.client.rest import ApiError, is_not_found
from kubelite.controllers.base import Controller, Expectations, NullRecorder, OwnedPodEvents, Recorder
from kubelite.controllers.deployment import pod_template_hash, resolve_int_or_percent
from kubelite.controllers.util import (
    Obj,
    WallClock,
    controller_ref,
    deep,
    epoch,
    is_deleting,
    is_pod_available,
    is_pod_ready,
    key_of,
    meta,
    pod_fits_node_selectors,
    pod_from_template,
    split_key,
    tolerates_all,
    wall_now,
)

log = logging.getLogger("kubelite.controllers.daemonset")

# Event reasons
SUCCESSFUL_CREATE = "SuccessfulCreate"
FAILED_CREATE = "FailedCreate"
SUCCESSFUL_DELETE = "SuccessfulDelete"
FAILED_DAEMON_POD = "FailedDaemonPod"

REVISION_HASH = "controller-revision-hash"

DEFAULT_TOLERATIONS: tuple[dict[str, Any], ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
HOST_NETWORK_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                           "effect": "NoSchedule"}


class DaemonSetController(Controller):
    """Keeps one daemon pod per eligible node, and rolls the template over."""

    name = "daemonset"

    def __init__(self, client: Any, factory: InformerFactory, recorder: Recorder | None = None, *,
                 now: WallClock = wall_now) -> None:
        super().__init__()
        self.client = client                      # ApiClient: pod creates/deletes, status
        self.recorder = recorder or NullRecorder()
        self.now = now
        self.expectations = Expectations()
        ds_informer = factory.informer(DAEMONSETS)
        node_informer = factory.informer(NODES)
        pod_informer = factory.informer(PODS)
        self.ds_lister = ds_informer.store        # daemon sets
        self.node_lister = node_informer.store    # nodes (where daemons should run)
        self.pod_lister = pod_informer.store      # pods, by owner uid
        self.pod_lister.add_index("owner-uid", index_by_owner_uid)
        ds_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self._on_ds_delete)
        node_informer.add_handler(self._enqueue_all, self._on_node_update, self._enqueue_all)
        owned_pods = OwnedPodEvents("DaemonSet", self.queue, self.expectations)
        pod_informer.add_handler(owned_pods.on_add, owned_pods.on_update, owned_pods.on_delete)

    def _on_ds_delete(self, ds: Obj) -> None:
        self.expectations.forget(key_of(ds))

    def _enqueue_all(self, _node: Obj) -> None:
        for ds in self.ds_lister.list():
            self.enqueue(ds)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        def fields(n: Obj) -> tuple[Any, ...]:
            spec = n.get("spec") or {}
            return (meta(n).get("labels"), spec.get("taints"), spec.get("unschedulable"))

        if fields(old) != fields(new):
            self._enqueue_all(new)

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        cached = self.ds_lister.get(key)
        if cached is None:
            self.expectations.forget(key)
            return None
        ds: Obj = deep(cached)
        ns, _ = split_key(key)
        spec = ds.get("spec") or {}
        template = spec.get("template") or {}
        h = pod_template_hash(template)
        pods = [p for p in self.pod_lister.by_index("owner-uid", str(meta(ds).get("uid")))
                if (controller_ref(p) or {}).get("uid") == meta(ds).get("uid")]
        by_node: dict[str, list[Obj]] = {}
        for p in pods:
            node = pod_target_node(p)
            if node:
                by_node.setdefault(node, []).append(p)
        nodes = self.node_lister.list()
        should = {str(meta(n)["name"]) for n in nodes if should_run(template, n)}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.now()

        to_create: list[str] = []
        to_delete: list[Obj] = []
        for node in sorted(should):
            node_pods = by_node.get(node, [])
            live = [p for p in node_pods if not is_deleting(p)]
            failed = [p for p in live if (p.get("status") or {}).get("phase") == "Failed"]
            healthy = [p for p in live if p not in failed]
            to_delete += failed
            if not healthy:
                if not failed and len(live) == len(node_pods):  # nothing still terminating there
                    to_create.append(node)
                continue
            healthy.sort(key=lambda p: epoch(meta(p).get("creationTimestamp")) or 0.0)
            to_delete += healthy[1:]  # one daemon per node: keep the oldest
        for node, node_pods in by_node.items():
            if node not in should:
                to_delete += [p for p in node_pods if not is_deleting(p)]

        if not is_deleting(ds) and self.expectations.satisfied(key):
            if not to_create and not to_delete:
                to_delete += self._rolling_update_victims(ds, should, by_node, h, min_ready, now)
            await self._apply(key, ds, template, h, to_create, to_delete)
        await self._update_status(ds, should, by_node, h, min_ready, now)
        return float(min_ready) if min_ready else None

    def _rolling_update_victims(self, ds: Obj, should: set[str], by_node: dict[str, list[Obj]], h: str,
                                min_ready: int, now: float) -> list[Obj]:
        strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
        if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
            return []
        max_unavailable = resolve_int_or_percent(
            (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1), len(should), True) or 1
        unavailable = 0
        old_available: list[Obj] = []
        old_unavailable: list[Obj] = []
        for node in sorted(should):
            live = [p for p in by_node.get(node, []) if not is_deleting(p)]
            if not live or any(is_deleting(p) for p in by_node.get(node, [])):
                unavailable += 1
                continue
            pod = live[0]
            available = is_pod_available(pod, min_ready, now)
            if not available:
                unavailable += 1
            if (meta(pod).get("labels") or {}).get(REVISION_HASH) != h:
                (old_available if available else old_unavailable).append(pod)
        budget = max(0, max_unavailable - unavailable)
        return old_unavailable + old_available[:budget]

    async def _apply(self, key: str, ds: Obj, template: Mapping[str, Any], h: str, to_create: list[str],
                     to_delete: list[Obj]) -> None:
        self.expectations.expect_creations(key, len(to_create))
        errors: list[Exception] = []
        for node in to_create:
            pod = daemon_pod(ds, template, node, h)
            try:
                created = await self.client.create(PODS, pod, meta(ds).get("namespace"))
            except ApiError as e:
                self.expectations.creation_failed(key)
                self.recorder.event(ds, "Warning", FAILED_CREATE, f"Error creating: {e}")
                errors.append(e)
                continue
            self.recorder.event(ds, "Normal", SUCCESSFUL_CREATE, f"Created pod: {meta(created).get('name')}")
        for pod in to_delete:
            try:
                await self.client.delete(PODS, meta(pod)["name"], meta(pod).get("namespace"))
            except ApiError as e:
                if not is_not_found(e):
                    errors.append(e)
                continue
            self.recorder.event(ds, "Normal", SUCCESSFUL_DELETE, f"Deleted pod: {meta(pod)['name']}")
        if errors:
            raise errors[0]

    async def _update_status(self, ds: Obj, should: set[str], by_node: dict[str, list[Obj]], h: str,
                             min_ready: int, now: float) -> None:
        current = ready = available = updated = misscheduled = 0
        for node, node_pods in by_node.items():
            live = [p for p in node_pods if not is_deleting(p)]
            if not live:
                continue
            if node not in should:
                misscheduled += 1
                continue
            current += 1
            pod = live[0]
            if is_pod_ready(pod):
                ready += 1
            if is_pod_available(pod, min_ready, now):
                available += 1
            if (meta(pod).get("labels") or {}).get(REVISION_HASH) == h:
                updated += 1
        status = dict(ds.get("status") or {})
        new = {
            "desiredNumberScheduled": len(should),
            "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "numberAvailable": available,
            "numberUnavailable": max(0, len(should) - available),
            "updatedNumberScheduled": updated,
            "observedGeneration": int(meta(ds).get("generation") or 0),
        }
        if all(status.get(k, 0) == v for k, v in new.items()):
            return
        status.update(new)
        ds["status"] = status
        try:
            await self.client.replace(DAEMONSETS, ds, meta(ds).get("namespace"), subresource="status")
        except ApiError as e:
            if not is_not_found(e):
                raise


# -- pure helpers -------------------------------------------------------------------------------


def daemon_tolerations(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = template.get("spec") or {}
    tols = list(spec.get("tolerations") or [])
    extra = list(DEFAULT_TOLERATIONS) + ([HOST_NETWORK_TOLERATION] if spec.get("hostNetwork") else [])
    for t in extra:
        if not any(x.get("key") == t["key"] and x.get("effect") == t["effect"] for x in tols):
            tols.append(dict(t))
    return tols


def should_run(template: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """Does this node get a daemon pod (selectors, affinity, taints vs tolerations)?"""
    spec = template.get("spec") or {}
    if not pod_fits_node_selectors(spec, node):
        return False
    return tolerates_all(daemon_tolerations(template), (node.get("spec") or {}).get("taints") or [])


def pod_target_node(pod: Mapping[str, Any]) -> str | None:
    """The node a daemon pod is for: its nodeName, or the node its affinity pins it to."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    terms = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for term in terms:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and len(f.get("values") or []) == 1:
                return str(f["values"][0])
    return None


def daemon_pod(ds: Mapping[str, Any], template: Mapping[str, Any], node: str, h: str) -> Obj:
    pod = pod_from_template(template, ds, DAEMONSETS, extra_labels={REVISION_HASH: h})
    spec = pod["spec"]
    spec["tolerations"] = daemon_tolerations(template)
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
    }
    return pod
