"""NodePorts: two pods cannot bind the same hostPort/protocol on one node (0.0.0.0 clashes
with every address)."""

from __future__ import annotations

from collections.abc import Sequence

from kubelite.scheduler.framework import SKIP, CycleState, Status, unschedulable
from kubelite.scheduler.nodeinfo import HostPort, NodeInfo, PodInfo

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"

_REJECT = unschedulable(ERR_REASON)
_ANY = "0.0.0.0"


def conflicts(used: Sequence[HostPort] | dict[HostPort, int], wanted: HostPort) -> bool:
    ip, proto, port = wanted
    if ip == _ANY:
        return any(u_proto == proto and u_port == port for (_, u_proto, u_port) in used)
    return (ip, proto, port) in used or (_ANY, proto, port) in used


class NodePorts:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        return None if pod.host_ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.ports:
            return None
        for wanted in pod.host_ports:
            if conflicts(node.ports, wanted):
                return _REJECT
        return None
