"""NodeUnschedulable: keep pods off cordoned nodes (spec.unschedulable) unless they tolerate
the node.kubernetes.io/unschedulable:NoSchedule taint."""

from __future__ import annotations

from kubelite.scheduler.framework import CycleState, Status, unresolvable
from kubelite.scheduler.nodeinfo import TAINT_UNSCHEDULABLE, NodeInfo, PodInfo, tolerates

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"

_CORDON_TAINT = (TAINT_UNSCHEDULABLE, "", "NoSchedule")
_REJECT = unresolvable(ERR_REASON_UNSCHEDULABLE)


class NodeUnschedulable:
    name = NAME

    def filter_nodes(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], statuses: dict[str, Status]
    ) -> list[NodeInfo]:
        if tolerates(pod.tolerations, _CORDON_TAINT):
            return nodes
        keep = []
        for n in nodes:
            if n.unschedulable:
                statuses[n.name] = _REJECT
            else:
                keep.append(n)
        return keep

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable or tolerates(pod.tolerations, _CORDON_TAINT):
            return None
        return _REJECT
