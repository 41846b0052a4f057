"""Benchmark the kubelite API server the way docs/baselines.md measured the real one.

    .venv/bin/python bench/apiserver.py [--quick] [--datastore sqlite|etcd|both]
                                        [--fanout-only 200,1000] [--watcher-procs 4]
                                        [--memory 20000]

Starts a real `kubelite server` subprocess (SQLite, and/or etcd from Debian's binary), drives it
with aiohttp clients (HTTP/1.1 keep-alive, JSON, one connection per client), and prints:
pod creates/s with p50/p99 at 1, 16 and 64 clients; GETs/s; the kubelet/scheduler write path at
16 clients (pods/status merge PATCHes, Lease renewals by PUT, Event creates); LIST of N pods from the store and
from the watch cache (resourceVersion=0); watch fan-out latency (write acknowledged -> event read
by each watcher) for 200 and 1000 watchers, with the watchers in --watcher-procs child processes,
and the server's CPU time per delivered event; per-node pod watchers (`fieldSelector=spec.nodeName=X`,
one per node, as real kubelets watch) with the server's CPU time per pod create; the apiserver's RSS. Real-Kubernetes figures from
/work/shared/docs/baselines.md are printed beside ours. --fanout-only runs just the fan-out.
--memory N runs just a memory measurement: N pods created, bound and given a kubelet-like Running
status through the API (as in a scale run), with the server's RSS before and after and per pod.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import ssl
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import psutil

from kubelite.testing.server import KubeliteServer

NS = "/api/v1/namespaces/bench/pods"

BASELINE = {
    "create_1": "203/s, p50 4.8 ms, p99 10.6 ms",
    "create_16": "595/s, p50 23.8 ms, p99 79.0 ms",
    "create_64": "725/s, p50 82.8 ms, p99 217.6 ms",
    "get_16": "1,429/s, p50 10.0 ms, p99 31.0 ms",
    "list": "from etcd 592 ms / from watch cache 283 ms (10,000 pods)",
    "watch_200": "p50 7.5 ms, p99 19.7 ms",
    "watch_1000": "p50 41.2 ms, p99 79.8 ms",
    "rss": "kube-apiserver idle 310 MiB, after the API run 705 MiB",
}


def pod(name: str) -> bytes:
    return orjson.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36",
                                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}})


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


@dataclass
class Bench:
    srv: KubeliteServer
    ctx: ssl.SSLContext
    #: server CPU seconds (user + system) spent during the last fan-out's write phase
    fanout_cpu: float = 0.0
    #: processes the fan-out's watchers are spread over
    watcher_procs: int = 4

    def session(self, connections: int) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            base_url=self.srv.url, headers={"Authorization": f"Bearer {self.srv.token}"},
            connector=aiohttp.TCPConnector(ssl=self.ctx, limit=connections),
            timeout=aiohttp.ClientTimeout(total=None))

    async def creates(self, clients: int, total: int, prefix: str) -> tuple[float, list[float]]:
        async def create(http: aiohttp.ClientSession, i: int) -> None:
            async with http.post(NS, data=pod(f"{prefix}-{i}"), headers={"Content-Type": "application/json"}) as r:
                await r.read()
                if r.status != 201:
                    raise RuntimeError(f"create failed: {r.status} {await r.text()}")
        return await self.ops(clients, total, create)

    async def gets(self, clients: int, names: list[str], total: int) -> tuple[float, list[float]]:
        async def get(http: aiohttp.ClientSession, _: int) -> None:
            async with http.get(f"{NS}/{random.choice(names)}") as r:
                await r.read()
        return await self.ops(clients, total, get)

    async def ops(self, clients: int, total: int, make: Any) -> tuple[float, list[float]]:
        """`total` requests from `clients` connections; make(http, i) sends one and checks it."""
        lat: list[float] = []
        remaining = iter(range(total))
        async with self.session(clients) as http:
            async def worker() -> None:
                for i in remaining:
                    t = time.perf_counter()
                    await make(http, i)
                    lat.append(time.perf_counter() - t)
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(clients)))
            elapsed = time.perf_counter() - start
        return total / elapsed, lat

    def server_cpu(self) -> float:
        proc = psutil.Process(self.srv.proc.pid) if self.srv.proc else None
        return sum(proc.cpu_times()[:2]) if proc else 0.0

    async def list_latency(self, rv0: bool, runs: int = 3) -> tuple[float, int, int]:
        times = []
        size = count = 0
        async with self.session(1) as http:
            for _ in range(runs):
                t = time.perf_counter()
                async with http.get(NS + ("?resourceVersion=0" if rv0 else "")) as r:
                    body = await r.read()
                times.append(time.perf_counter() - t)
                size = len(body)
                count = len(orjson.loads(body)["items"])
        return statistics.median(times), size, count

    async def fanout(self, watchers: int, writes: int, rate: float,
                     path: str = "/api/v1/namespaces/bench/configmaps?watch=true&resourceVersion=0&labelSelector=fan%3D1",
                     ) -> tuple[list[float], list[float]]:
        """Latency from each create's acknowledgement (and from its sending) to each watcher
        reading its event. The watchers run in `self.watcher_procs` child processes, so that
        reading 1,000 TLS streams does not share one Python process with the writer; times are
        CLOCK_MONOTONIC, comparable across processes. Also records the server's CPU time over
        the write phase (`self.fanout_cpu`): what the server's share of a fan-out costs,
        whatever else runs on the machine."""
        ctx = multiprocessing.get_context("spawn")
        ready_q = ctx.Queue()
        result_q = ctx.Queue()
        procs = []
        share = [watchers // self.watcher_procs + (1 if i < watchers % self.watcher_procs else 0)
                 for i in range(self.watcher_procs)]
        first = 0
        for n in share:
            if n:
                pr = ctx.Process(target=_watch_child, args=(self.srv.url, self.srv.token, str(self.srv.ca_cert),
                                                            path, n, writes, ready_q, result_q, first))
                pr.start()
                procs.append(pr)
            first += n
        ack: dict[str, float] = {}
        sent: dict[str, float] = {}
        received: list[tuple[str, float]] = []
        try:
            for _ in procs:
                await asyncio.to_thread(ready_q.get, True, 180)
            await asyncio.sleep(0.5)
            proc = psutil.Process(self.srv.proc.pid) if self.srv.proc else None
            cpu0 = sum(proc.cpu_times()[:2]) if proc else 0.0
            async with self.session(2) as http:
                for i in range(writes):
                    name = f"fan-{watchers}-{i}"
                    body = orjson.dumps({"metadata": {"name": name, "labels": {"fan": "1"}}})
                    sent[name] = time.monotonic()
                    async with http.post("/api/v1/namespaces/bench/configmaps", data=body,
                                         headers={"Content-Type": "application/json"}) as r:
                        await r.read()
                        ack[name] = time.monotonic()
                    await asyncio.sleep(1 / rate)
            for _ in procs:
                received += await asyncio.to_thread(result_q.get, True, 300)
            self.fanout_cpu = (sum(proc.cpu_times()[:2]) - cpu0) if proc else 0.0
        finally:
            for pr in procs:
                pr.join(30)
                if pr.is_alive():
                    pr.kill()
                    pr.join()
        # an event read before its POST returned counts as 0 ms (the write was not yet acknowledged)
        return ([max(0.0, t - ack[name]) for name, t in received if name in ack],
                [t - sent[name] for name, t in received if name in sent])

    async def delete_configmaps(self) -> None:
        async with self.session(1) as http:
            async with http.delete("/api/v1/namespaces/bench/configmaps") as r:
                await r.read()


def _watch_child(url: str, token: str, ca: str, path: str, watchers: int, writes: int,
                 ready_q: Any, result_q: Any, first: int = 0) -> None:
    """One watcher process: `watchers` watch streams; reports (name, CLOCK_MONOTONIC) per event read.

    `{i}` in `path` becomes the watcher's global index (first, first + 1, ...)."""
    received: list[tuple[str, float]] = []

    async def main() -> None:
        ctx = ssl.create_default_context(cafile=ca)
        ready = 0
        all_ready = asyncio.Event()
        async with aiohttp.ClientSession(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                         connector=aiohttp.TCPConnector(ssl=ctx, limit=watchers + 1),
                                         timeout=aiohttp.ClientTimeout(total=None)) as http:
            async def watcher(i: int) -> None:
                nonlocal ready
                async with http.get(path.replace("{i}", str(i))) as r:
                    ready += 1
                    if ready == watchers:
                        all_ready.set()
                    seen = 0
                    async for line in r.content:
                        received.append((orjson.loads(line)["object"]["metadata"]["name"], time.monotonic()))
                        seen += 1
                        if seen >= writes:
                            return
            tasks = [asyncio.create_task(watcher(first + i)) for i in range(watchers)]
            await asyncio.wait_for(all_ready.wait(), 120)
            ready_q.put(True)
            await asyncio.wait_for(asyncio.gather(*tasks), 300)

    asyncio.run(main())
    result_q.put(received)


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


