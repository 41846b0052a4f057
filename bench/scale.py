"""How far one machine goes: simulated nodes and pods against a real kubelite control plane.

    .venv/bin/python bench/scale.py --quick               # SQLite and etcd, small figures
    .venv/bin/python bench/scale.py                       # full: 5000 nodes, 150,000 pods
    .venv/bin/python bench/scale.py --quick --datastore sqlite --nodes 2000

Each scenario starts its own cluster (server, scheduler, controller manager as separate
processes, plus `kubelite sim` processes) and prints:
 1. N nodes to Ready: time, apiserver CPU seconds and RSS;
 2. pods via Deployments to Running: time, pods/s, API p99 by verb (from /metrics), RSS of
    every process (10,000 pods on 100 nodes; full mode also 150,000 pods on 5000 nodes);
 3. 100 nodes killed (SIGKILL of their sim process): time until their pods run elsewhere.
Beside them: KWOK's CI anchors and the issue's targets. Figures are wall-clock on whatever the
machine is doing, so read them with the load average printed at the top.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from prometheus_client.parser import text_string_to_metric_families

from kubelite.api.resources import DEPLOYMENTS, NAMESPACES, NODES, PODS
from kubelite.client.informer import Informer
from kubelite.client.rest import ApiClient, ApiError
from kubelite.sim.harness import SimCluster
from kubelite.testing.etcd import EtcdCluster

ANCHORS = ("KWOK CI anchors: 10,000 pods Running on one node within 120 s; 10,000 nodes Ready within 180 s")
TARGETS = ("targets: 10,000 pods Running <= 30 s; 5000 nodes Ready <= 60 s; 150,000 pods in <= 8 GiB RSS in all; "
           "API p99: single-object <= 1 s, cluster-wide LIST <= 30 s")
LEASE_INTERVAL = "10s"
ETCD_PRESENT = os.path.exists("/usr/bin/etcd")
#: short node-lifecycle settings, so that the "100 nodes killed" scenario ends within a minute
GRACE, TOLERATION = "20s", "5s"
#: Kubernetes' defaults, for a scenario that only has to hold its pods (nothing is killed): a Lease
#: late by seconds on a saturated machine then makes a node NotReady for a moment, not an eviction
DEFAULT_GRACE, DEFAULT_TOLERATION = "40s", "300s"


def log(msg: str) -> None:
    print(msg, flush=True)


# -- metrics ------------------------------------------------------------------------------------------


def histograms(text: str) -> dict[str, dict[float, float]]:
    """verb -> cumulative bucket counts (le -> count) of apiserver_request_duration_seconds."""
    out: dict[str, dict[float, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_request_duration_seconds":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                continue
            verb = sample.labels.get("verb", "?")
            le = float(sample.labels["le"])
            buckets = out.setdefault(verb, {})
            buckets[le] = buckets.get(le, 0.0) + sample.value
    return out


def p99_by_verb(before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]) -> dict[str, tuple[int, str]]:
    """verb -> (requests during the run, p99 as the bucket bound it falls under)."""
    result: dict[str, tuple[int, str]] = {}
    for verb, buckets in after.items():
        prev = before.get(verb, {})
        delta = sorted((le, n - prev.get(le, 0.0)) for le, n in buckets.items())
        total = delta[-1][1] if delta else 0
        if total <= 0:
            continue
        bound = "inf"
        for le, n in delta:
            if n >= 0.99 * total:
                bound = f"<= {le:g}s" if le != float("inf") else "> largest bucket"
                break
        result[verb] = (int(total), bound)
    return result


def request_counts(text: str) -> dict[str, float]:
    """"verb resource" -> requests so far (apiserver_request_total, all codes)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_request":  # the parser drops the _total suffix
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                key = f"{sample.labels.get('verb', '?')} {sample.labels.get('resource', '?')}"
                out[key] = out.get(key, 0.0) + sample.value
    return out


