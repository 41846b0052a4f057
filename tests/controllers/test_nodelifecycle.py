"""Node lifecycle: silent nodes go Unknown, get tainted, and their pods are evicted per toleration."""

from __future__ import annotations

import math

from kubelite.api.resources import LEASES, NODES, PODS
from kubelite.controllers.nodelifecycle import NodeLifecycleController, toleration_seconds

from .builders import lease, node, pod

UNREACHABLE = "node.kubernetes.io/unreachable"


async def test_a_silent_node_goes_unknown_is_tainted_and_its_pods_are_evicted_in_toleration_order(harness):
    clock = [1000.0]
    harness.client.add(NODES, node("n1"))
    harness.client.add(LEASES, lease("n1", "2024-01-01T00:00:00.000000Z"))
    harness.client.add(PODS,
                       pod("default-tol", node="n1", phase="Running", ready=True, ip="10.42.0.2"),
                       pod("short-tol", node="n1", phase="Running", ready=True, ip="10.42.0.3",
                           tolerations=[{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
                                         "tolerationSeconds": 10}]),
                       pod("daemon", node="n1", phase="Running", ready=True, ip="10.42.0.4",
                           tolerations=[{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}]))
    ctrl = await harness.start(lambda c, f: NodeLifecycleController(
        c, f, grace_period=40, default_toleration_seconds=60, now=lambda: clock[0]))

    after = await ctrl.reconcile("n1")
    assert harness.writes() == [] and after is not None and after <= 41

    clock[0] = 1041.0
    await ctrl.reconcile("n1")
    n1 = harness.client.object(NODES, "n1")
    ready = next(c for c in n1["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == \
        ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert sorted((t["key"], t["effect"]) for t in n1["spec"]["taints"]) == \
        [(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")]
    for p in harness.client.objects(PODS):
        assert next(c for c in p["status"]["conditions"] if c["type"] == "Ready")["status"] == "False"

    await harness.settle()
    clock[0] = 1052.0
    await ctrl.reconcile("n1")
    assert sorted(p["metadata"]["name"] for p in harness.client.objects(PODS)) == ["daemon", "default-tol"]

    await harness.settle()
    clock[0] = 1102.0
    await ctrl.reconcile("n1")
    assert [p["metadata"]["name"] for p in harness.client.objects(PODS)] == ["daemon"]


async def test_a_node_that_comes_back_loses_its_taints(harness):
    clock = [1000.0]
    sick = node("n1", ready="Unknown", taints=[{"key": UNREACHABLE, "effect": "NoSchedule"},
                                               {"key": UNREACHABLE, "effect": "NoExecute"},
                                               {"key": "user", "value": "x", "effect": "NoSchedule"}])
    harness.client.add(NODES, sick)
    ctrl = await harness.start(lambda c, f: NodeLifecycleController(c, f, now=lambda: clock[0]))
    await ctrl.reconcile("n1")
    # The kubelet posts Ready again.
    healthy = harness.client.object(NODES, "n1")
    healthy["status"]["conditions"][0].update(status="True", lastHeartbeatTime="2024-01-01T00:01:00Z")
    await harness.client.replace(NODES, healthy, subresource="status")
    await harness.settle()

    await ctrl.reconcile("n1")

    assert harness.client.object(NODES, "n1")["spec"]["taints"] == [{"key": "user", "value": "x",
                                                                     "effect": "NoSchedule"}]


def test_toleration_seconds_use_the_pod_tolerations_else_the_default():
    taint = {"key": UNREACHABLE, "effect": "NoExecute"}
    assert toleration_seconds(pod("p"), [taint], 300) == 300
    assert toleration_seconds(pod("p", tolerations=[{"operator": "Exists"}]), [taint], 300) == math.inf
    assert toleration_seconds(pod("p", tolerations=[{"key": UNREACHABLE, "operator": "Exists",
                                                     "tolerationSeconds": 5}]), [taint], 300) == 5
    assert toleration_seconds(pod("p"), [{"key": "dedicated", "effect": "NoExecute"}], 300) == 0


async def test_only_kube_node_lease_leases_are_heartbeats_and_the_lease_watch_is_shared(harness):
    """A Lease named like a node in another namespace does not keep the node alive; the controller
    shares the garbage collector's watch of every namespace's Leases (one decode per renewal)."""
    from kubelite.controllers.garbagecollector import GarbageCollector

    clock = [1000.0]
    harness.client.add(NODES, node("n1"))
    impostor = lease("n1", "2024-01-01T00:00:00.000000Z")
    impostor["metadata"]["namespace"] = "default"
    harness.client.add(LEASES, impostor)
    parts: list[object] = []

    def both(c, f):
        parts.append(GarbageCollector(c, f))
        return NodeLifecycleController(c, f, grace_period=40, now=lambda: clock[0])

    ctrl = await harness.start(both)
    lease_informers = [i for i in harness.factories[0].informers if i.res is LEASES]
    assert len(lease_informers) == 1 and lease_informers[0].namespace is None

    await ctrl.reconcile("n1")
    renewed = harness.client.object(LEASES, "n1", "default")
    renewed["spec"]["renewTime"] = "2024-01-01T00:00:30.000000Z"
    await harness.client.replace(LEASES, renewed, "default")
    await harness.settle()
    clock[0] = 1041.0
    await ctrl.reconcile("n1")
    ready = next(c for c in harness.client.object(NODES, "n1")["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "Unknown"
