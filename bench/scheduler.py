"""Scheduler throughput and latency against a real `kubelite server`, beside kube-scheduler's figures.

    .venv/bin/python bench/scheduler.py            # 1000 and 5000 nodes, 10,000 pods each
    .venv/bin/python bench/scheduler.py --quick    # 200 nodes, 1,000 pods

For each node count: a fresh `kubelite server` (SQLite), N Ready nodes created through the API
(cpu 32, memory 128Gi, pods 110, as in docs/baselines.md), then `kubelite scheduler` started as its
own process, then the pods (cpu 100m, memory 128Mi) created by many concurrent clients. A watch
records when each pod is first seen bound. Figures:
- pods/s = pods / (first create sent -> last binding seen by the watch), as the baseline measures;
- scheduling latency per pod = create acknowledged -> binding seen (p50 / p99);
- the scheduler process' CPU time per pod, and the apiserver's (its create, Binding and Event);
  CPU time per pod is the figure to compare when other work shares the machine.
Also: the scheduling algorithm alone, in-process (filter + score + assume, no API).

Speed figures only; nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
from typing import Any

import psutil

from kubelite.api.resources import NODES, PODS
from kubelite.client.rest import ApiClient
from kubelite.scheduler.algorithm import Algorithm
from kubelite.scheduler.cache import Cache
from kubelite.scheduler.nodeinfo import PodInfo
from kubelite.testing.server import KubeliteServer

NAMESPACE = "default"
BASELINE = {  # docs/baselines.md, kube-scheduler 1.20.2 on the same kind of 2-core machine
    1000: {"default 50 req/s": 50.5, "5000 req/s": 141.7},
    5000: {"default 50 req/s": 50.5, "5000 req/s": 151.8},
}


def node(name: str) -> dict[str, Any]:
    alloc = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"capacity": alloc, "allocatable": alloc,
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]},
    }


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "c", "image": "busybox",
                                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
    }


async def in_parallel(n_clients: int, items: list[Any], fn: Any) -> None:
    it = iter(items)

    async def worker() -> None:
        for item in it:
            await fn(item)

    await asyncio.gather(*(worker() for _ in range(n_clients)))


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def spawn_scheduler(srv: KubeliteServer) -> subprocess.Popen[bytes]:
    """The scheduler's output goes to a file: an unread pipe would fill up and block it. It runs on
    the server's host, so it uses the local kubeconfig (the server's unix socket), as `kubelite
    server`'s embedded scheduler does."""
    with open(srv.data_dir / "scheduler.log", "ab") as logf:
        return subprocess.Popen([sys.executable, "-m", "kubelite", "scheduler", "--kubeconfig",
                                 str(srv.local_kubeconfig)],
                                stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)