def store_counts(text: str) -> dict[str, float]:
    """store operation -> calls so far (apiserver_storage_duration_seconds): compared with the API
    writes, the extra updates are compare-and-swap conflicts retried by the server."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_storage_duration_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_count"):
                out[sample.labels.get("operation", "?")] = sample.value
    return out


def per_unit(before: dict[str, float], after: dict[str, float], units: int, unit: str = "node") -> str:
    """The requests made between two scrapes, per node (or pod), largest first (what each one costs)."""
    delta = {k: v - before.get(k, 0.0) for k, v in after.items()}
    top = sorted(((n, k) for k, n in delta.items() if n > 0), reverse=True)[:8]
    total = sum(n for n, _ in top)
    return f"{total / units:.1f} per {unit} (" + ", ".join(f"{k} {n / units:.2f}" for n, k in top) + ")"


async def metrics_text(client: ApiClient) -> str:
    return (await client.request_raw("GET", "/metrics")).decode()


# -- process figures ----------------------------------------------------------------------------------


def processes(cluster: SimCluster, etcd: EtcdCluster | None) -> dict[str, psutil.Process]:
    """Every process of the cluster by name, etcd's members included."""
    procs = dict(cluster.processes())
    if etcd is not None:
        for m in etcd.members:
            if m.proc is not None and m.proc.poll() is None:
                procs[f"etcd-{m.name}"] = psutil.Process(m.proc.pid)
    return procs


def rss_table(cluster: SimCluster, etcd: EtcdCluster | None) -> tuple[str, int]:
    parts, total = [], 0
    for name, p in processes(cluster, etcd).items():
        try:
            rss = p.memory_info().rss
        except psutil.Error:
            continue
        total += rss
        parts.append(f"{name} {rss / 2**20:.0f} MiB")
    return ", ".join(parts), total


def cpu_seconds(p: psutil.Process) -> float:
    t = p.cpu_times()
    return float(t.user + t.system)


# -- waiting --------------------------------------------------------------------------------------------


def _ready(node: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


async def wait_nodes_ready(client: ApiClient, want: int, prefix: str, limit_s: float) -> float:
    """Seconds until `want` nodes named PREFIX* are Ready (one informer, no polling LISTs)."""
    informer = Informer(client, NODES)
    await informer.start()
    t0 = time.monotonic()
    try:
        while True:
            n = sum(1 for o in informer.store.list() if o["metadata"]["name"].startswith(prefix) and _ready(o))
            if n >= want:
                return time.monotonic() - t0
            if time.monotonic() - t0 > limit_s:
                raise TimeoutError(f"only {n}/{want} nodes Ready after {limit_s:.0f}s")
            await asyncio.sleep(0.25)
    finally:
        await informer.stop()


def deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
                },
            },
        },
    }


async def count_pods(client: ApiClient, namespace: str, pred: Callable[[dict[str, Any]], bool]) -> int:
    n, token = 0, None
    while True:
        page = await client.list(PODS, namespace, limit=5000, continue_token=token)
        n += sum(1 for p in page.get("items") or [] if pred(p))
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return n


