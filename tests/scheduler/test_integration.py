"""The scheduler against a real `kubelite server`, checked with the real kubectl.

Nodes are plain Node objects created through the API (Ready, allocatable cpu/memory/pods); no
kubelet runs, so pods stay Pending after binding, which is all the scheduler is responsible for.
Pods carry their own schedulerName so that a scheduler embedded in the server (if any) leaves
them to the one under test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kubelite.api.resources import EVENTS, NODES, PODS
from kubelite.client.rest import ApiClient, is_not_found
from kubelite.scheduler.scheduler import Scheduler
from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer
from scheduler.builders import make_node, make_pod, toleration

NAME = "kubelite-test-scheduler"


async def eventually(cond: Callable[[], Any], what: str, limit: float = 30.0) -> Any:
    """Poll an async condition until truthy (a generous bound, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        value = await cond()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.05)


def pod(name: str, **kw: Any) -> dict[str, Any]:
    p = make_pod(name, scheduler_name=NAME, **kw)
    del p["metadata"]["uid"]
    return p


@pytest.fixture
async def client(server: KubeliteServer) -> AsyncIterator[ApiClient]:
    c = ApiClient.from_kubeconfig(str(server.kubeconfig))
    yield c
    # leave the server clean for the next test: no pods, no nodes
    for p in (await c.list(PODS, "default"))["items"]:
        await c.delete(PODS, p["metadata"]["name"], "default", grace_period_seconds=0)
    for n in (await c.list(NODES))["items"]:
        await c.delete(NODES, n["metadata"]["name"])
    await c.close()


@pytest.fixture
async def cluster(client: ApiClient) -> AsyncIterator[Scheduler]:
    """Three Ready nodes (4 cpu, 8Gi, 110 pods) and a running scheduler."""
    for i in (1, 2, 3):
        await client.create(NODES, make_node(f"node{i}", labels={"disk": "ssd" if i == 2 else "hdd"}))
    sched = Scheduler(client, scheduler_name=NAME)
    await sched.start(sync_timeout=30)
    yield sched
    await sched.stop()


async def node_of(client: ApiClient, name: str) -> str | None:
    try:
        p = await client.get(PODS, name, "default")
    except Exception as e:
        if is_not_found(e):
            return None
        raise
    return (p.get("spec") or {}).get("nodeName")


async def bound(client: ApiClient, names: list[str]) -> dict[str, str]:
    async def all_bound() -> dict[str, str] | None:
        got = {n: await node_of(client, n) for n in names}
        return got if all(got.values()) else None  # type: ignore[return-value]

    result: dict[str, str] = await eventually(all_bound, f"pods {names} bound")
    return result


async def failed_scheduling(client: ApiClient, name: str) -> str:
    async def message() -> str | None:
        events = (await client.list(EVENTS, "default", field_selector=f"involvedObject.name={name}"))["items"]
        msgs = [e.get("message", "") for e in events if e.get("reason") == "FailedScheduling"]
        return msgs[-1] if msgs else None

    result: str = await eventually(message, f"FailedScheduling event for {name}")
    return result


async def kubectl_async(kubectl: Kubectl, *args: str) -> str:
    r = await asyncio.to_thread(kubectl, *args)
    assert r.rc == 0, r.out
    return r.stdout


async def test_pods_are_bound_and_spread_over_three_nodes(client: ApiClient, cluster: Scheduler,
                                                          kubectl: Kubectl) -> None:
    names = [f"web-{i}" for i in range(6)]
    for n in names:
        await client.create(PODS, pod(n, cpu="100m", memory="128Mi"), "default")
    placement = await bound(client, names)
    per_node: dict[str, int] = {}
    for node in placement.values():
        per_node[node] = per_node.get(node, 0) + 1
    assert per_node == {"node1": 2, "node2": 2, "node3": 2}
    out = await kubectl_async(kubectl, "get", "pods", "-o", "wide")
    for n, node in placement.items():
        assert any(n in line and node in line for line in out.splitlines()), out
    described = await kubectl_async(kubectl, "describe", "pod", "web-0")
    assert "Scheduled" in described
    assert f"Successfully assigned default/web-0 to {placement['web-0']}" in described