async def run_api(n_nodes: int, n_pods: int, clients: int) -> dict[str, float]:
    srv = KubeliteServer().start(timeout=60)
    sched: subprocess.Popen[bytes] | None = None
    client = ApiClient.from_kubeconfig(str(srv.kubeconfig))
    try:
        t = time.perf_counter()
        await in_parallel(clients, [f"node-{i:05}" for i in range(n_nodes)],
                          lambda name: client.create(NODES, node(name)))
        node_rate = n_nodes / (time.perf_counter() - t)

        sched = spawn_scheduler(srv)
        sched_ps = psutil.Process(sched.pid)
        # wait until the scheduler has synced: a probe pod gets bound
        probe = pod("probe")
        await client.create(PODS, probe, NAMESPACE)
        while not (await client.get(PODS, "probe", NAMESPACE))["spec"].get("nodeName"):
            if sched.poll() is not None:
                raise RuntimeError("scheduler exited: " + (srv.data_dir / "scheduler.log").read_text()[-2000:])
            await asyncio.sleep(0.1)
        cpu_before = sum(sched_ps.cpu_times()[:2])
        server_ps = psutil.Process(srv.pid)
        server_cpu_before = sum(server_ps.cpu_times()[:2])

        rv = (await client.list(PODS, NAMESPACE, limit=1))["metadata"]["resourceVersion"]
        acked: dict[str, float] = {}
        bound_at: dict[str, float] = {}
        all_bound = asyncio.Event()

        async def watch() -> None:
            async for ev in client.watch(PODS, NAMESPACE, resource_version=rv):
                meta = ev.object.get("metadata") or {}
                name = meta.get("name", "")
                if (ev.object.get("spec") or {}).get("nodeName") and name.startswith("p-") \
                        and name not in bound_at:
                    bound_at[name] = time.perf_counter()
                    if len(bound_at) == n_pods:
                        all_bound.set()
                        return

        watcher = asyncio.create_task(watch())
        names = [f"p-{i:05}" for i in range(n_pods)]

        async def create(name: str) -> None:
            await client.create(PODS, pod(name), NAMESPACE)
            acked[name] = time.perf_counter()

        start = time.perf_counter()
        await in_parallel(clients, names, create)
        created = time.perf_counter()
        try:
            await asyncio.wait_for(all_bound.wait(), timeout=max(120.0, n_pods / 20))
        finally:
            watcher.cancel()
        end = max(bound_at.values())
        cpu_after = sum(sched_ps.cpu_times()[:2])
        server_cpu_after = sum(server_ps.cpu_times()[:2])
        lat = [bound_at[n] - acked[n] for n in names if n in bound_at and n in acked]
        sched_log = (srv.data_dir / "scheduler.log").read_text(errors="replace")
        for line in [ln for ln in sched_log.splitlines() if "binding " in ln][:3]:
            print("  scheduler log: " + line[:300])
        return {
            "nodes/s created": node_rate,
            "pods/s created": n_pods / (created - start),
            "pods/s bound": n_pods / (end - start),
            "p50 ms": pct(lat, 50) * 1000,
            "p99 ms": pct(lat, 99) * 1000,
            "scheduler cpu ms/pod": (cpu_after - cpu_before) * 1000 / n_pods,
            "apiserver cpu ms/pod (create+bind+event)": (server_cpu_after - server_cpu_before) * 1000 / n_pods,
            "bind failures (logged)": float(sched_log.count("binding ")),
            "events dropped by the recorder": float(
                sched_log.count("event queue full")
                + sum(int(n) for n in re.findall(r"and (\d+) more like it", sched_log))),
        }
    finally:
        await client.close()
        if sched is not None and sched.poll() is None:
            os.kill(sched.pid, signal.SIGTERM)
            try:
                sched.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(sched.pid, signal.SIGKILL)
                sched.wait()
        srv.cleanup()


def run_algorithm(n_nodes: int, n_pods: int, *, equivalence_cache: bool = True) -> float:
    """Pods/s of filter + score + assume alone (same nodes and pods, no API); without the
    equivalence cache, every plugin runs over every window (the reference path)."""
    cache = Cache()
    for i in range(n_nodes):
        cache.add_node(node(f"node-{i:05}"))
    algo = Algorithm(cache, rng=random.Random(0), equivalence_cache=equivalence_cache)
    pods: list[PodInfo] = []
    for i in range(n_pods):
        obj = pod(f"p-{i:05}")
        obj["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "rs", "uid": "rs-uid", "controller": True}]
        pods.append(PodInfo(obj))
    t = time.process_time()
    for p in pods:
        cache.assume(p, algo.schedule(p).node)
    return n_pods / (time.process_time() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="200 nodes, 1,000 pods")
    ap.add_argument("--nodes", type=int, nargs="*", help="node counts (default 1000 5000)")
    ap.add_argument("--pods", type=int, help="pods per run (default 10000)")
    ap.add_argument("--clients", type=int, default=64, help="concurrent creating clients (default 64)")
    args = ap.parse_args()
    node_counts = args.nodes or ([200] if args.quick else [1000, 5000])
    n_pods = args.pods or (1000 if args.quick else 10000)

    print(f"scheduler benchmark: {n_pods} pods (cpu 100m, memory 128Mi), {args.clients} creating clients, "
          f"{os.cpu_count()} cores")
    for n in node_counts:
        algo = run_algorithm(n, min(n_pods, 3000))
        plain = run_algorithm(n, min(n_pods, 1000), equivalence_cache=False)
        api = asyncio.run(run_api(n, n_pods, args.clients))
        print(f"\n== {n} nodes ==")
        print(f"  algorithm alone (in-process, CPU time): {algo:8.0f} pods/s")
        print(f"  ... without the equivalence cache:      {plain:8.0f} pods/s")
        for k, v in api.items():
            print(f"  {k:38} {v:8.1f}")
        base = BASELINE.get(n)
        if base:
            print("  kube-scheduler (docs/baselines.md): " + ", ".join(f"{k}: {v} pods/s" for k, v in base.items()))
        else:
            print("  kube-scheduler (docs/baselines.md): 50.5 pods/s (default rate limit), ~150 pods/s (5000 req/s)")


if __name__ == "__main__":
    main()
