"""Memory per pod of the control plane's processes (informer caches), and the CPU it costs.

    .venv/bin/python bench/memory.py                      # 200 nodes, 20,000 pods (~3 min)
    .venv/bin/python bench/memory.py --pods 40000         # a longer run
    .venv/bin/python bench/memory.py --micro-only         # only the per-event compaction cost
    .venv/bin/python bench/memory.py --compare            # without compaction, then with it

Starts the control plane as bench/scale.py does (apiserver, scheduler, controller manager as
separate processes, one `kubelite sim` process), creates pods via Deployments in two halves and
waits for each half to be Running. It prints every process's RSS after the nodes joined, at N/2
and at N pods, the marginal KiB per pod (RSS at N minus RSS at N/2, over N/2: what 150,000 pods
would cost, without the fixed costs), and CPU seconds per process. Then, in this process, the CPU
per watch event of decoding a pod and of compacting it (kubelite.client.compact), on pods taken
from the cluster. Figures are noisy when the machine is busy: read them beside the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys
import time
import tracemalloc
from typing import Any

import orjson
import psutil
from scale import log, running, wait_nodes_ready  # the scale bench's helpers (same directory)

from kubelite.api.resources import DEPLOYMENTS, NAMESPACES, PODS
from kubelite.client.informer import Informer
from kubelite.client.rest import ApiClient
from kubelite.sim.harness import SimCluster

CONTROLLERS = "replicaset,deployment,nodelifecycle,garbagecollector,namespace,serviceaccount,endpoints"
NAMESPACE = "mem"


def load() -> str:
    return f"load average {os.getloadavg()[0]:.2f}"


def snapshot(cluster: SimCluster) -> dict[str, tuple[int, float]]:
    """name -> (RSS bytes, CPU seconds) of every live process of the cluster."""
    out: dict[str, tuple[int, float]] = {}
    for name, p in cluster.processes().items():
        try:
            t = p.cpu_times()
            out[name] = (p.memory_info().rss, float(t.user + t.system))
        except psutil.Error:
            continue
    return out


def rss_line(snap: dict[str, tuple[int, float]]) -> str:
    return ", ".join(f"{name} {rss / 2**20:.0f}" for name, (rss, _) in snap.items()) + " MiB"


def deployment(name: str, replicas: int) -> dict[str, Any]:
    """A Deployment shaped like a small real app (labels, env, probes, tolerations): what caches hold."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name, "tier": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "web", "version": "v1"},
                             "annotations": {"example.com/owner": "team-a"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{
                        "name": "app", "image": "registry.k8s.io/pause:3.10",
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "env": [{"name": "MODE", "value": "bench"}, {"name": "LEVEL", "value": "info"}],
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                                      "limits": {"cpu": "100m", "memory": "64Mi"}},
                    }],
                },
            },
        },
    }


