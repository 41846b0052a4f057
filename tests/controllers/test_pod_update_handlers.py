"""Which pod updates wake which controller: a pod's own status writes (several per pod start) must not
cost a node reconcile or a Service lookup when they change nothing those controllers read."""

from __future__ import annotations

from typing import Any

from kubelite.api.resources import NODES, PODS, SERVICES
from kubelite.controllers.endpoints import EndpointsController
from kubelite.controllers.nodelifecycle import NodeLifecycleController

from .builders import node, pod
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
