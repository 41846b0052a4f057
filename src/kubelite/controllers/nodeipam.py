"""Node IPAM: give every node a /24 podCIDR out of the cluster CIDR (10.42.0.0/16).

The allocation table is rebuilt from the nodes' own spec.podCIDR before the first key is
processed, so a restarted controller never hands out a range twice. spec.podCIDR is immutable
once set, so a node keeps its range for life; a deleted node's range becomes free again.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from kubelite.api.resources import NODES
from kubelite.client.informer import InformerFactory
from kubelite.client.rest import ApiError, is_not_found
from kubelite.controllers.base import Controller, NullRecorder, Recorder
from kubelite.controllers.util import Obj, meta

log = logging.getLogger("kubelite.controllers.nodeipam")

# Event reasons
CIDR_NOT_AVAILABLE = "CIDRNotAvailable"
CIDR_ASSIGNMENT_FAILED = "CIDRAssignmentFailed"

CLUSTER_CIDR = "10.42.0.0/16"
NODE_MASK = 24


class CidrSet:
    """The /24s of a cluster CIDR, which are taken, and the next one to try (round robin)."""

    def __init__(self, cluster_cidr: str = CLUSTER_CIDR, mask: int = NODE_MASK) -> None:
        self.network = ipaddress.ip_network(cluster_cidr)
        self.subnets = list(self.network.subnets(new_prefix=mask))
        self.used: set[str] = set()
        self._next = 0

    def occupy(self, cidr: str) -> None:
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            return
        if net.subnet_of(self.network):  # type: ignore[arg-type]
            self.used.add(str(net))

    def release(self, cidr: str) -> None:
        self.used.discard(cidr)

    def allocate(self) -> str | None:
        for i in range(len(self.subnets)):
            candidate = str(self.subnets[(self._next + i) % len(self.subnets)])
            if candidate not in self.used:
                self.used.add(candidate)
                self._next = (self._next + i + 1) % len(self.subnets)
                return candidate
        return None


class NodeIpamController(Controller):
    """Assigns spec.podCIDR / spec.podCIDRs to nodes that have none."""

    name = "nodeipam"

    def __init__(self, client: Any, factory: InformerFactory, recorder: Recorder | None = None, *,
                 cluster_cidr: str = CLUSTER_CIDR) -> None:
        super().__init__()
        self.client = client                      # ApiClient: node patches
        self.recorder = recorder or NullRecorder()
        self.cidrs = CidrSet(cluster_cidr)        # the allocation table (this controller's only state)
        informer = factory.informer(NODES)
        self.node_lister = informer.store         # nodes
        informer.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self._on_delete)

    def _on_delete(self, node: Obj) -> None:
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr:
            self.cidrs.release(str(cidr))

    async def before_run(self) -> None:
        """Occupy every range already assigned before handing out new ones."""
        for node in self.node_lister.list():
            for cidr in _node_cidrs(node):
                self.cidrs.occupy(cidr)

    async def reconcile(self, key: str) -> float | None:
        node = self.node_lister.get(key)
        if node is None:
            return None
        existing = _node_cidrs(node)
        if existing:
            for cidr in existing:
                self.cidrs.occupy(cidr)
            return None
        # the cache may lag behind an assignment made before a restart (or by the node itself):
        # ask the server before handing out a range that would be refused as a change
        try:
            fresh = await self.client.get(NODES, key)
        except ApiError as e:
            if is_not_found(e):
                return None
            raise
        existing = _node_cidrs(fresh)
        if existing:
            for cidr in existing:
                self.cidrs.occupy(cidr)
            return None
        allocated = self.cidrs.allocate()
        if allocated is None:
            self.recorder.event(node, "Warning", CIDR_NOT_AVAILABLE,
                                f"Node {key} status is now: CIDRNotAvailable")
            return 30.0
        cidr = allocated
        try:
            await self.client.patch(NODES, key, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}},
                                    patch_type="merge")
        except ApiError as e:
            self.cidrs.release(cidr)
            if is_not_found(e):
                return None
            self.recorder.event(node, "Warning", CIDR_ASSIGNMENT_FAILED, f"Node {key}: {e}")
            raise
        log.info("node %s: podCIDR %s", meta(node).get("name"), cidr)
        return None


def _node_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    cidrs = list(spec.get("podCIDRs") or [])
    if spec.get("podCIDR") and spec["podCIDR"] not in cidrs:
        cidrs.append(spec["podCIDR"])
    return [str(c) for c in cidrs]
