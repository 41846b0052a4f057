"""The in-tree plugins, one per module, and the default profile (kube-scheduler's order and
score weights)."""

from __future__ import annotations

from kubelite.scheduler.plugins.balanced_allocation import BalancedAllocation
from kubelite.scheduler.plugins.node_affinity import NodeAffinity
from kubelite.scheduler.plugins.node_name import NodeName
from kubelite.scheduler.plugins.node_ports import NodePorts
from kubelite.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kubelite.scheduler.plugins.node_unschedulable import NodeUnschedulable
from kubelite.scheduler.plugins.pod_topology_spread import PodTopologySpread
from kubelite.scheduler.plugins.taint_toleration import TaintToleration

__all__ = [
    "BalancedAllocation",
    "NodeAffinity",
    "NodeName",
    "NodePorts",
    "NodeResourcesFit",
    "NodeUnschedulable",
    "PodTopologySpread",
    "TaintToleration",
]
