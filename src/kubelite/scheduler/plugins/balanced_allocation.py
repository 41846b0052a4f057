"""NodeResourcesBalancedAllocation: prefer nodes where cpu and memory would be used in equal
fractions (score = (1 - std deviation of the fractions) * 100)."""

from __future__ import annotations

from kubelite.scheduler.framework import MAX_NODE_SCORE, CycleState
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeResourcesBalancedAllocation"


def balanced_score(cpu_req: int, cpu_alloc: int, mem_req: int, mem_alloc: int) -> int:
    fractions = []
    if cpu_alloc:
        fractions.append(min(cpu_req / cpu_alloc, 1.0))
    if mem_alloc:
        fractions.append(min(mem_req / mem_alloc, 1.0))
    std = abs(fractions[0] - fractions[1]) / 2 if len(fractions) == 2 else 0.0
    return int((1 - std) * MAX_NODE_SCORE)


class BalancedAllocation:
    name = NAME

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score_key(pod, node)

    def score_key(self, pod: PodInfo, node: NodeInfo) -> int:
        """The score itself: it depends on the pod's requests and the node alone."""
        return balanced_score(
            node.nz_cpu + pod.nz_cpu, node.alloc_cpu, node.nz_memory + pod.nz_memory, node.alloc_memory
        )