async def run_fanout(b: Bench, watchers: int, writes: int) -> None:
    lat, from_send = await b.fanout(watchers, writes, 10.0)
    key = "watch_200" if watchers <= 200 else "watch_1000"
    deliveries = len(lat)
    per = b.fanout_cpu / deliveries * 1e6 if deliveries else float("nan")
    print(f"  watch fan-out, {watchers:>4} watchers x {writes} creates at 10/s: ack->event p50 {ms(pct(lat, 50))}"
          f"  p99 {ms(pct(lat, 99))}; send->event p50 {ms(pct(from_send, 50))}  p99 {ms(pct(from_send, 99))}"
          f" ({deliveries} deliveries; server CPU {b.fanout_cpu:.2f} s = {per:.0f} us/delivery)"
          f"    [k8s ({key.split('_')[1]} watchers, ack->event): {BASELINE[key]}]", flush=True)
    await b.delete_configmaps()


async def run_memory(b: Bench, n: int) -> None:
    """RSS per stored pod: n pods created, bound and set Running (3 writes each), as a scale run's."""
    proc = psutil.Process(b.srv.proc.pid) if b.srv.proc else None
    if proc is None:
        return
    rss0 = proc.memory_info().rss
    merge = {"Content-Type": "application/merge-patch+json"}

    async def one(http: aiohttp.ClientSession, i: int) -> None:
        name = f"mem-{i}"
        async with http.post(NS, data=pod(name), headers={"Content-Type": "application/json"}) as r:
            await check(r, 201)
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": f"node-{i % 100}"}}
        async with http.post(f"{NS}/{name}/binding", data=orjson.dumps(binding),
                             headers={"Content-Type": "application/json"}) as r:
            await check(r, 201)
        async with http.patch(f"{NS}/{name}/status", data=_status(i), headers=merge) as r:
            await check(r, 200)
    cpu0 = b.server_cpu()
    rate, _ = await b.ops(32, n, one)
    cpu = (b.server_cpu() - cpu0) / (3 * n) * 1e3
    await asyncio.sleep(1)
    rss1 = proc.memory_info().rss
    print(f"  memory: {n} pods (create + binding + status PATCH each, {rate:.0f} pods/s, server CPU {cpu:.2f} ms "
          f"per write): apiserver RSS {rss0 / 2**20:.0f} MiB -> {rss1 / 2**20:.0f} MiB, "
          f"{(rss1 - rss0) / n / 1024:.1f} KiB per pod", flush=True)


