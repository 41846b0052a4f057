"""NodeResourcesFit: the pod's requests must fit in allocatable minus what the node's pods
(bound and assumed) already request; scores with the LeastAllocated strategy.

Filtering uses the real requests; scoring uses the "non-zero" requests (100m / 200Mi for a
container that asks for nothing), as kube-scheduler does.
"""

from __future__ import annotations

from kubelite.scheduler.framework import MAX_NODE_SCORE, CycleState, Status, unschedulable
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeResourcesFit"
ERR_REASON_TOO_MANY_PODS = "Too many pods"
ERR_REASON_INSUFFICIENT = "Insufficient {}"

#: LeastAllocated weights (kube-scheduler's default: cpu 1, memory 1)
CPU_WEIGHT = 1
MEMORY_WEIGHT = 1


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def insufficient(pod: PodInfo, node: NodeInfo) -> list[str]:
    """Every reason the pod does not fit, in kube-scheduler's order (pods, cpu, memory,
    ephemeral-storage, extended resources)."""
    reasons: list[str] = []
    if len(node.pods) + 1 > node.alloc_pods:
        reasons.append(ERR_REASON_TOO_MANY_PODS)
    if pod.cpu and pod.cpu > node.alloc_cpu - node.req_cpu:
        reasons.append("Insufficient cpu")
    if pod.memory and pod.memory > node.alloc_memory - node.req_memory:
        reasons.append("Insufficient memory")
    if pod.ephemeral and pod.ephemeral > node.alloc_ephemeral - node.req_ephemeral:
        reasons.append("Insufficient ephemeral-storage")
    for rname, want in pod.scalars.items():
        if want > node.alloc_scalars.get(rname, 0) - node.req_scalars.get(rname, 0):
            reasons.append(ERR_REASON_INSUFFICIENT.format(rname))
    return reasons


class NodeResourcesFit:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        # The common case inline: fits on every count.
        if (
            len(node.pods) < node.alloc_pods
            and pod.cpu <= node.alloc_cpu - node.req_cpu
            and pod.memory <= node.alloc_memory - node.req_memory
            and pod.ephemeral <= node.alloc_ephemeral - node.req_ephemeral
            and not pod.scalars
        ):
            return None
        reasons = insufficient(pod, node)
        return unschedulable(*reasons) if reasons else None

    def filter_nodes(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], statuses: dict[str, Status]
    ) -> list[NodeInfo]:
        """filter() over many nodes: the common "fits on every count" test inline."""
        cpu, mem, eph = pod.cpu, pod.memory, pod.ephemeral
        if pod.scalars:
            keep = []
        else:
            keep = [
                n for n in nodes
                if len(n.pods) < n.alloc_pods and cpu <= n.alloc_cpu - n.req_cpu
                and mem <= n.alloc_memory - n.req_memory and eph <= n.alloc_ephemeral - n.req_ephemeral
            ]
            if len(keep) == len(nodes):
                return keep
        fast = {id(n) for n in keep}
        out = []
        for n in nodes:
            if id(n) in fast:
                out.append(n)
                continue
            reasons = insufficient(pod, n)
            if reasons:
                statuses[n.name] = unschedulable(*reasons)
            else:
                out.append(n)
        return out

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score_key(pod, node)

    def score_key(self, pod: PodInfo, node: NodeInfo) -> int:
        """The score itself: it depends on the pod's requests and the node alone."""
        cpu = least_requested_score(node.nz_cpu + pod.nz_cpu, node.alloc_cpu)
        mem = least_requested_score(node.nz_memory + pod.nz_memory, node.alloc_memory)
        return (cpu * CPU_WEIGHT + mem * MEMORY_WEIGHT) // (CPU_WEIGHT + MEMORY_WEIGHT)
