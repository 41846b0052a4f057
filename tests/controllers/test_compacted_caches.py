"""The controller manager and the scheduler cache objects compactly (client/compact.py): parts are
shared between cached objects, so no controller may change a cached object in place.

A real server, the controller manager and the scheduler in this process, and the fake kubelet:
a Deployment behind a Service rolls out, rolls to a new image, scales down, loses a pod. The
user sees the usual outcome, and every part the caches share is still what the API said.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from kubelite.api.resources import DEPLOYMENTS, ENDPOINTS, PODS, SERVICES
from kubelite.client.compact import Compactor
from kubelite.client.rest import ApiClient
from kubelite.controllers.manager import ControllerManager
from kubelite.scheduler.scheduler import Scheduler
from kubelite.testing.server import KubeliteServer

from .fakekubelet import FakeKubelet

NS = "default"


async def eventually(fn: Callable[[], Awaitable[Any]], what: str, limit: float = 60.0) -> Any:
    """Poll until truthy (a generous bound, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    last: Any = None
    while loop.time() < deadline:
        last = await fn()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last}")


@pytest.fixture(scope="module")
def server() -> Iterator[KubeliteServer]:
    srv = KubeliteServer().start()  # no embedded scheduler or controllers: ours run here
    kubelet = FakeKubelet(str(srv.kubeconfig), ["node-1", "node-2"]).start()
    try:
        yield srv
    finally:
        kubelet.stop()
        srv.cleanup()


def deployment(image: str, replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "tier": "front"}},
                                  "spec": {"containers": [{"name": "app", "image": image,
                                                           "ports": [{"containerPort": 80}],
                                                           "resources": {"requests": {"cpu": "10m"}}}]}}}}


async def test_controllers_and_scheduler_work_on_shared_parts_without_changing_them(server: KubeliteServer) -> None:
    client = ApiClient.from_kubeconfig(str(server.kubeconfig))
    manager = ControllerManager(client, controllers=("replicaset", "deployment", "endpoints", "garbagecollector"))
    scheduler = Scheduler(client)
    await manager.start()
    try:
        assert await manager.wait_ready(30)
        await scheduler.start(sync_timeout=30)
        await client.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                       "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}, NS)
        await client.create(DEPLOYMENTS, deployment("nginx:1", 6), NS)

        async def running(image: str, n: int) -> list[dict[str, Any]] | None:
            pods = [p for p in (await client.list(PODS, NS, label_selector="app=web"))["items"]
                    if not p["metadata"].get("deletionTimestamp")]
            ok = len(pods) == n and all(p["status"].get("phase") == "Running"
                                        and p["spec"]["containers"][0]["image"] == image for p in pods)
            return pods if ok else None

        async def ready_addresses(n: int) -> bool:
            ep = await client.get(ENDPOINTS, "web", NS)
            return sum(len(s.get("addresses") or []) for s in ep.get("subsets") or []) == n

        async def deployment_says(replicas: int) -> bool:
            d = await client.get(DEPLOYMENTS, "web", NS)
            st = d.get("status") or {}
            return st.get("replicas") == replicas and st.get("availableReplicas") == replicas \
                and st.get("updatedReplicas") == replicas

        pods = await eventually(lambda: running("nginx:1", 6), "6 nginx:1 pods Running")
        assert {p["spec"]["nodeName"] for p in pods} == {"node-1", "node-2"}
        await eventually(lambda: ready_addresses(6), "6 ready endpoint addresses")

        await client.patch(DEPLOYMENTS, "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "nginx:2"}]}}}}, NS, patch_type="strategic")
        await eventually(lambda: running("nginx:2", 6), "6 nginx:2 pods Running", limit=120)
        await client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 3}}, NS, patch_type="merge")
        pods = await eventually(lambda: running("nginx:2", 3), "3 pods after scaling down")
        await client.delete(PODS, pods[0]["metadata"]["name"], NS, grace_period_seconds=0)
        await eventually(lambda: running("nginx:2", 3), "the lost pod replaced")
        await eventually(lambda: deployment_says(3), "the Deployment's status at 3 replicas")
        await eventually(lambda: ready_addresses(3), "3 ready endpoint addresses")

        transform = scheduler.informers.transform
        assert isinstance(transform, Compactor)
        assert manager.compactor is not None
        for compactor in (manager.compactor, transform):
            assert compactor.hits > 0  # parts were shared...
            assert compactor.verify() == 0  # ...and nobody changed one in place
        cached = [p for p in scheduler.pods.store.list(NS)]
        assert len({id(p["metadata"]["labels"]) for p in cached if p["metadata"]["labels"].get("tier")}) < len(cached)
    finally:
        await scheduler.stop()
        await manager.stop()
        await client.close()
