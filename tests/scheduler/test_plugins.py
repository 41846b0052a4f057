"""Table-driven tests of each Filter/Score plugin: case names say the behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from kubelite.scheduler.framework import Code, CycleState, Status
from kubelite.scheduler.nodeinfo import NodeInfo, PodInfo
from kubelite.scheduler.plugins import (
    BalancedAllocation,
    NodeAffinity,
    NodeName,
    NodePorts,
    NodeResourcesFit,
    NodeUnschedulable,
    PodTopologySpread,
    TaintToleration,
)
from kubelite.scheduler.plugins.node_affinity import ERR_REASON_POD
from kubelite.scheduler.plugins.node_name import ERR_REASON as NODE_NAME_REASON
from kubelite.scheduler.plugins.node_ports import ERR_REASON as PORTS_REASON
from kubelite.scheduler.plugins.node_unschedulable import ERR_REASON_UNSCHEDULABLE
from scheduler.builders import (
    expr,
    make_node,
    make_pod,
    node_info,
    node_with_taints,
    pod_info,
    pod_with_tolerations,
    preferred_affinity,
    required_affinity,
    taint,
    toleration,
)


@dataclass
class Case:
    name: str
    pod: PodInfo
    node: NodeInfo
    want: Status | None


def run_filter(plugin: Any, pod: PodInfo, node: NodeInfo) -> Status | None:
    state = CycleState()
    pre = getattr(plugin, "pre_filter", None)
    if pre is not None:
        pre_st = pre(state, pod, [node])
        if pre_st is not None and pre_st.code == Code.SKIP:
            return None
    st: Status | None = plugin.filter(state, pod, node)
    return st


def ids(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]


UNRESOLVABLE = Code.UNSCHEDULABLE_AND_UNRESOLVABLE

TAINT_CASES = [
    Case("a node without taints accepts any pod", pod_with_tolerations(), node_with_taints(), None),
    Case("an untolerated NoSchedule taint rejects the pod, naming the taint",
         pod_with_tolerations(), node_with_taints(taint("node-role.kubernetes.io/control-plane")),
         Status(UNRESOLVABLE, "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }")),
    Case("an untolerated NoExecute taint rejects the pod",
         pod_with_tolerations(), node_with_taints(taint("dedicated", "db", "NoExecute")),
         Status(UNRESOLVABLE, "node(s) had untolerated taint {dedicated: db}")),
    Case("a PreferNoSchedule taint never rejects",
         pod_with_tolerations(), node_with_taints(taint("soft", "x", "PreferNoSchedule")), None),
    Case("an Equal toleration with the same key and value tolerates",
         pod_with_tolerations(toleration("dedicated", "Equal", "db", "NoSchedule")),
         node_with_taints(taint("dedicated", "db")), None),
    Case("an Equal toleration with another value does not tolerate",
         pod_with_tolerations(toleration("dedicated", "Equal", "web")),
         node_with_taints(taint("dedicated", "db")),
         Status(UNRESOLVABLE, "node(s) had untolerated taint {dedicated: db}")),
    Case("an Exists toleration tolerates any value of its key",
         pod_with_tolerations(toleration("dedicated", "Exists")), node_with_taints(taint("dedicated", "db")), None),
    Case("an Exists toleration without a key tolerates every taint",
         pod_with_tolerations(toleration(operator="Exists")),
         node_with_taints(taint("a"), taint("b", "x", "NoExecute")), None),
    Case("a toleration for another effect does not tolerate",
         pod_with_tolerations(toleration("dedicated", "Exists", effect="NoExecute")),
         node_with_taints(taint("dedicated", "db", "NoSchedule")),
         Status(UNRESOLVABLE, "node(s) had untolerated taint {dedicated: db}")),
    Case("a node whose Ready condition is False is rejected as not-ready",
         pod_info(), node_info(ready="False"),
         Status(UNRESOLVABLE, "node(s) had untolerated taint {node.kubernetes.io/not-ready: }")),
    Case("a node whose Ready condition is Unknown is rejected as unreachable",
         pod_info(), node_info(ready="Unknown"),
         Status(UNRESOLVABLE, "node(s) had untolerated taint {node.kubernetes.io/unreachable: }")),
    Case("a pod tolerating not-ready may go to a node that is not Ready",
         pod_with_tolerations(toleration("node.kubernetes.io/not-ready", "Exists", effect="NoSchedule")),
         node_info(ready="False"), None),
]


@pytest.mark.parametrize("case", TAINT_CASES, ids=ids(TAINT_CASES))
def test_taint_toleration_filter(case: Case) -> None:
    assert run_filter(TaintToleration(), case.pod, case.node) == case.want


UNSCHEDULABLE_CASES = [
    Case("a schedulable node accepts the pod", pod_info(), node_info(), None),
    Case("a cordoned node rejects the pod", pod_info(), node_info(unschedulable=True),
         Status(UNRESOLVABLE, ERR_REASON_UNSCHEDULABLE)),
    Case("a pod tolerating the unschedulable taint may go to a cordoned node",
         pod_with_tolerations(toleration("node.kubernetes.io/unschedulable", "Exists", effect="NoSchedule")),
         node_info(unschedulable=True), None),
]


@pytest.mark.parametrize("case", UNSCHEDULABLE_CASES, ids=ids(UNSCHEDULABLE_CASES))
def test_node_unschedulable_filter(case: Case) -> None:
    assert run_filter(NodeUnschedulable(), case.pod, case.node) == case.want


NODE_NAME_CASES = [
    Case("a pod without spec.nodeName fits any node", pod_info(), node_info(name="a"), None),
    Case("a pod naming this node fits it", pod_info(node_name="a"), node_info(name="a"), None),
    Case("a pod naming another node does not fit", pod_info(node_name="b"), node_info(name="a"),
         Status(UNRESOLVABLE, NODE_NAME_REASON)),
]


@pytest.mark.parametrize("case", NODE_NAME_CASES, ids=ids(NODE_NAME_CASES))
def test_node_name_filter(case: Case) -> None:
    assert run_filter(NodeName(), case.pod, case.node) == case.want


NO_MATCH = Status(UNRESOLVABLE, ERR_REASON_POD)
ZONE_A = {"zone": "a", "gpu": "4"}
AFFINITY_CASES = [
    Case("a pod without selector or affinity fits any node", pod_info(), node_info(labels=ZONE_A), None),
    Case("a nodeSelector that matches the labels fits", pod_info(node_selector={"zone": "a"}),
         node_info(labels=ZONE_A), None),
    Case("a nodeSelector with a different value does not fit", pod_info(node_selector={"zone": "b"}),
         node_info(labels=ZONE_A), NO_MATCH),
    Case("a nodeSelector on a missing label does not fit", pod_info(node_selector={"disk": "ssd"}),
         node_info(labels=ZONE_A), NO_MATCH),
    Case("In matches a listed value", pod_info(affinity=required_affinity(
        {"matchExpressions": [expr("zone", "In", "a", "b")]})), node_info(labels=ZONE_A), None),
    Case("NotIn rejects a listed value", pod_info(affinity=required_affinity(
        {"matchExpressions": [expr("zone", "NotIn", "a")]})), node_info(labels=ZONE_A), NO_MATCH),
    Case("NotIn accepts a node without the label", pod_info(affinity=required_affinity(
        {"matchExpressions": [expr("disk", "NotIn", "hdd")]})), node_info(labels=ZONE_A), None),
    Case("Exists needs the label", pod_info(affinity=required_affinity(
        {"matchExpressions": [expr("disk", "Exists")]})), node_info(labels=ZONE_A), NO_MATCH),
    Case("DoesNotExist accepts a node without the label", pod_info(affinity=required_affinity(
        {"matchExpressions": [expr("disk", "DoesNotExist")]})), node_info(labels=ZONE_A), None),
    Case("Gt compares as integers", pod_info(affinity=required_affinity(
        {"matchExpressions": [expr("gpu", "Gt", "3")]})), node_info(labels=ZONE_A), None),
    Case("Lt fails when the label is larger", pod_info(affinity=required_affinity(
        {"matchExpressions": [expr("gpu", "Lt", "3")]})), node_info(labels=ZONE_A), NO_MATCH),
    Case("Gt on a label that is not a number does not match", pod_info(affinity=required_affinity(
        {"matchExpressions": [expr("zone", "Gt", "1")]})), node_info(labels=ZONE_A), NO_MATCH),
    Case("terms are ORed: one matching term is enough", pod_info(affinity=required_affinity(
        {"matchExpressions": [expr("zone", "In", "z")]}, {"matchExpressions": [expr("gpu", "Exists")]})),
        node_info(labels=ZONE_A), None),
    Case("expressions in one term are ANDed", pod_info(affinity=required_affinity(
        {"matchExpressions": [expr("zone", "In", "a"), expr("disk", "Exists")]})),
        node_info(labels=ZONE_A), NO_MATCH),
    Case("matchFields metadata.name In selects the node by name", pod_info(affinity=required_affinity(
        {"matchFields": [expr("metadata.name", "In", "n7")]})), node_info(name="n7"), None),
    Case("matchFields metadata.name In rejects other nodes", pod_info(affinity=required_affinity(
        {"matchFields": [expr("metadata.name", "In", "n7")]})), node_info(name="n8"), NO_MATCH),
    Case("an empty term matches no node", pod_info(affinity=required_affinity({})),
         node_info(labels=ZONE_A), NO_MATCH),
    Case("nodeSelector and affinity must both hold", pod_info(
        node_selector={"zone": "b"},
        affinity=required_affinity({"matchExpressions": [expr("zone", "In", "a")]})),
        node_info(labels=ZONE_A), NO_MATCH),
]


@pytest.mark.parametrize("case", AFFINITY_CASES, ids=ids(AFFINITY_CASES))
def test_node_affinity_filter(case: Case) -> None:
    assert run_filter(NodeAffinity(), case.pod, case.node) == case.want


def node_running(*pods: PodInfo, **kw: Any) -> NodeInfo:
    n = node_info(**kw)
    for i, p in enumerate(pods):
        p.key = f"{p.key}-{i}"
        n.add_pod(p)
    return n


FIT_CASES = [
    Case("a pod that fits in what is left is accepted", pod_info(cpu="1", memory="1Gi"),
         node_running(pod_info(cpu="2"), cpu="4"), None),
    Case("a pod asking more cpu than is left is rejected with Insufficient cpu", pod_info(cpu="3"),
         node_running(pod_info(cpu="2"), cpu="4"), Status(Code.UNSCHEDULABLE, "Insufficient cpu")),
    Case("every missing resource is named", pod_info(cpu="5", memory="9Gi"), node_info(cpu="4", memory="8Gi"),
         Status(Code.UNSCHEDULABLE, "Insufficient cpu", "Insufficient memory")),
    Case("a full node says Too many pods", pod_info(), node_running(pod_info(), pod_info(), pods="2"),
         Status(Code.UNSCHEDULABLE, "Too many pods")),
    Case("a pod without requests fits an overcommitted node", pod_info(),
         node_running(pod_info(cpu="6"), cpu="4"), None),
    Case("the largest init container counts when it is bigger than the app containers",
         pod_info(cpu="1", init_cpu="3"), node_running(pod_info(cpu="2"), cpu="4"),
         Status(Code.UNSCHEDULABLE, "Insufficient cpu")),
    Case("pods assumed on the node count like bound ones", pod_info(memory="5Gi"),
         node_running(pod_info(memory="4Gi"), memory="8Gi"), Status(Code.UNSCHEDULABLE, "Insufficient memory")),
]


@pytest.mark.parametrize("case", FIT_CASES, ids=ids(FIT_CASES))
def test_node_resources_fit_filter(case: Case) -> None:
    assert run_filter(NodeResourcesFit(), case.pod, case.node) == case.want


def test_extended_resources_are_checked_against_allocatable() -> None:
    pod = make_pod()
    pod["spec"]["containers"][0]["resources"]["limits"] = {"example.com/gpu": "2"}
    node = node_info(extra={"example.com/gpu": "1"})
    assert run_filter(NodeResourcesFit(), PodInfo(pod), node) == Status(
        Code.UNSCHEDULABLE, "Insufficient example.com/gpu")


def test_overhead_adds_to_the_pod_requests() -> None:
    pod = make_pod(cpu="1")
    pod["spec"]["overhead"] = {"cpu": "250m"}
    assert PodInfo(pod).cpu == 1250


PORT_CASES = [
    Case("a pod without host ports fits", pod_info(), node_running(pod_info(host_ports=[80])), None),
    Case("a free host port fits", pod_info(host_ports=[81]), node_running(pod_info(host_ports=[80])), None),
    Case("a host port already used on the node does not fit", pod_info(host_ports=[80]),
         node_running(pod_info(host_ports=[80])), Status(Code.UNSCHEDULABLE, PORTS_REASON)),
]


@pytest.mark.parametrize("case", PORT_CASES, ids=ids(PORT_CASES))
def test_node_ports_filter(case: Case) -> None:
    assert run_filter(NodePorts(), case.pod, case.node) == case.want


def test_a_port_is_free_again_when_its_pod_leaves() -> None:
    node = node_running(pod_info(host_ports=[80]))
    node.remove_pod(next(iter(node.pods)))
    assert run_filter(NodePorts(), pod_info(host_ports=[80]), node) is None


# scores ------------------------------------------------------------------------------------
def scores(plugin: Any, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
    state = CycleState()
    pre = getattr(plugin, "pre_score", None)
    if pre is not None:
        st = pre(state, pod, nodes)
        if st is not None and st.code == Code.SKIP:
            return [0] * len(nodes)
    out = [plugin.score(state, pod, n) for n in nodes]
    norm = getattr(plugin, "normalize_score", None)
    if norm is not None:
        norm(state, pod, out)
    return out


def test_least_allocated_prefers_the_emptier_node() -> None:
    busy = node_running(pod_info(cpu="2", memory="4Gi"), cpu="4", memory="8Gi")
    idle = node_info(cpu="4", memory="8Gi")
    got = scores(NodeResourcesFit(), pod_info(cpu="1", memory="1Gi"), [busy, idle])
    # (4000-3000)*100/4000 = 25, (8-5)*100/8 = 37 -> 31; idle: 75, 87 -> 81
    assert got == [31, 81]


def test_balanced_allocation_prefers_equal_cpu_and_memory_fractions() -> None:
    lopsided = node_running(pod_info(cpu="3", memory="1Gi"), cpu="4", memory="8Gi")
    even = node_running(pod_info(cpu="2", memory="4Gi"), cpu="4", memory="8Gi")
    got = scores(BalancedAllocation(), pod_info(cpu="100m", memory="200Mi"), [lopsided, even])
    assert got[1] > got[0]
    assert got[1] >= 99


def test_prefer_no_schedule_taints_lower_the_score() -> None:
    clean = node_with_taints(name="clean")
    soft = node_with_taints(taint("soft", "", "PreferNoSchedule"), name="soft")
    assert scores(TaintToleration(), pod_info(), [clean, soft]) == [100, 0]
    tolerant = pod_with_tolerations(toleration("soft", "Exists"))
    assert scores(TaintToleration(), tolerant, [clean, soft]) == [100, 100]


def test_preferred_node_affinity_weights_are_normalized() -> None:
    pod = pod_info(affinity=preferred_affinity(
        (80, {"matchExpressions": [expr("disk", "In", "ssd")]}),
        (20, {"matchExpressions": [expr("zone", "In", "a")]})))
    ssd = node_info(name="ssd", labels={"disk": "ssd"})
    zone = node_info(name="zone", labels={"zone": "a"})
    plain = node_info(name="plain")
    assert scores(NodeAffinity(), pod, [ssd, zone, plain]) == [100, 25, 0]


def test_spreading_prefers_nodes_with_fewer_pods_of_the_same_owner() -> None:
    crowded = node_running(pod_info(owner="rs1"), pod_info(owner="rs1"), name="crowded")
    other_owner = node_running(pod_info(owner="rs2"), pod_info(owner="rs2"), name="other")
    empty = node_info(name="empty")
    got = scores(PodTopologySpread(), pod_info(owner="rs1"), [crowded, other_owner, empty])
    assert got[1] == got[2] == 100
    assert got[0] < 100


def test_spreading_is_skipped_for_pods_without_a_controller() -> None:
    crowded = node_running(pod_info(owner="rs1"), name="crowded")
    assert scores(PodTopologySpread(), pod_info(), [crowded, node_info(name="e")]) == [0, 0]


def test_node_info_parses_allocatable_and_keeps_running_totals() -> None:
    n = NodeInfo(make_node(cpu="2", memory="1Gi", pods="3"))
    assert (n.alloc_cpu, n.alloc_memory, n.alloc_pods) == (2000, 1 << 30, 3)
    p = pod_info(cpu="500m", memory="100Mi")
    n.add_pod(p)
    assert (n.req_cpu, n.req_memory) == (500, 100 << 20)
    n.remove_pod(p.key)
    assert (n.req_cpu, n.req_memory, len(n.pods)) == (0, 0, 0)


@pytest.mark.parametrize(("cpu", "memory", "init_cpu", "want"), [
    ("250m", "64Mi", None, (250, 64 << 20, 250, 64 << 20)),  # asks both: scored as asked
    ("250m", None, None, (250, 0, 250, 200 << 20)),  # no memory: scored as 200Mi
    (None, None, None, (0, 0, 100, 200 << 20)),  # nothing: scored as 100m / 200Mi
    ("250m", "64Mi", "1", (1000, 64 << 20, 1000, 200 << 20)),  # the init container asks no memory
])
def test_scoring_counts_default_requests_for_containers_that_ask_none(
    cpu: str | None, memory: str | None, init_cpu: str | None, want: tuple[int, int, int, int]
) -> None:
    p = pod_info(cpu=cpu, memory=memory, init_cpu=init_cpu)
    assert (p.cpu, p.memory, p.nz_cpu, p.nz_memory) == want