class RunningCounter:
    """Counts Running pods of the namespace from one informer (no polling LISTs)."""

    def __init__(self, client: ApiClient) -> None:
        self.informer = Informer(client, PODS, NAMESPACE)
        self.n = 0
        self.informer.add_handler(lambda o: self._changed(None, o), self._changed, lambda o: self._changed(o, None))

    def _changed(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        self.n += (1 if new is not None and running(new) else 0) - (1 if old is not None and running(old) else 0)

    async def wait(self, want: int, limit_s: float) -> float:
        t0 = time.monotonic()
        next_report = 15.0
        while self.n < want:
            elapsed = time.monotonic() - t0
            if elapsed > limit_s:
                raise TimeoutError(f"only {self.n}/{want} pods Running after {limit_s:.0f}s")
            if elapsed >= next_report:
                log(f"    ... {self.n}/{want} Running after {elapsed:.0f}s")
                next_report += 15
            await asyncio.sleep(0.25)
        return time.monotonic() - t0


async def create_pods(client: ApiClient, first: int, total: int, per_deployment: int) -> None:
    for i in range((total + per_deployment - 1) // per_deployment):
        replicas = min(per_deployment, total - i * per_deployment)
        await client.create(DEPLOYMENTS, deployment(f"d{first + i}", replicas), NAMESPACE)


async def cluster_run(args: argparse.Namespace) -> list[bytes]:
    """The cluster scenario; returns a few raw pods (JSON) for the per-event figures."""
    cluster = SimCluster(controllers=CONTROLLERS)
    cluster.start()
    client = ApiClient.from_kubeconfig(str(cluster.kubeconfig))
    try:
        cluster.start_sim(args.nodes, extra=["--pods", str(args.pods_per_node), "--lease-interval", "10s"])
        await wait_nodes_ready(client, args.nodes, "sim-", limit_s=300)
        await asyncio.sleep(3)
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        counter = RunningCounter(client)
        await counter.informer.start()
        await counter.informer.wait_synced()
        base = snapshot(cluster)
        log(f"{args.nodes} nodes Ready; RSS: {rss_line(base)} ({load()})")
        half = args.pods // 2
        snaps = [base]
        for first, count in ((0, half), (half, args.pods - half)):
            await create_pods(client, first // args.per_deployment, count, args.per_deployment)
            elapsed = await counter.wait(first + count, limit_s=max(600, args.pods / 10))
            await asyncio.sleep(args.settle)  # late status writes, events, the sim's periodic gc
            snap = snapshot(cluster)
            snaps.append(snap)
            log(f"{first + count} pods Running ({elapsed:.1f}s for this half); RSS: {rss_line(snap)} ({load()})")
        mid, end = snaps[1], snaps[2]
        n = args.pods - half
        log(f"marginal memory per pod (RSS at {args.pods} - RSS at {half}) / {n}:")
        for name in end:
            if name in mid:
                log(f"    {name:<20} {(end[name][0] - mid[name][0]) / n / 1024:7.2f} KiB/pod   "
                    f"(RSS {end[name][0] / 2**20:.0f} MiB at {args.pods})")
        log(f"CPU seconds from nodes Ready to {args.pods} pods Running (ms per pod):")
        for name in end:
            if name in base:
                cpu = end[name][1] - base[name][1]
                log(f"    {name:<20} {cpu:7.1f} s   ({1000 * cpu / args.pods:.2f} ms/pod)")
        log(f"({load()})")
        page = await client.list(PODS, NAMESPACE, limit=200)
        await counter.informer.stop()
        return [orjson.dumps(p) for p in page.get("items") or []]
    finally:
        await client.close()
        cluster.close()


def synthetic_pods(n: int) -> list[bytes]:
    """Pods shaped like a Deployment's (for --micro-only, without a cluster)."""
    tmpl = deployment("d0", 1)["spec"]["template"]
    out = []
    for i in range(n):
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": f"d0-7f9c-{i:05d}", "namespace": NAMESPACE, "uid": f"uid-{i:08d}",
                "resourceVersion": str(1000 + i), "creationTimestamp": "2026-01-01T00:00:00Z",
                "generateName": "d0-7f9c-", "labels": {**tmpl["metadata"]["labels"], "pod-template-hash": "7f9c"},
                "annotations": tmpl["metadata"]["annotations"],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "d0-7f9c",
                                     "uid": "rs-uid", "controller": True, "blockOwnerDeletion": True}],
            },
            "spec": {**tmpl["spec"], "nodeName": f"sim-{i % 200}", "restartPolicy": "Always",
                     "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                     "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                      "effect": "NoExecute", "tolerationSeconds": 300}]},
            "status": {"phase": "Running", "podIP": f"10.42.{i % 200}.{i % 250}", "hostIP": "10.0.0.1",
                       "startTime": "2026-01-01T00:00:01Z",
                       "conditions": [{"type": t, "status": "True", "lastProbeTime": None,
                                       "lastTransitionTime": "2026-01-01T00:00:02Z"}
                                      for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
                       "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0,
                                              "image": "registry.k8s.io/pause:3.10",
                                              "containerID": f"sim://{i:012x}",
                                              "state": {"running": {"startedAt": "2026-01-01T00:00:02Z"}}}]},
        }
        out.append(orjson.dumps(pod))
    return out