async def run(srv: KubeliteServer, quick: bool, fanout_only: list[int] | None = None, watcher_procs: int = 4,
              memory: int = 0) -> None:
    ctx = ssl.create_default_context(cafile=str(srv.ca_cert))
    b = Bench(srv, ctx, watcher_procs=watcher_procs)
    srv.request("POST", "/api/v1/namespaces", {"metadata": {"name": "bench"}})
    if memory:
        await run_memory(b, memory)
        return
    if fanout_only:
        for watchers in fanout_only:
            await run_fanout(b, watchers, 30 if quick else 100)
        return
    proc = psutil.Process(srv.proc.pid) if srv.proc else None
    idle_rss = proc.memory_info().rss / 2**20 if proc else 0.0
    sizes = {1: 100, 16: 600, 64: 1300} if quick else {1: 500, 16: 3000, 64: 6500}
    made: list[str] = []
    for clients, total in sizes.items():
        prefix = f"c{clients}"
        rate, lat = await b.creates(clients, total, prefix)
        made += [f"{prefix}-{i}" for i in range(total)]
        print(f"  pod creates, {clients:>2} clients, {total:>5} pods: {rate:7.0f}/s  p50 {ms(pct(lat, 50))}  "
              f"p99 {ms(pct(lat, 99))}    [k8s: {BASELINE[f'create_{clients}']}]", flush=True)
    target = 2000 if quick else 10000
    fill = target - len(made)
    if fill > 0:
        await b.creates(16, fill, "fill")
        made += [f"fill-{i}" for i in range(fill)]
    rate, lat = await b.gets(16, made, 2000 if quick else 10000)
    print(f"  GET one pod, 16 clients: {rate:7.0f}/s  p50 {ms(pct(lat, 50))}  p99 {ms(pct(lat, 99))}"
          f"    [k8s: {BASELINE['get_16']}]", flush=True)
    t_store, size, count = await b.list_latency(False)
    t_cache, _, count0 = await b.list_latency(True)
    print(f"  LIST {count} pods ({size / 1e6:.1f} MB): from store {ms(t_store)}, RV=0 from cache {ms(t_cache)} "
          f"({count0} items)    [k8s: {BASELINE['list']}]", flush=True)
    await run_write_path(b, made, 2000 if quick else 10000)
    for watchers in ((50, 200) if quick else (200, 1000)):
        await run_fanout(b, watchers, 30 if quick else 100)
    await run_node_watchers(b, 500 if quick else 2000)
    rss = proc.memory_info().rss / 2**20 if proc else 0.0
    print(f"  apiserver RSS: idle {idle_rss:.0f} MiB, after the run {rss:.0f} MiB    [k8s: {BASELINE['rss']}]")


