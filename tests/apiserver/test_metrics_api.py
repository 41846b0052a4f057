"""metrics.k8s.io/v1beta1: `kubectl top nodes` / `kubectl top pods` through the apiserver, which reads
each node's kubelet `/stats/summary` (a stand-in HTTPS kubelet here) and skips unreachable nodes."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from kubelite.apiserver.discovery import AGGREGATED_V2
from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer, free_port

STAMP = "2025-01-01T00:00:00Z"
MI = 1024 * 1024


class StandInKubelet:
    """Serves the Summary API shape of kubelite.kubelet.stats for whatever pods the test sets."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.pods: list[dict[str, Any]] = []
        self.auth: list[str] = []

    async def summary(self, request: web.Request) -> web.Response:
        self.auth.append(request.headers.get("Authorization", ""))
        return web.json_response({
            "node": {"nodeName": self.node, "startTime": STAMP,
                     "cpu": {"time": STAMP, "usageNanoCores": 250_000_000, "usageCoreNanoSeconds": 10**12},
                     "memory": {"time": STAMP, "workingSetBytes": 512 * MI, "usageBytes": 600 * MI,
                                "availableBytes": 7 * 1024 * MI}},
            "pods": self.pods})


def pod_summary(pod: dict[str, Any], containers: dict[str, tuple[int | None, int]]) -> dict[str, Any]:
    meta = pod["metadata"]
    ctrs = []
    for name, (nanocores, ws) in containers.items():
        c_cpu: dict[str, Any] = {"time": STAMP, "usageCoreNanoSeconds": 10**9}
        if nanocores is not None:
            c_cpu["usageNanoCores"] = nanocores
        ctrs.append({"name": name, "startTime": STAMP, "cpu": c_cpu,
                     "memory": {"time": STAMP, "workingSetBytes": ws, "usageBytes": ws}})
    return {"podRef": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]},
            "startTime": STAMP, "containers": ctrs, "cpu": {"time": STAMP}, "memory": {"time": STAMP}}


@pytest.fixture
async def kubelet(server: KubeliteServer) -> AsyncIterator[tuple[StandInKubelet, int]]:
    stand_in = StandInKubelet("metrics-1")
    app = web.Application()
    app.router.add_get("/stats/summary", stand_in.summary)
    runner = web.AppRunner(app)
    await runner.setup()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls = server.data_dir / "tls"
    ctx.load_cert_chain(str(tls / "serving.crt"), str(tls / "serving.key"))
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    try:
        yield stand_in, runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def run(k: Kubectl, *args: str) -> tuple[int, str, str]:
    """kubectl without blocking the loop that serves the stand-in kubelet."""
    proc = await asyncio.create_subprocess_exec(k.binary, *args, env=k.env(), stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def node(name: str, port: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"tier": name}}, "status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        "capacity": {"cpu": "2", "memory": "8Gi", "pods": "110"},
        "allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"}}}


def pod(name: str, ns: str, node_name: str, containers: list[str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"nodeName": node_name, "containers": [{"name": c, "image": "busybox"} for c in containers]}}


def call(server: KubeliteServer, *args: Any) -> Any:
    return asyncio.to_thread(server.request, *args)


