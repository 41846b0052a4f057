"""Which pod updates wake which controller: a pod's own status writes (several per pod start) must not
cost a node reconcile or a Service lookup when they change nothing those controllers read."""

from __future__ import annotations

from typing import Any

from kubelite.api.resources import NODES, PODS, REPLICASETS, SERVICES
from kubelite.controllers.endpoints import EndpointsController
from kubelite.controllers.garbagecollector import GarbageCollector
from kubelite.controllers.nodelifecycle import NodeLifecycleController
from kubelite.controllers.replicaset import ReplicaSetController, calculate_status

from .builders import node, pod, replicaset
from .test_others import service


def drain(ctrl: Any) -> list[str]:
    keys = []
    while (key := ctrl.queue.get_nowait()) is not None:
        ctrl.queue.done(key)
        keys.append(key)
    return keys


async def patch_status(harness: Any, name: str, status: dict[str, Any]) -> None:
    await harness.client.patch(PODS, name, {"status": status}, "default", subresource="status")
    await harness.settle()


async def test_a_status_write_wakes_no_node_reconcile_but_a_bind_and_a_toleration_change_do(harness):
    harness.client.add(NODES, node("n1"), node("n2"))
    harness.client.add(PODS, pod("a", node="n1", phase="Pending"), pod("unbound"))
    ctrl = await harness.start(lambda c, f: NodeLifecycleController(c, f, now=lambda: 1000.0))
    drain(ctrl)

    await patch_status(harness, "a", {"phase": "Running", "startTime": "2024-01-01T00:00:00Z"})
    assert drain(ctrl) == []  # the kubelet's own status write: nothing for the node to do

    await harness.client.patch(PODS, "unbound", {"spec": {"nodeName": "n2"}}, "default")
    await harness.settle()
    assert drain(ctrl) == ["n2"]  # newly on n2: n2 may have to mark it not ready or evict it

    await harness.client.patch(PODS, "a", {"spec": {"tolerations": [
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}]}}, "default")
    await harness.settle()
    assert drain(ctrl) == ["n1"]  # its eviction time on n1 moved


async def test_a_status_write_that_changes_no_address_looks_up_no_service(harness):
    harness.client.add(SERVICES, service())
    harness.client.add(PODS, pod("a", node="n1", phase="Pending"))
    ctrl = await harness.start(lambda c, f: EndpointsController(c, f))
    drain(ctrl)
    looked_up: list[str] = []
    services_for = ctrl._services_for

    def counting(p: Any) -> list[str]:
        looked_up.append(p["metadata"]["name"])
        return services_for(p)

    ctrl._services_for = counting

    await patch_status(harness, "a", {"startTime": "2024-01-01T00:00:00Z"})
    assert drain(ctrl) == [] and looked_up == []

    await patch_status(harness, "a", {"phase": "Running", "podIP": "10.42.0.5"})
    assert drain(ctrl) == ["default/web"]  # an address appeared

    await patch_status(harness, "a", {"conditions": [{"type": "Ready", "status": "True"}]})
    assert drain(ctrl) == ["default/web"]  # it moves from notReadyAddresses to addresses

    await harness.client.patch(PODS, "a", {"metadata": {"labels": {"app": "other"}}}, "default")
    await harness.settle()
    assert drain(ctrl) == ["default/web"]  # it leaves the Service


async def test_a_replicaset_wakes_only_for_pod_updates_that_change_its_reconcile(harness):
    rs = replicaset(replicas=1)
    harness.client.add(REPLICASETS, rs)
    harness.client.add(PODS, pod("a", owner=rs))
    ctrl = await harness.start(lambda c, f: ReplicaSetController(c, f))
    drain(ctrl)

    await harness.client.patch(PODS, "a", {"spec": {"nodeName": "n1"}}, "default")
    await harness.settle()
    assert drain(ctrl) == []  # the binding: nothing a ReplicaSet counts

    await patch_status(harness, "a", {"startTime": "2024-01-01T00:00:00Z", "hostIP": "172.16.0.1"})
    assert drain(ctrl) == []  # still Pending and not ready

    await patch_status(harness, "a", {"phase": "Running"})
    assert drain(ctrl) == ["default/rs"]  # the phase moved

    await patch_status(harness, "a", {"conditions": [{"type": "Ready", "status": "True",
                                                      "lastTransitionTime": "2024-01-01T00:00:05Z"}]})
    assert drain(ctrl) == ["default/rs"]  # ready: readyReplicas changes

    await harness.client.patch(PODS, "a", {"metadata": {"labels": {"app": "web", "extra": "x"}}}, "default")
    await harness.settle()
    assert drain(ctrl) == ["default/rs"]  # labels: fullyLabeledReplicas, and the selector