def _status(i: int) -> bytes:
    """A kubelet-like pods/status merge patch (a new condition time each time, so it is a write)."""
    t = f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z"
    return orjson.dumps({"status": {
        "phase": "Running", "podIP": "10.42.0.7", "podIPs": [{"ip": "10.42.0.7"}], "hostIP": "172.16.0.1",
        "startTime": "2026-01-01T00:00:00Z",
        "conditions": [{"type": t2, "status": "True", "lastProbeTime": None, "lastTransitionTime": t}
                       for t2 in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
        "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0, "started": True,
                               "image": "busybox:1.36", "imageID": "sha256:0", "containerID": f"sim://{i}",
                               "state": {"running": {"startedAt": t}}}]}})


async def check(r: aiohttp.ClientResponse, want: int) -> bytes:
    body = await r.read()
    if r.status != want:
        raise RuntimeError(f"{r.method} {r.url}: {r.status} {body[:300]!r}")
    return body


async def run_write_path(b: Bench, made: list[str], total: int) -> None:
    """What kubelets and the scheduler send most: status PATCHes, Lease PUTs, Event POSTs."""
    merge = {"Content-Type": "application/merge-patch+json"}

    async def patch(http: aiohttp.ClientSession, i: int) -> None:
        async with http.patch(f"{NS}/{made[i % len(made)]}/status", data=_status(i), headers=merge) as r:
            await check(r, 200)
    cpu0 = b.server_cpu()
    rate, lat = await b.ops(16, total, patch)
    cpu = (b.server_cpu() - cpu0) / total * 1e3
    print(f"  pods/status merge PATCH, 16 clients: {rate:7.0f}/s  p50 {ms(pct(lat, 50))}  p99 {ms(pct(lat, 99))}"
          f"  (server CPU {cpu:.2f} ms per request)", flush=True)

    leases_path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    n_leases = 200
    last: dict[int, dict[str, Any]] = {}
    async with b.session(4) as http:
        for j in range(n_leases):
            body = {"metadata": {"name": f"bench-node-{j}"},
                    "spec": {"holderIdentity": f"bench-node-{j}", "leaseDurationSeconds": 40,
                             "renewTime": "2026-01-01T00:00:00.000000Z"}}
            async with http.post(leases_path, data=orjson.dumps(body),
                                 headers={"Content-Type": "application/json"}) as r:
                last[j] = orjson.loads(await check(r, 201))

    async def renew(http: aiohttp.ClientSession, i: int) -> None:
        # as the kubelet does: PUT the Lease it last wrote, with a new renewTime
        j = i % n_leases
        lease = last[j]
        lease["spec"]["renewTime"] = f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000000:06d}Z"
        async with http.put(f"{leases_path}/bench-node-{j}", data=orjson.dumps(lease),
                            headers={"Content-Type": "application/json"}) as r:
            if r.status == 409:  # a slow earlier renewal of the same lease: re-read, as a kubelet would
                await r.read()
                async with http.get(f"{leases_path}/bench-node-{j}") as g:
                    last[j] = orjson.loads(await check(g, 200))
                return
            last[j] = orjson.loads(await check(r, 200))
    # 16 clients on 200 leases: each lease is renewed by one client at a time (i % 200 in order)
    cpu0 = b.server_cpu()
    rate, lat = await b.ops(16, total, renew)
    cpu = (b.server_cpu() - cpu0) / total * 1e3
    print(f"  Lease renewal PUT, 16 clients: {rate:7.0f}/s  p50 {ms(pct(lat, 50))}  p99 {ms(pct(lat, 99))}"
          f"  (server CPU {cpu:.2f} ms per request)", flush=True)

    async def event(http: aiohttp.ClientSession, i: int) -> None:
        pod_name = made[i % len(made)]
        body = {"metadata": {"name": f"{pod_name}.{i:x}", "namespace": "bench"},
                "involvedObject": {"kind": "Pod", "namespace": "bench", "name": pod_name, "apiVersion": "v1"},
                "reason": "Started", "message": "Started container c", "type": "Normal",
                "source": {"component": "kubelet", "host": "node-1"}, "count": 1,
                "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z"}
        async with http.post("/api/v1/namespaces/bench/events", data=orjson.dumps(body),
                             headers={"Content-Type": "application/json"}) as r:
            await check(r, 201)
    cpu0 = b.server_cpu()
    rate, lat = await b.ops(16, total, event)
    cpu = (b.server_cpu() - cpu0) / total * 1e3
    print(f"  Event create, 16 clients: {rate:7.0f}/s  p50 {ms(pct(lat, 50))}  p99 {ms(pct(lat, 99))}"
          f"  (server CPU {cpu:.2f} ms per request)", flush=True)