async def test_a_pod_bigger_than_any_node_stays_pending_with_reasons(client: ApiClient, cluster: Scheduler,
                                                                    kubectl: Kubectl) -> None:
    await client.create(PODS, pod("huge", cpu="64"), "default")
    message = await failed_scheduling(client, "huge")
    assert message.startswith("0/3 nodes are available: 3 Insufficient cpu.")
    described = await kubectl_async(kubectl, "describe", "pod", "huge")
    assert "FailedScheduling" in described
    assert "0/3 nodes are available: 3 Insufficient cpu." in described
    assert "Pending" in described
    p = await client.get(PODS, "huge", "default")
    conds = {c["type"]: c for c in p["status"].get("conditions", [])}
    assert conds["PodScheduled"]["status"] == "False"
    assert conds["PodScheduled"]["reason"] == "Unschedulable"
    assert await node_of(client, "huge") is None


async def test_a_cordoned_node_gets_no_new_pods(client: ApiClient, cluster: Scheduler, kubectl: Kubectl) -> None:
    await kubectl_async(kubectl, "cordon", "node1")
    names = [f"c-{i}" for i in range(4)]
    for n in names:
        await client.create(PODS, pod(n, cpu="100m"), "default")
    placement = await bound(client, names)
    assert "node1" not in placement.values()
    assert set(placement.values()) == {"node2", "node3"}


async def test_taints_tolerations_and_node_selector_are_respected(client: ApiClient, cluster: Scheduler,
                                                                  kubectl: Kubectl) -> None:
    await kubectl_async(kubectl, "taint", "nodes", "node2", "dedicated=db:NoSchedule")
    # nodeSelector picks node2, the toleration lets it in
    await client.create(PODS, pod("db", node_selector={"disk": "ssd"},
                                  tolerations=[toleration("dedicated", "Equal", "db", "NoSchedule")]), "default")
    # same selector without the toleration: nowhere to go
    await client.create(PODS, pod("no-toleration", node_selector={"disk": "ssd"}), "default")
    # no selector, no toleration: anywhere but node2
    plain = [f"plain-{i}" for i in range(4)]
    for n in plain:
        await client.create(PODS, pod(n), "default")
    assert (await bound(client, ["db"]))["db"] == "node2"
    assert "node2" not in (await bound(client, plain)).values()
    message = await failed_scheduling(client, "no-toleration")
    assert message.startswith(
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, "
        "2 node(s) didn't match Pod's node affinity/selector."
    ), message
    assert await node_of(client, "no-toleration") is None


async def test_a_waiting_pod_is_scheduled_when_a_node_that_fits_arrives(client: ApiClient,
                                                                        cluster: Scheduler) -> None:
    await client.create(PODS, pod("big", cpu="6"), "default")
    await failed_scheduling(client, "big")
    await client.create(NODES, make_node("node-big", cpu="8"))
    assert (await bound(client, ["big"]))["big"] == "node-big"


async def test_a_not_ready_node_is_avoided(client: ApiClient, cluster: Scheduler) -> None:
    for i in (1, 3):
        node = await client.get(NODES, f"node{i}")
        node["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
        await client.replace(NODES, node, subresource="status")

    async def cache_sees_not_ready() -> bool:
        info = cluster.cache.get_node("node1")
        return info is not None and any(t[0] == "node.kubernetes.io/not-ready" for t in info.taints)

    await eventually(cache_sees_not_ready, "scheduler sees node1 NotReady")
    names = [f"r-{i}" for i in range(3)]
    for n in names:
        await client.create(PODS, pod(n), "default")
    assert set((await bound(client, names)).values()) == {"node2"}



async def test_the_embedding_hook_schedules_until_cancelled(server: KubeliteServer, client: ApiClient) -> None:
    from kubelite.scheduler import run_from_kubeconfig

    await client.create(NODES, make_node("embedded"))
    task = asyncio.create_task(run_from_kubeconfig(server.kubeconfig, scheduler_name=NAME))
    try:
        await client.create(PODS, pod("via-hook"), "default")
        assert (await bound(client, ["via-hook"]))["via-hook"] == "embedded"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert task.cancelled()
