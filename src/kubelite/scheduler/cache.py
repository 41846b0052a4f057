"""The scheduler's picture of the cluster: nodes, and the pods bound or assumed onto them.

Fed incrementally by informer events (a node added/changed/deleted, a pod bound/changed/
deleted) and by the scheduler itself: `assume` counts a decision at once, before the Binding
reaches the apiserver, so the next pod already sees the node's new totals; the informer's event
for the bound pod later confirms the assumption, and a failed bind `forget`s it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo


class Cache:
    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        #: node order for the round-robin search; rebuilt lazily after nodes come or go
        self._node_list: list[NodeInfo] | None = None
        #: pod key -> node name, for every pod counted in some NodeInfo or parked in _orphans
        self._pod_node: dict[str, str] = {}
        self._assumed: set[str] = set()
        #: pods bound to a node the cache does not know yet, counted when the node appears
        self._orphans: dict[str, dict[str, PodInfo]] = {}
        #: controller owner -> zone -> pods, for zone spreading
        self._zone_owner: dict[str, Counter[str]] = {}
        #: how many nodes have a zone label
        self._zoned_nodes = 0

    # nodes -------------------------------------------------------------------------------
    def add_node(self, node: Mapping[str, Any]) -> NodeInfo:
        name = (node.get("metadata") or {}).get("name") or ""
        info = self._nodes.get(name)
        if info is not None:
            self.update_node(node)
            return info
        info = NodeInfo(node)
        self._nodes[name] = info
        self._node_list = None
        if info.zone is not None:
            self._zoned_nodes += 1
        for p in self._orphans.pop(name, {}).values():
            self._count(info, p)
        return info

    def update_node(self, node: Mapping[str, Any]) -> NodeInfo:
        name = (node.get("metadata") or {}).get("name") or ""
        info = self._nodes.get(name)
        if info is None:
            return self.add_node(node)
        old_zone = info.zone
        if old_zone is not None:
            self._zone_update(info, -1)
            self._zoned_nodes -= 1
        info.set_node(node)
        if info.zone is not None:
            self._zone_update(info, +1)
            self._zoned_nodes += 1
        return info

    def remove_node(self, name: str) -> None:
        """Forget the node; its pods wait (as orphans) in case it comes back."""
        info = self._nodes.pop(name, None)
        if info is None:
            return
        self._node_list = None
        if info.zone is not None:
            self._zone_update(info, -1)
            self._zoned_nodes -= 1
        if info.pods:
            self._orphans[name] = dict(info.pods)

    def get_node(self, name: str) -> NodeInfo | None:
        return self._nodes.get(name)

    def node_list(self) -> list[NodeInfo]:
        if self._node_list is None:
            self._node_list = list(self._nodes.values())
        return self._node_list

    def num_nodes(self) -> int:
        return len(self._nodes)

    # pods --------------------------------------------------------------------------------
    def assume(self, pod: PodInfo, node_name: str) -> None:
        """Count the pod on the node now; the binding is still in flight."""
        self._place(pod, node_name)
        self._assumed.add(pod.key)

    def forget(self, key: str) -> None:
        """Undo an assumption (the bind failed)."""
        if key in self._assumed:
            self._assumed.discard(key)
            self._unplace(key)

    def confirm(self, key: str) -> None:
        """The apiserver shows the assumed pod bound where we assumed it."""
        self._assumed.discard(key)

    def is_assumed(self, key: str) -> bool:
        return key in self._assumed

    def add_pod(self, pod: PodInfo) -> None:
        """A pod the apiserver says is bound (spec.nodeName set): confirms an assumption."""
        self._assumed.discard(pod.key)
        self._place(pod, pod.node_name)

    update_pod = add_pod

    def remove_pod(self, key: str) -> None:
        self._assumed.discard(key)
        self._unplace(key)

    def node_of(self, key: str) -> str | None:
        return self._pod_node.get(key)

    def has_zones(self) -> bool:
        """Whether any node has a topology.kubernetes.io/zone label."""
        return self._zoned_nodes > 0

    def zone_counts(self, owner: str) -> Mapping[str, int]:
        return self._zone_owner.get(owner, {})

    # internals ---------------------------------------------------------------------------
    def _place(self, pod: PodInfo, node_name: str) -> None:
        if self._pod_node.get(pod.key) is not None:
            self._unplace(pod.key)
        self._pod_node[pod.key] = node_name
        info = self._nodes.get(node_name)
        if info is None:
            self._orphans.setdefault(node_name, {})[pod.key] = pod
        else:
            self._count(info, pod)

    def _unplace(self, key: str) -> None:
        node_name = self._pod_node.pop(key, None)
        if node_name is None:
            return
        info = self._nodes.get(node_name)
        if info is None:
            orphans = self._orphans.get(node_name)
            if orphans is not None:
                orphans.pop(key, None)
                if not orphans:
                    del self._orphans[node_name]
            return
        p = info.remove_pod(key)
        if p is not None and p.owner and info.zone is not None:
            self._zone_add(p.owner, info.zone, -1)

    def _count(self, info: NodeInfo, pod: PodInfo) -> None:
        info.add_pod(pod)
        if pod.owner and info.zone is not None:
            self._zone_add(pod.owner, info.zone, +1)

    def _zone_update(self, info: NodeInfo, sign: int) -> None:
        assert info.zone is not None
        for owner, n in info.owners.items():
            self._zone_add(owner, info.zone, sign * n)

    def _zone_add(self, owner: str, zone: str, n: int) -> None:
        counts = self._zone_owner.setdefault(owner, Counter())
        counts[zone] += n
        if counts[zone] <= 0:
            del counts[zone]
            if not counts:
                del self._zone_owner[owner]