async def run_node_watchers(b: Bench, nodes: int) -> None:
    """One pod watch per node (`fieldSelector=spec.nodeName=bench-<i>`, as kubelets watch), then one
    pod created on each node: what each create costs the server while those watches are open."""
    path = ("/api/v1/pods?watch=true&resourceVersion=0&fieldSelector=spec.nodeName%3Dbench-{i}")
    # fanout() writes ConfigMaps; here the writes are pods bound to each watcher's node.
    ctx = multiprocessing.get_context("spawn")
    ready_q, result_q = ctx.Queue(), ctx.Queue()
    procs = []
    first = 0
    share = [nodes // b.watcher_procs + (1 if i < nodes % b.watcher_procs else 0) for i in range(b.watcher_procs)]
    for n in share:
        if n:
            pr = ctx.Process(target=_watch_child, args=(b.srv.url, b.srv.token, str(b.srv.ca_cert), path, n, 1,
                                                        ready_q, result_q, first))
            pr.start()
            procs.append(pr)
        first += n
    received: list[tuple[str, float]] = []
    try:
        for _ in procs:
            await asyncio.to_thread(ready_q.get, True, 180)
        await asyncio.sleep(0.5)

        async def create(http: aiohttp.ClientSession, i: int) -> None:
            body = orjson.loads(pod(f"nw-{i}"))
            body["spec"]["nodeName"] = f"bench-{i}"
            async with http.post(NS, data=orjson.dumps(body), headers={"Content-Type": "application/json"}) as r:
                await check(r, 201)
        cpu0 = b.server_cpu()
        rate, lat = await b.ops(8, nodes, create)
        for _ in procs:
            received += await asyncio.to_thread(result_q.get, True, 300)
        cpu = (b.server_cpu() - cpu0) / nodes * 1e3
    finally:
        for pr in procs:
            pr.join(30)
            if pr.is_alive():
                pr.kill()
                pr.join()
    print(f"  {nodes} per-node pod watchers (spec.nodeName=X), one pod created per node, 8 clients: {rate:7.0f}/s"
          f"  p50 {ms(pct(lat, 50))}  p99 {ms(pct(lat, 99))}; {len(received)} events delivered"
          f"  (server CPU {cpu:.2f} ms per create)", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    ap.add_argument("--datastore", choices=("sqlite", "etcd", "both"), default="both")
    ap.add_argument("--fanout-only", metavar="N[,N...]", default=None,
                    help="only the watch fan-out, with these watcher counts (e.g. 1000)")
    ap.add_argument("--watcher-procs", type=int, default=4, help="processes the watchers run in (default 4)")
    ap.add_argument("--memory", type=int, default=0, metavar="N",
                    help="only the memory measurement: RSS per pod after N pods are created, bound and Running")
    args = ap.parse_args()
    fanout_only = [int(n) for n in args.fanout_only.split(",")] if args.fanout_only else None
    kinds = ("sqlite", "etcd") if args.datastore == "both" else (args.datastore,)
    for kind in kinds:
        cluster = None
        datastore = None
        if kind == "etcd":
            from kubelite.testing.etcd import EtcdCluster

            cluster = EtcdCluster(size=1).start()
            datastore = cluster.url
        # (--memory: the default watch cache size, as a scale run has)
        srv = KubeliteServer(datastore=datastore, extra_args=[] if args.memory else ["--watch-cache-size", "200000"])
        try:
            srv.start()
            print(f"kubelite apiserver, datastore {kind}{' (quick)' if args.quick else ''}:", flush=True)
            asyncio.run(run(srv, args.quick, fanout_only, args.watcher_procs, args.memory))
        finally:
            srv.cleanup()
            if cluster is not None:
                cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