def running(p: dict[str, Any]) -> bool:
    return (p.get("status") or {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")


async def run_pods(client: ApiClient, namespace: str, total: int, per_deployment: int, limit_s: float) -> float:
    """Create Deployments for `total` pods; seconds until all of them are Running (one informer, no polling)."""
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    # only Running pods are sent (as `kubectl get pods --field-selector status.phase=Running -w`): every
    # version of every pod, decoded here, took ~0.4 ms of CPU per pod on the cores the cluster runs on
    informer = Informer(client, PODS, namespace, field_selector="status.phase=Running")
    n_running = 0

    def changed(old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        nonlocal n_running
        n_running += (1 if new is not None and running(new) else 0) - (1 if old is not None and running(old) else 0)

    informer.add_handler(lambda o: changed(None, o), changed, lambda o: changed(o, None))
    await informer.start()
    try:
        await informer.wait_synced()
        t0 = time.monotonic()
        count = (total + per_deployment - 1) // per_deployment
        for i in range(count):
            replicas = min(per_deployment, total - i * per_deployment)
            await client.create(DEPLOYMENTS, deployment(f"d{i}", replicas), namespace)
        next_report = 10.0
        # when the first pod, then 10 %, 50 % and 90 % of them were Running: the start and the tail of the run
        milestones = {max(1, total * share // 100): f"{share}%" if share else "first" for share in (0, 10, 50, 90)}
        reached: list[str] = []
        while n_running < total:
            elapsed = time.monotonic() - t0
            for at in [at for at in milestones if n_running >= at]:
                reached.append(f"{milestones.pop(at)} {elapsed:.1f}s")
            if elapsed > limit_s:
                raise TimeoutError(f"only {n_running}/{total} pods Running after {limit_s:.0f}s")
            if elapsed >= next_report:
                log(f"    ... {n_running}/{total} pods Running after {elapsed:.0f}s")
                next_report += 10
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - t0
        log(f"    Running: {', '.join(reached + [f'all {elapsed:.1f}s'])}")
    finally:
        await informer.stop()
    listed = await count_pods(client, namespace, running)
    if listed < total:
        raise AssertionError(f"a LIST shows {listed} pods Running, expected {total}")
    return elapsed


# -- scenarios ------------------------------------------------------------------------------------------


def start_cluster(backend: str, grace: str = GRACE, toleration: str = TOLERATION) -> tuple[SimCluster, EtcdCluster | None]:
    etcd: EtcdCluster | None = None
    datastore = None
    if backend == "etcd":
        etcd = EtcdCluster(size=1)
        etcd.start()
        datastore = etcd.url
    # nodeipam left out: its 10.42.0.0/16 has 256 /24s; sim nodes bring their own pod ranges
    controllers = "replicaset,deployment,nodelifecycle,garbagecollector,namespace,serviceaccount,endpoints"
    cluster = SimCluster(datastore=datastore, grace=grace, toleration=toleration, controllers=controllers)
    try:
        cluster.start()
    except BaseException:
        if etcd is not None:
            etcd.stop()
        raise
    return cluster, etcd


def stop_cluster(cluster: SimCluster, etcd: EtcdCluster | None) -> None:
    cluster.close()
    if etcd is not None:
        etcd.stop()


async def nodes_ready(backend: str, nodes: int) -> None:
    cluster, etcd = start_cluster(backend)
    client = ApiClient.from_kubeconfig(str(cluster.kubeconfig))
    try:
        procs = cluster.processes()
        api = procs["apiserver"]
        cpu0 = cpu_seconds(api)
        counts0 = request_counts(await metrics_text(client))
        t0 = time.monotonic()
        sim = cluster.start_sim(nodes, extra=["--lease-interval", LEASE_INTERVAL],
                                wait=max(300, nodes * 0.2))
        sim_proc = psutil.Process(sim.pid)
        elapsed = await wait_nodes_ready(client, nodes, "sim-", limit_s=max(300, nodes * 0.2))
        elapsed_total = time.monotonic() - t0
        cpu = cpu_seconds(api) - cpu0
        rss = api.memory_info().rss
        counts1 = request_counts(await metrics_text(client))
        log(f"[{backend}] (1) {nodes} nodes Ready in {elapsed_total:.1f}s (informer saw all Ready {elapsed:.1f}s "
            f"after the sim said all had registered); apiserver CPU {cpu:.1f}s, RSS {rss / 2**20:.0f} MiB; "
            f"sim CPU {cpu_seconds(sim_proc):.1f}s, RSS {sim_proc.memory_info().rss / 2**20:.0f} MiB "
            f"(load average {os.getloadavg()[0]:.1f})")
        log(f"[{backend}]     API requests while joining: {per_unit(counts0, counts1, nodes)}")
        await asyncio.sleep(12)  # a full lease round at steady state
        cpu1, sim_cpu1 = cpu_seconds(api), cpu_seconds(sim_proc)
        counts2 = request_counts(await metrics_text(client))
        await asyncio.sleep(10)
        counts3 = request_counts(await metrics_text(client))
        log(f"[{backend}]     steady state: apiserver CPU {(cpu_seconds(api) - cpu1) / 10 * 100:.0f}% of a core, "
            f"sim {(cpu_seconds(sim_proc) - sim_cpu1) / 10 * 100:.0f}%, for {nodes} nodes renewing leases every "
            f"{LEASE_INTERVAL}; requests in 10 s: {per_unit(counts2, counts3, nodes)}")
    finally:
        await client.close()
        stop_cluster(cluster, etcd)


async def pods_running(backend: str, nodes: int, pods: int, kill: int, max_pods: int, sims: int = 1) -> None:
    cluster, etcd = start_cluster(backend, *((GRACE, TOLERATION) if kill else (DEFAULT_GRACE, DEFAULT_TOLERATION)))
    client = ApiClient.from_kubeconfig(str(cluster.kubeconfig))
    try:
        # `sims` processes share the nodes (one event loop for 5000 kubelets falls behind the pod watch)
        share = -(-nodes // sims)
        for i in range(sims):
            count = min(share, nodes - i * share)
            cluster.start_sim(count, first_index=i * share,
                              extra=["--pods", str(max_pods), "--lease-interval", LEASE_INTERVAL])
        await wait_nodes_ready(client, nodes, "sim-", limit_s=max(300, nodes * 0.2))
        text0 = await metrics_text(client)
        before, counts0 = histograms(text0), request_counts(text0)
        procs = processes(cluster, etcd)
        cpu0 = {name: cpu_seconds(p) for name, p in procs.items()}
        bench_cpu0 = time.process_time()
        try:
            elapsed = await run_pods(client, "scale", pods, 1000, limit_s=max(600, pods / 20))
        except (TimeoutError, AssertionError):
            keep_logs(cluster)
            raise
        text1 = await metrics_text(client)
        after, counts1 = histograms(text1), request_counts(text1)
        cpu = {name: cpu_seconds(p) - cpu0[name] for name, p in procs.items() if p.is_running()}
        table, total_rss = rss_table(cluster, etcd)
        log(f"[{backend}] (2) {pods} pods on {nodes} nodes Running in {elapsed:.1f}s = {pods / elapsed:.0f} pods/s "
            f"(node grace {cluster.grace}, toleration {cluster.toleration})")
        for verb, (n, p99) in sorted(p99_by_verb(before, after).items()):
            log(f"[{backend}]     API {verb:<8} {n:>8} requests, p99 {p99}")
        log(f"[{backend}]     CPU per pod: " + ", ".join(f"{name} {1000 * s / pods:.2f} ms" for name, s in cpu.items())
            + f"; all {1000 * sum(cpu.values()) / pods:.2f} ms (and this bench's own pod informer "
            f"{1000 * (time.process_time() - bench_cpu0) / pods:.2f} ms)")
        log(f"[{backend}]     API requests: {per_unit(counts0, counts1, pods, 'pod')}")
        store0, store1 = store_counts(text0), store_counts(text1)
        log(f"[{backend}]     store calls: {per_unit(store0, store1, pods, 'pod')}")
        log(f"[{backend}]     RSS: {table}; all {total_rss / 2**30:.2f} GiB")
        if kill:
            await kill_nodes(backend, cluster, client, nodes, kill, max_pods)
    finally:
        await client.close()
        stop_cluster(cluster, etcd)


def keep_logs(cluster: SimCluster) -> None:
    """Copy a failed run's logs (every component's, the server's) out of the cluster's data dir,
    which is removed when the cluster stops, and print their warnings' last lines."""
    kept = Path(tempfile.mkdtemp(prefix="kubelite-scale-failed-"))
    for path in cluster.data_dir.glob("*.log"):
        shutil.copy(path, kept / path.name)
        lines = [line for line in path.read_text(errors="replace").splitlines() if "WARNING" in line or "ERROR" in line]
        for line in lines[-5:]:
            log(f"    {path.stem}: {line[:300]}")
    log(f"    logs kept in {kept}")


async def kill_nodes(backend: str, cluster: SimCluster, client: ApiClient, first: int, kill: int,
                     max_pods: int) -> None:
    doomed = cluster.start_sim(kill, prefix="doomed-", first_index=first,
                               extra=["--pods", str(max_pods), "--lease-interval", LEASE_INTERVAL])
    await wait_nodes_ready(client, kill, "doomed-", limit_s=300)
    replicas = kill * 10
    await run_pods(client, "victims", replicas, replicas, limit_s=300)
    on_doomed = await count_pods(client, "victims",
                                 lambda p: str((p.get("spec") or {}).get("nodeName", "")).startswith("doomed-"))
    doomed.stop(signal.SIGKILL)
    t0 = time.monotonic()

    def elsewhere(p: dict[str, Any]) -> bool:
        return running(p) and not str(p["spec"].get("nodeName", "")).startswith("doomed-")

    while True:
        n = await count_pods(client, "victims", elsewhere)
        if n >= replicas:
            break
        if time.monotonic() - t0 > 600:
            raise TimeoutError(f"only {n}/{replicas} victims Running elsewhere after 600s")
        await asyncio.sleep(0.5)
    log(f"[{backend}] (3) {kill} nodes killed ({on_doomed} of {replicas} pods on them): all {replicas} Running "
        f"elsewhere after {time.monotonic() - t0:.1f}s (lease every {LEASE_INTERVAL}, grace {GRACE}, "
        f"toleration {TOLERATION})")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small figures (1000 nodes Ready; 10,000 pods only)")
    ap.add_argument("--datastore", choices=("sqlite", "etcd", "both"), default="both")
    ap.add_argument("--nodes", type=int, default=None, help="nodes for scenario 1 (default 5000; quick 1000)")
    ap.add_argument("--only", choices=("nodes", "pods", "big"), default=None, help="run one scenario")
    ap.add_argument("--pods", type=int, default=10_000,
                    help="pods of scenario 2 on 100 nodes (default 10,000; fewer for a shorter run)")
    ap.add_argument("--no-kill", action="store_true", help="scenario 2 without scenario 3 (100 nodes killed)")
    ap.add_argument("--sims", type=int, default=2,
                    help="kubelite sim processes sharing the big scenario's 5000 nodes (default 2: one falls "
                         "behind the pod watch at ~45,000 pods)")
    ap.add_argument("--big-pods", type=int, default=150_000,
                    help="pods of the big scenario on 5000 nodes (default 150,000; fewer for a shorter run)")
    args = ap.parse_args()
    backends = ["sqlite", "etcd"] if args.datastore == "both" else [args.datastore]
    if "etcd" in backends and not shutil.which("etcd") and not ETCD_PRESENT:
        sys.exit("etcd not installed (Debian: apt-get install etcd-server)")
    nodes = args.nodes or (1000 if args.quick else 5000)
    load = os.getloadavg()
    log(f"kubelite scale bench: {psutil.cpu_count()} cores, load average {load[0]:.1f}, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB; {'quick' if args.quick else 'full'} mode")
    log(ANCHORS)
    log(TARGETS)
    for backend in backends:
        try:
            if args.only in (None, "nodes"):
                await nodes_ready(backend, nodes)
            if args.only in (None, "pods"):
                await pods_running(backend, 100, args.pods, kill=0 if args.no_kill else 100, max_pods=max(120, -(-args.pods // 100) + 20))
            if args.only == "big" or (args.only is None and not args.quick):
                await pods_running(backend, 5000, args.big_pods, kill=0, max_pods=110, sims=max(1, args.sims))
        except (TimeoutError, AssertionError, ApiError, RuntimeError) as err:
            log(f"[{backend}] FAILED: {err}")


def _exit_on_first_sigterm(*_: object) -> None:
    """Unwind like Ctrl-C, once: a second SIGTERM (`timeout` forwards its own, a user repeats it)
    must not interrupt the `finally` blocks that are stopping the cluster's processes."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(143)


if __name__ == "__main__":
    # a SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so every scenario's `finally` stops its processes
    signal.signal(signal.SIGTERM, _exit_on_first_sigterm)
    asyncio.run(main())