async def test_a_replicaset_status_counts_the_pods_as_before(harness):
    """The one-pass status: fully labeled, ready and available (minReadySeconds) counted per pod."""
    rs = replicaset(replicas=3)
    rs["spec"]["minReadySeconds"] = 10
    rs["spec"]["template"]["metadata"]["labels"]["tier"] = "front"
    full = {"app": "web", "tier": "front"}  # one dict for two pods, as in a compacted cache
    pods = [pod("a", full, owner=rs, phase="Running", ready=True, ready_since=100.0),
            pod("b", full, owner=rs, phase="Running", ready=True, ready_since=995.0),
            pod("c", {"app": "web"}, owner=rs, phase="Running"),
            pod("d", full, owner=rs)]
    assert calculate_status(rs, pods, 10, 1000.0) == {
        "replicas": 4, "fullyLabeledReplicas": 3, "readyReplicas": 2, "availableReplicas": 1,
        "observedGeneration": 0}


async def test_a_pod_landing_on_a_settled_ready_node_wakes_no_node_reconcile(harness):
    now = 1000.0
    harness.client.add(NODES, node("ready"), node("down", ready="False"))
    harness.client.add(PODS, pod("a"), pod("b", phase="Running", ready=True))
    ctrl = await harness.start(lambda c, f: NodeLifecycleController(c, f, now=lambda: now))
    for key in sorted(drain(ctrl)):
        await ctrl.reconcile(key)
    await harness.settle()  # "down" got its not-ready taints: reconcile it once more as they come back
    assert drain(ctrl) == ["down"]
    await ctrl.reconcile("down")
    await harness.settle()
    drain(ctrl)

    await harness.client.patch(PODS, "a", {"spec": {"nodeName": "ready"}}, "default")
    await harness.settle()
    assert drain(ctrl) == []  # Ready, untainted, heard from: nothing to do for the pod there

    await harness.client.patch(PODS, "b", {"spec": {"nodeName": "down"}}, "default")
    await harness.settle()
    assert drain(ctrl) == ["down"]  # not ready: the pod is to be marked not ready
    harness.client.clear_actions()
    await ctrl.reconcile("down")
    assert ("update", "pods", "status") in harness.writes()

    now += 100.0  # past the grace period with no heartbeat: the node is due a reconcile anyway
    await harness.client.patch(PODS, "a", {"spec": {"tolerations": [{"operator": "Exists"}]}}, "default")
    await harness.settle()
    assert drain(ctrl) == ["ready"]


async def test_the_garbage_collector_checks_a_new_object_only_when_an_owner_is_not_cached(harness):
    rs = replicaset()
    harness.client.add(REPLICASETS, rs)
    ctrl = await harness.start(lambda c, f: GarbageCollector(c, f))
    drain(ctrl)

    await harness.client.create(PODS, pod("owned", owner=rs), "default")
    await harness.settle()
    assert drain(ctrl) == []  # its owner is in the cache: nothing to collect

    await harness.client.create(PODS, pod("orphaned", owner=replicaset("gone")), "default")
    await harness.settle()
    assert drain(ctrl) == ["/pods|default/orphaned"]
    await ctrl.reconcile("/pods|default/orphaned")
    assert ("delete", "pods", None) in harness.writes()


async def test_pod_updates_in_a_namespace_without_services_look_up_nothing(harness):
    harness.client.add(PODS, pod("a", node="n1", phase="Pending"))
    ctrl = await harness.start(lambda c, f: EndpointsController(c, f))
    drain(ctrl)
    looked_up: list[str] = []
    ctrl._services_for = lambda p: looked_up.append(p["metadata"]["name"]) or []
    await patch_status(harness, "a", {"phase": "Running", "podIP": "10.42.0.5"})
    assert drain(ctrl) == [] and looked_up == []
