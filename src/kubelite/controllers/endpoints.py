"""Endpoints and EndpointSlice controller: which pod addresses back each Service.

For a Service with a selector, every pod that matches it, has an IP and is not terminating or
finished becomes an address: "ready" when its Ready condition is True, "notReady" otherwise.
A named targetPort is resolved per pod from its containers' ports, so pods may disagree on the
number; pods are grouped by their resolved port list into subsets (Endpoints) and slices
(EndpointSlices), which is the shape Kubernetes writes. Services without a selector are left
alone: their Endpoints belong to the user.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kubelite.api.resources import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES
from kubelite.client.informer import InformerFactory
from kubelite.client.lister import NAMESPACE_INDEX
from kubelite.client.rest import ApiError, is_already_exists, is_not_found
from kubelite.controllers.base import Controller, NullRecorder, Recorder
from kubelite.controllers.util import (
    Obj,
    deep,
    is_deleting,
    is_pod_ready,
    is_pod_terminal,
    key_of,
    labels_of,
    meta,
    new_controller_ref,
    selector_of,
    split_key,
)

log = logging.getLogger("kubelite.controllers.endpoints")

# Event reasons
FAILED_TO_UPDATE = "FailedToUpdateEndpoint"

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"

Port = tuple[str, int, str]  # (name, port, protocol)


class EndpointsController(Controller):
    """Writes an Endpoints object and EndpointSlices for every Service with a selector."""

    name = "endpoints"

    def __init__(self, client: Any, factory: InformerFactory, recorder: Recorder | None = None) -> None:
        super().__init__()
        self.client = client                            # ApiClient: all writes
        self.recorder = recorder or NullRecorder()
        svc_informer = factory.informer(SERVICES)
        pod_informer = factory.informer(PODS)
        ep_informer = factory.informer(ENDPOINTS)
        slice_informer = factory.informer(ENDPOINTSLICES)
        self.svc_lister = svc_informer.store            # services (the desired state)
        self.pod_lister = pod_informer.store            # pods (the addresses)
        self.ep_lister = ep_informer.store              # what we wrote: Endpoints
        self.slice_lister = slice_informer.store        # what we wrote: EndpointSlices
        self.slice_lister.add_index("service", _slice_service_key)
        svc_informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self.enqueue)
        pod_informer.add_handler(self._on_pod, self._on_pod_update, self._on_pod)
        ep_informer.add_handler(None, None, self._on_owned_delete)
        slice_informer.add_handler(None, None, self._on_slice_delete)

    # -- handlers ------------------------------------------------------------------------------

    def _services_for(self, pod: Mapping[str, Any]) -> list[str]:
        keys = []
        for svc in self.svc_lister.list(meta(pod).get("namespace")):
            sel = selector_of(svc, plain_map=True)
            if sel is not None and sel.matches(labels_of(pod)):
                keys.append(key_of(svc))
        return keys

    def _on_pod(self, pod: Obj) -> None:
        for k in self._services_for(pod):
            self.queue.add(k)

    def _namespace_has_services(self, pod: Mapping[str, Any]) -> bool:
        ns = meta(pod).get("namespace")
        return not ns or bool(self.svc_lister.index_keys(NAMESPACE_INDEX, str(ns)))

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        """Services are looked up only when the pod changed in what an address is made of (as the
        endpointslice controller's podEndpointsChanged): most pod updates are status writes that
        change none of it, and each lookup matches every Service of the namespace."""
        if not self._namespace_has_services(new):
            return  # nothing to look up (the pods of a namespace without Services)
        if labels_of(old) == labels_of(new):
            if _endpoint_view(old) != _endpoint_view(new):
                for k in self._services_for(new):
                    self.queue.add(k)
            return
        for k in set(self._services_for(old)) | set(self._services_for(new)):
            self.queue.add(k)

    def _on_owned_delete(self, obj: Obj) -> None:
        """Someone deleted what we maintain: write it again if the Service still wants it."""
        if self.svc_lister.get(key_of(obj)) is not None:
            self.enqueue(obj)

    def _on_slice_delete(self, obj: Obj) -> None:
        svc = labels_of(obj).get(SERVICE_NAME_LABEL)
        if svc:
            self.queue.add(f"{meta(obj).get('namespace')}/{svc}")

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        ns, name = split_key(key)
        cached = self.svc_lister.get(key)
        if cached is None:
            await self._delete_all(ns, name)
            return None
        svc: Obj = deep(cached)
        selector = selector_of(svc, plain_map=True)
        if selector is None:
            return None  # endpoints of a selector-less Service are the user's
        pods = [p for p in self.pod_lister.list(ns, selector) if _eligible(p)]
        groups = group_addresses(svc, pods)
        await self._write_endpoints(svc, groups)
        await self._write_slices(svc, groups)
        return None

    async def _delete_all(self, ns: str | None, name: str) -> None:
        targets: list[tuple[Any, str]] = []
        if self.ep_lister.get_by(ns, str(name)) is not None:
            targets.append((ENDPOINTS, name))
        for s in self.slice_lister.by_index("service", f"{ns}/{name}"):
            targets.append((ENDPOINTSLICES, meta(s)["name"]))
        for res, n in targets:
            try:
                await self.client.delete(res, n, ns)
            except ApiError as e:
                if not is_not_found(e):
                    raise

    async def _write_endpoints(self, svc: Obj, groups: list[tuple[list[Port], list[Obj]]]) -> None:
        ns, name = meta(svc).get("namespace"), str(meta(svc).get("name"))
        want = build_endpoints(svc, groups)
        current = self.ep_lister.get_by(ns, name)
        if current is None:
            try:
                await self.client.create(ENDPOINTS, want, ns)
            except ApiError as e:
                if not is_already_exists(e):
                    raise
                current = await self.client.get(ENDPOINTS, name, ns)
            else:
                return
        assert current is not None
        if current.get("subsets") == want.get("subsets") and labels_of(current) == labels_of(want):
            return
        updated = deep(current)
        updated["subsets"] = want.get("subsets")
        updated["metadata"]["labels"] = labels_of(want)
        if not updated["subsets"]:
            updated.pop("subsets")
        await self.client.replace(ENDPOINTS, updated, ns)

    async def _write_slices(self, svc: Obj, groups: list[tuple[list[Port], list[Obj]]]) -> None:
        ns = meta(svc).get("namespace")
        existing = sorted(self.slice_lister.by_index("service", key_of(svc)), key=lambda s: meta(s)["name"])
        existing = [s for s in existing if labels_of(s).get(MANAGED_BY_LABEL) == MANAGED_BY]
        wanted = [build_slice(svc, ports, pods) for ports, pods in groups] or [build_slice(svc, [], [])]
        # Reuse slices whose port list matches; then any leftover; create the rest; delete the extra.
        unused = list(existing)
        plan: list[tuple[Obj | None, Obj]] = []
        for w in wanted:
            match = next((s for s in unused if (s.get("ports") or []) == (w.get("ports") or [])), None)
            if match is not None:
                unused.remove(match)
            plan.append((match, w))
        for i, (cur, w) in enumerate(plan):
            if cur is None and unused:
                plan[i] = (unused.pop(0), w)
        for cur, w in plan:
            if cur is None:
                await self.client.create(ENDPOINTSLICES, w, ns)
                continue
            if all(cur.get(k) == w.get(k) for k in ("endpoints", "ports", "addressType")) and \
                    labels_of(cur) == labels_of(w):
                continue
            updated = deep(cur)
            for k in ("endpoints", "ports", "addressType"):
                updated[k] = w.get(k)
            updated["metadata"]["labels"] = labels_of(w)
            await self.client.replace(ENDPOINTSLICES, updated, ns)
        for s in unused:
            try:
                await self.client.delete(ENDPOINTSLICES, meta(s)["name"], ns)
            except ApiError as e:
                if not is_not_found(e):
                    raise


# -- pure helpers -------------------------------------------------------------------------------


def _slice_service_key(obj: dict[str, Any]) -> list[str]:
    svc = labels_of(obj).get(SERVICE_NAME_LABEL)
    return [f"{meta(obj).get('namespace')}/{svc}"] if svc else []


def _endpoint_view(pod: Mapping[str, Any]) -> tuple[Any, ...]:
    """Everything of a pod (labels aside) that its addresses in Endpoints and EndpointSlices are made of."""
    status, spec = pod.get("status") or {}, pod.get("spec") or {}
    return (status.get("podIP"), spec.get("nodeName"), is_deleting(pod), is_pod_terminal(pod), is_pod_ready(pod),
            spec.get("containers"))


def _eligible(pod: Mapping[str, Any]) -> bool:
    """Pods that may back a Service: scheduled, with an IP, not terminating, not finished."""
    return bool((pod.get("status") or {}).get("podIP")) and bool((pod.get("spec") or {}).get("nodeName")) \
        and not is_deleting(pod) and not is_pod_terminal(pod)


def resolve_ports(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Port] | None:
    """The Service's ports as this pod serves them; None when a named targetPort is missing."""
    out: list[Port] = []
    for sp in (svc.get("spec") or {}).get("ports") or []:
        proto = sp.get("protocol") or "TCP"
        target = sp.get("targetPort", sp.get("port"))
        if isinstance(target, str) and not target.isdigit():
            found = None
            for c in (pod.get("spec") or {}).get("containers") or []:
                for cp in c.get("ports") or []:
                    if cp.get("name") == target and (cp.get("protocol") or "TCP") == proto:
                        found = int(cp["containerPort"])
                        break
                if found is not None:
                    break
            if found is None:
                return None
            port = found
        else:
            port = int(target)
        out.append((str(sp.get("name") or ""), port, proto))
    return out


def group_addresses(svc: Mapping[str, Any], pods: list[Obj]) -> list[tuple[list[Port], list[Obj]]]:
    """Pods grouped by the port list they resolve to (insertion order: first pod seen)."""
    groups: dict[tuple[Port, ...], list[Obj]] = {}
    for pod in sorted(pods, key=lambda p: str((p.get("status") or {}).get("podIP"))):
        ports = resolve_ports(svc, pod)
        if ports is None:
            continue
        groups.setdefault(tuple(ports), []).append(pod)
    return [(list(k), v) for k, v in groups.items()]


def _target_ref(pod: Mapping[str, Any]) -> dict[str, Any]:
    m = meta(pod)
    return {"kind": "Pod", "namespace": m.get("namespace"), "name": m.get("name"), "uid": m.get("uid")}


def _address(pod: Mapping[str, Any]) -> dict[str, Any]:
    addr: dict[str, Any] = {"ip": (pod.get("status") or {}).get("podIP"), "targetRef": _target_ref(pod)}
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        addr["nodeName"] = node
    return addr


def _service_labels(svc: Mapping[str, Any]) -> dict[str, str]:
    labels = dict(labels_of(svc))
    if (svc.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    return labels


def build_endpoints(svc: Mapping[str, Any], groups: list[tuple[list[Port], list[Obj]]]) -> Obj:
    subsets = []
    for ports, pods in groups:
        subset: dict[str, Any] = {}
        ready = [_address(p) for p in pods if is_pod_ready(p)]
        not_ready = [_address(p) for p in pods if not is_pod_ready(p)]
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if ports:
            subset["ports"] = [{"name": n, "port": p, "protocol": proto} if n else {"port": p, "protocol": proto}
                               for n, p, proto in ports]
        subsets.append(subset)
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": meta(svc).get("name"), "namespace": meta(svc).get("namespace"),
                     "labels": _service_labels(svc)},
    }
    if subsets:
        obj["subsets"] = subsets
    return obj


def build_slice(svc: Mapping[str, Any], ports: list[Port], pods: list[Obj]) -> Obj:
    labels = _service_labels(svc)
    labels[SERVICE_NAME_LABEL] = str(meta(svc).get("name"))
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    endpoints = []
    for p in pods:
        ready = is_pod_ready(p)
        ep: dict[str, Any] = {
            "addresses": [(p.get("status") or {}).get("podIP")],
            "conditions": {"ready": ready, "serving": ready, "terminating": False},
            "targetRef": _target_ref(p),
        }
        node = (p.get("spec") or {}).get("nodeName")
        if node:
            ep["nodeName"] = node
        endpoints.append(ep)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": f"{meta(svc).get('name')}-",
            "namespace": meta(svc).get("namespace"),
            "labels": labels,
            "ownerReferences": [new_controller_ref(svc, SERVICES)],
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports],
    }