def micro(raw: list[bytes], rounds: int) -> None:
    """CPU per watch event as an informer spends it: decode, (compact,) replace the cached version;
    for ADDED (new pods) and MODIFIED (a status write) events, plain and compacted (best of 3).
    And the Python heap a cached pod takes, plain and compacted."""
    try:
        from kubelite.client.compact import Compactor
    except ImportError:
        log("kubelite.client.compact not there: no per-event figures")
        return
    if not raw:
        log("no pods to measure")
        return
    pods = [orjson.loads(d) for d in raw]
    fresh = [_variant(p, r) for r in range(rounds) for p in pods]  # all distinct, as new pods are
    modified = []
    for d in fresh:
        pod = orjson.loads(d)
        meta = pod.setdefault("metadata", {})
        meta["resourceVersion"] = str(meta.get("resourceVersion") or "") + "1"
        pod.setdefault("status", {})["phase"] = "Running"
        modified.append(orjson.dumps(pod))

    def run(comp: Compactor | None) -> tuple[float, float]:
        cache: dict[int, Any] = {}
        t0 = time.process_time()
        for i, d in enumerate(fresh):
            obj = orjson.loads(d)
            cache[i] = comp.compact(obj) if comp is not None else obj
        added = time.process_time() - t0
        t0 = time.process_time()
        for i, d in enumerate(modified):
            obj = orjson.loads(d)
            cache[i] = comp.compact(obj, cache[i]) if comp is not None else obj
        changed = time.process_time() - t0
        return added / len(fresh) * 1e6, changed / len(modified) * 1e6

    plain = [run(None) for _ in range(3)]
    compacted = [run(Compactor()) for _ in range(3)]
    log(f"CPU per event ({len(fresh)} distinct pods; decode + cache, best of 3): "
        f"ADDED plain {min(a for a, _ in plain):.1f} us, compacted {min(a for a, _ in compacted):.1f} us; "
        f"MODIFIED plain {min(m for _, m in plain):.1f} us, compacted {min(m for _, m in compacted):.1f} us "
        f"({load()})")

    gc.collect()
    tracemalloc.start()
    heap0 = tracemalloc.get_traced_memory()[0]
    kept = [orjson.loads(d) for d in fresh]
    heap1 = tracemalloc.get_traced_memory()[0]
    comp = Compactor()
    shared = [comp.compact(orjson.loads(d)) for d in fresh]
    heap2 = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    log(f"heap per cached pod: plain {(heap1 - heap0) / len(kept):.0f} B, "
        f"compacted {(heap2 - heap1) / len(shared):.0f} B")


def _variant(pod: dict[str, Any], r: int) -> bytes:
    """The pod as a different pod would be: its own name, uid and container ids."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    statuses = [{**c, "containerID": f"{c.get('containerID')}-{r}"} for c in status.get("containerStatuses") or []]
    return orjson.dumps({**pod, "metadata": {**meta, "name": f"{meta.get('name')}-{r}", "uid": f"{meta.get('uid')}-{r}"},
                         "status": {**status, "containerStatuses": statuses} if status else status})


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--pods-per-node", type=int, default=250)
    ap.add_argument("--pods", type=int, default=20_000)
    ap.add_argument("--per-deployment", type=int, default=1000)
    ap.add_argument("--settle", type=float, default=8.0, help="seconds to wait after each half is Running")
    ap.add_argument("--micro-only", action="store_true", help="only the per-event figures (synthetic pods)")
    ap.add_argument("--compare", action="store_true",
                    help="run the cluster twice, back to back: KUBELITE_COMPACT=0 (informers cache objects "
                         "as decoded), then compacted")
    args = ap.parse_args()
    if args.pods < 2 or args.nodes < 1:
        sys.exit("--pods must be >= 2 and --nodes >= 1")
    if args.nodes * args.pods_per_node < args.pods:
        sys.exit(f"{args.nodes} nodes x {args.pods_per_node} pods hold fewer than {args.pods} pods")
    log(f"kubelite memory bench: {psutil.cpu_count()} cores, {load()}")
    if args.micro_only:
        raw = synthetic_pods(200)
    elif args.compare:
        os.environ["KUBELITE_COMPACT"] = "0"
        log("== without compaction (KUBELITE_COMPACT=0)")
        await cluster_run(args)
        os.environ.pop("KUBELITE_COMPACT")
        log("== with compaction")
        raw = await cluster_run(args)
    else:
        log(f"(KUBELITE_COMPACT={os.environ.get('KUBELITE_COMPACT', '1')})")
        raw = await cluster_run(args)
    micro(raw, rounds=20)


def _exit_on_first_sigterm(*_: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(143)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_first_sigterm)
    asyncio.run(main())
