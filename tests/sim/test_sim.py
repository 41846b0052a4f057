"""`kubelite sim` against a real control plane (server, scheduler, controller manager processes).

A smaller version of bench/scale.py as a correctness check, not a timing test: 100 simulated
nodes, 1,000 pods from Deployments, all Running and none lost; pods that exit end Failed /
Succeeded; a silenced node becomes NotReady and its pods run elsewhere.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from kubelite.api.resources import DEPLOYMENTS, LEASES, NODES, PODS
from kubelite.client.rest import ApiClient, ApiError
from kubelite.sim.harness import Child, SimCluster

NODES_N = 100
DEPLOYMENTS_N, REPLICAS = 4, 250
PODS_N = DEPLOYMENTS_N * REPLICAS
HANG_GUARD = 240  # seconds: a stuck run fails instead of hanging (not a speed assertion)

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[SimCluster, Child]]:
    # leases every 2 s so that a 6 s grace period tells a silent node quickly
    with SimCluster(grace="6s", toleration="1s") as c:
        sim = c.start_sim(NODES_N, extra=["--lease-interval", "2s"])
        try:
            yield c, sim
        finally:
            if sim.proc.poll() is not None or "Traceback" in sim.log():
                print(sim.log()[-5000:])


@pytest.fixture
async def client(cluster: tuple[SimCluster, Child]) -> AsyncIterator[ApiClient]:
    c = ApiClient.from_kubeconfig(str(cluster[0].kubeconfig))
    yield c
    await c.close()


def ready(node: dict[str, Any]) -> str:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return str(cond.get("status"))
    return "missing"


def running(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")


async def eventually(check: Any, what: str, interval: float = 0.5) -> Any:
    """Poll `check()` (async, returns a truthy value when done) until done; a hang guard, not a timer."""
    last: Any = None
    try:
        async with asyncio.timeout(HANG_GUARD):
            while True:
                last = await check()
                if last:
                    return last
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"{what}: never happened (last: {last!r})") from None


def deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"terminationGracePeriodSeconds": 1,
                                       "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                                       "resources": {"requests": {"cpu": "10m"}}}]}}},
    }


async def all_pods(client: ApiClient, namespace: str = "default", labels: str | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        page = await client.list(PODS, namespace, label_selector=labels, limit=1000, continue_token=token)
        items += page.get("items") or []
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return items


async def test_nodes_register_and_become_ready(client: ApiClient) -> None:
    async def all_ready() -> bool:
        nodes = (await client.list(NODES)).get("items") or []
        return sum(1 for n in nodes if n["metadata"]["name"].startswith("sim-") and ready(n) == "True") == NODES_N

    await eventually(all_ready, f"{NODES_N} nodes Ready")
    node = await client.get(NODES, "sim-7")
    assert node["status"]["capacity"]["cpu"] == "32"
    assert node["status"]["capacity"]["pods"] == "110"
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("kubelite-sim://")

    async def lease_holder() -> str | None:
        # the first Lease renewal runs beside the first status post: it may land a moment later
        try:
            lease = await client.get(LEASES, "sim-7", "kube-node-lease")
        except ApiError as err:
            if err.code == 404:
                return None
            raise
        return str(lease["spec"].get("holderIdentity"))

    assert await eventually(lease_holder, "sim-7's Lease") == "sim-7"


async def test_deployments_all_running_nothing_lost(client: ApiClient) -> None:
    for i in range(DEPLOYMENTS_N):
        await client.create(DEPLOYMENTS, deployment(f"web{i}", REPLICAS), "default")

    async def all_running() -> list[dict[str, Any]] | None:
        pods = [p for p in await all_pods(client) if p["metadata"]["name"].startswith("web")]
        return pods if sum(1 for p in pods if running(p)) == PODS_N else None

    # one snapshot for every check below: under a loaded machine a node may miss its short grace
    # period and have a pod replaced later, which is the node lifecycle working, not a lost pod
    pods = await eventually(all_running, f"{PODS_N} pods Running", interval=2)
    assert len(pods) == PODS_N, "pods were lost or duplicated"
    assert Counter(p["metadata"]["labels"]["app"] for p in pods) == {f"web{i}": REPLICAS for i in range(DEPLOYMENTS_N)}
    per_node = Counter(p["spec"]["nodeName"] for p in pods)
    assert set(per_node) <= {f"sim-{i}" for i in range(NODES_N)}
    assert max(per_node.values()) <= 110
    ips = [p["status"]["podIP"] for p in pods]
    assert len(set(ips)) == PODS_N, "two pods share an IP"
    for p in pods[:50]:
        cs = p["status"]["containerStatuses"][0]
        assert cs["ready"] is True and "running" in cs["state"]
        assert p["status"]["hostIP"].startswith("172.16.")


@pytest.mark.parametrize(("code", "phase"), [("3", "Failed"), ("0", "Succeeded")])
async def test_exit_code_annotation_ends_pod(client: ApiClient, code: str, phase: str) -> None:
    name = f"exits-{code}"
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "annotations": {"kubelite.io/sim-exit-code": code,
                                                      "kubelite.io/sim-exit-after": "500ms"}},
           "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}}
    await client.create(PODS, pod, "default")

    async def finished() -> dict[str, Any] | None:
        got = await client.get(PODS, name, "default")
        return got if got["status"].get("phase") in ("Succeeded", "Failed") else None

    done = await eventually(finished, f"pod {name} finishes")
    assert done["status"]["phase"] == phase
    terminated = done["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == int(code)
    assert done["status"]["containerStatuses"][0]["restartCount"] == 0


async def test_crashing_container_restarts_with_backoff(client: ApiClient) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "crasher", "annotations": {"kubelite.io/sim-exit-code": "1"}},
           "spec": {"restartPolicy": "Always", "containers": [{"name": "main", "image": "busybox"}]}}
    await client.create(PODS, pod, "default")

    async def restarted() -> dict[str, Any] | None:
        got = await client.get(PODS, "crasher", "default")
        statuses = got["status"].get("containerStatuses") or []
        return got if statuses and statuses[0]["restartCount"] >= 1 else None

    got = await eventually(restarted, "crasher restarts")
    assert got["status"]["phase"] == "Running"  # Always: the pod stays Running while it crash-loops


async def test_silenced_node_becomes_not_ready_and_pods_move(cluster: tuple[SimCluster, Child],
                                                             client: ApiClient) -> None:
    _, sim = cluster
    victim = "sim-11"
    sim.send(f"stop {victim}")

    async def not_ready() -> str | None:
        status = ready(await client.get(NODES, victim))
        return status if status != "True" else None

    assert await eventually(not_ready, f"{victim} NotReady") == "Unknown"

    async def tainted() -> bool:
        # the node lifecycle controller taints the node after it marks it Unknown (separate writes)
        node = await client.get(NODES, victim)
        return "node.kubernetes.io/unreachable" in {t["key"] for t in node["spec"].get("taints") or []}

    await eventually(tainted, f"{victim} tainted unreachable")

    async def moved() -> bool:
        pods = await all_pods(client, labels="app=web0")
        elsewhere = [p for p in pods if running(p) and p["spec"].get("nodeName") != victim]
        return len(elsewhere) == REPLICAS

    await eventually(moved, f"web0 back to {REPLICAS} Running pods off {victim}")
    other = ready(await client.get(NODES, "sim-12"))
    assert other == "True", "only the silenced node goes NotReady"


def test_bad_options_give_clear_errors(tmp_path: Any) -> None:
    kubeconfig = tmp_path / "kc.yaml"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "
                          "'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: "
                          "{token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n")
    cases = [
        (["--nodes", "3", "--memory", "lots"], "--memory"),
        (["--nodes", "3", "--start-latency", "soon"], "--start-latency"),
        (["--nodes", "-1"], "--nodes"),
        (["--nodes", "3", "--name-prefix", "Bad_"], "--name-prefix"),
        (["--nodes", "3"], "cannot reach the API server"),
    ]
    for args, expected in cases:
        out = subprocess.run([sys.executable, "-m", "kubelite", "sim", "--kubeconfig", str(kubeconfig), *args],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode != 0, args
        assert expected in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr, (args, out.stderr)
