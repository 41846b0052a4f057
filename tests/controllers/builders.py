"""Tiny builders for controller tests: objects as the API server would hold them."""

from __future__ import annotations

import uuid
from typing import Any

from kubelite.controllers.util import rfc3339


def template(app: str = "web", image: str = "nginx:1") -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "c", "image": image}], "restartPolicy": "Always"}}


def replicaset(name: str = "rs", replicas: int = 3, app: str = "web", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4()), **extra},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}}, "template": template(app)}}


def deployment(name: str = "web", replicas: int = 3, image: str = "nginx:1", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4()), "generation": 1},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": template(name, image), **spec}}


def owner_ref(owner: dict[str, Any], controller: bool = True) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": True}


def pod(name: str, labels: dict[str, str] | None = None, *, owner: dict[str, Any] | None = None,
        node: str | None = None, phase: str = "Pending", ready: bool = False, ip: str | None = None,
        created: float | None = None, ready_since: float | None = None, ports: list[dict[str, Any]] | None = None,
        tolerations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default", "labels": labels or {"app": "web"},
                            "uid": str(uuid.uuid4())}
    if owner is not None:
        meta["ownerReferences"] = [owner_ref(owner)]
    if created is not None:
        meta["creationTimestamp"] = rfc3339(created)
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx:1", **({"ports": ports} if ports else {})}]}
    if node:
        spec["nodeName"] = node
    if tolerations is not None:
        spec["tolerations"] = tolerations
    status: dict[str, Any] = {"phase": phase,
                              "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                              "lastTransitionTime": rfc3339(ready_since or 0)}]}
    if ip:
        status["podIP"] = ip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def node(name: str, *, ready: str = "True", labels: dict[str, str] | None = None,
         taints: list[dict[str, Any]] | None = None, unschedulable: bool = False,
         heartbeat: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})},
                         "uid": str(uuid.uuid4())},
            "spec": spec,
            "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady",
                                       "lastHeartbeatTime": heartbeat, "lastTransitionTime": heartbeat}]}}


def lease(node_name: str, renew: str) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": node_name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": node_name, "leaseDurationSeconds": 40, "renewTime": renew}}