async def test_kubectl_top_nodes_and_pods(server: KubeliteServer, kubectl: Kubectl,
                                          kubelet: tuple[StandInKubelet, int]) -> None:
    stand_in, port = kubelet
    assert (await call(server, "POST", "/api/v1/nodes", node("metrics-1", port)))[0] == 201
    # a node whose kubelet does not answer: left out, the request still succeeds
    assert (await call(server, "POST", "/api/v1/nodes", node("metrics-gone", free_port())))[0] == 201
    assert (await call(server, "POST", "/api/v1/namespaces", {"metadata": {"name": "top-ns"}}))[0] == 201
    status, web1 = await call(server, "POST", "/api/v1/namespaces/default/pods",
                              pod("web-1", "default", "metrics-1", ["app", "sidecar"]))
    assert status == 201
    status, other = await call(server, "POST", "/api/v1/namespaces/top-ns/pods",
                               pod("db-1", "top-ns", "metrics-1", ["db"]))
    assert status == 201
    status, fresh = await call(server, "POST", "/api/v1/namespaces/default/pods",
                               pod("fresh-1", "default", "metrics-1", ["c"]))
    assert status == 201
    stand_in.pods = [pod_summary(web1, {"app": (100_000_000, 64 * MI), "sidecar": (5_000_000, 16 * MI)}),
                     pod_summary(other, {"db": (300_000_000, 256 * MI)}),
                     pod_summary(fresh, {"c": (None, MI)})]  # no CPU rate yet: no metrics yet

    rc, out, err = await run(kubectl, "top", "nodes")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["NAME", "CPU(cores)"]
    row = next(line.split() for line in lines if line.startswith("metrics-1"))
    assert row[1] == "250m" and row[2] == "12%" and row[3] == "512Mi" and row[4] == "6%"
    assert not any(line.startswith("metrics-gone") and "Mi" in line for line in lines)

    rc, out, err = await run(kubectl, "top", "pods")
    assert rc == 0, err
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert rows == {"web-1": ["105m", "80Mi"]}

    rc, out, err = await run(kubectl, "top", "pod", "web-1", "--containers")
    assert rc == 0, err
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in out.splitlines()[1:]}
    assert rows == {("web-1", "app"): ["100m", "64Mi"], ("web-1", "sidecar"): ["5m", "16Mi"]}

    rc, out, err = await run(kubectl, "top", "pods", "-A")
    assert rc == 0, err
    assert {tuple(line.split()[:2]) for line in out.splitlines()[1:]} == {("default", "web-1"), ("top-ns", "db-1")}

    rc, out, err = await run(kubectl, "top", "pods", "-n", "top-ns", "-l", "app=db-1")
    assert rc == 0 and "db-1" in out and "300m" in out, err

    rc, out, err = await run(kubectl, "top", "pod", "fresh-1")
    assert rc != 0 and 'podmetrics.metrics.k8s.io "default/fresh-1" not found' in err

    # the apiserver authenticates to the kubelet with the admin token too
    assert set(stand_in.auth) == {f"Bearer {server.token}"}


async def test_metrics_api_discovery_and_bad_paths(server: KubeliteServer) -> None:
    status, groups = await call(server, "GET", "/apis")
    assert status == 200
    assert {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"} in next(
        g for g in groups["groups"] if g["name"] == "metrics.k8s.io")["versions"]
    status, agg = await call(server, "GET", "/apis", None, "application/json", {"Accept": AGGREGATED_V2})
    assert status == 200
    entry = next(i for i in agg["items"] if i["metadata"]["name"] == "metrics.k8s.io")
    assert {r["resource"]: r["scope"] for r in entry["versions"][0]["resources"]} == {
        "nodes": "Cluster", "pods": "Namespaced"}
    status, rl = await call(server, "GET", "/apis/metrics.k8s.io/v1beta1")
    assert status == 200 and {r["kind"] for r in rl["resources"]} == {"NodeMetrics", "PodMetrics"}
    status, body = await call(server, "GET", "/apis/metrics.k8s.io/v1beta1/nodes")
    assert status == 200 and body["kind"] == "NodeMetricsList"
    status, body = await call(server, "GET", "/apis/metrics.k8s.io/v1beta1/nodes/nope")
    assert status == 404 and body["message"] == 'nodemetrics.metrics.k8s.io "nope" not found'
    status, body = await call(server, "DELETE", "/apis/metrics.k8s.io/v1beta1/nodes/nope")
    assert status == 405
    status, body = await call(server, "GET", "/apis/metrics.k8s.io/v1beta1/widgets")
    assert status == 404
    status, body = await call(server, "GET", "/apis/metrics.k8s.io/v1beta1/pods?labelSelector=a%20in%20(")
    assert status == 400
