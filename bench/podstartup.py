"""Pod startup latency on one real node: POST -> Running (seen through a watch).

    sudo .venv/bin/python bench/podstartup.py [--pods 100] [--rate 10] [--floor-samples 20]

Starts a `kubelite server` (with the scheduler and controllers: run as their own processes
when the server does not embed them) and one `kubelite agent` whose containerd runs in a
network namespace made here (deleted afterwards). With the images already imported, it creates
`--pods` pods at `--rate` per second and prints, for POST -> Running as a watcher sees it, the
p50/p90/p99. Beside it the floor measured in the same run: containerd alone, driven through the
CRI client, running the same image (sandbox + container, to RUNNING), one pod at a time, and
again at the same arrival rate as the pods (what the node can do at best under that load).
Kubernetes' SLO is p99 <= 5 s; kubelite's target is p99 <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from kubelite.api.resources import NODES, PODS
from kubelite.client.rest import ApiClient, ApiError
from kubelite.runtime.cri.client import CriRuntime
from kubelite.runtime.images import BUSYBOX_IMAGE
from kubelite.runtime.types import ContainerConfig, ContainerState, PodSandboxConfig
from kubelite.testing.server import KubeliteServer

KUBELITE = [sys.executable, "-m", "kubelite"]
NS = "default"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def line(label: str, values: list[float]) -> str:
    return (f"{label:<44} n={len(values):<4} p50={pct(values, 50) * 1000:7.0f} ms  "
            f"p90={pct(values, 90) * 1000:7.0f} ms  p99={pct(values, 99) * 1000:7.0f} ms  "
            f"mean={statistics.fmean(values) * 1000 if values else float('nan'):7.0f} ms")


def bench_pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "startup"}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "main", "image": BUSYBOX_IMAGE, "command": ["sleep", "3600"]}]}}


async def wait_node_ready(client: ApiClient, name: str, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with contextlib.suppress(ApiError):
            node = await client.get(NODES, name)
            if any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", [])):
                return
        await asyncio.sleep(0.2)
    raise SystemExit(f"node {name} not Ready within {limit}s")


async def measure_api(client: ApiClient, count: int, rate: float) -> list[float]:
    listed = await client.list(PODS, NS)
    rv = listed["metadata"]["resourceVersion"]
    posted: dict[str, float] = {}
    running: dict[str, float] = {}
    done = asyncio.Event()

    async def watch() -> None:
        async for ev in client.watch(PODS, NS, resource_version=rv, label_selector="bench=startup"):
            if ev.type == "BOOKMARK":
                continue
            name = ev.object["metadata"]["name"]
            if ev.object.get("status", {}).get("phase") == "Running" and name not in running:
                running[name] = time.monotonic()
                if len(running) >= count:
                    done.set()
                    return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    start = time.monotonic()
    creates = []
    for i in range(count):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        name = f"startup-{i:03d}"
        posted[name] = time.monotonic()
        creates.append(asyncio.create_task(client.create(PODS, bench_pod(name), NS)))
    await asyncio.gather(*creates)
    try:
        await asyncio.wait_for(done.wait(), 300)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, ApiError):
            await watcher
    return [running[n] - posted[n] for n in posted if n in running]


async def measure_floor(socket_path: str, samples: int, log_dir: Path) -> list[float]:
    """containerd alone: sandbox + container of the same image, until the container runs."""
    rt = CriRuntime(socket_path)
    times: list[float] = []
    try:
        for i in range(samples):
            uid = uuid.uuid4().hex
            sb = PodSandboxConfig(name=f"floor-{i}", uid=uid, namespace="bench", hostname=f"floor-{i}",
                                  log_directory=str(log_dir / uid))
            t0 = time.monotonic()
            sid = await rt.run_pod_sandbox(sb)
            cid = await rt.create_container(sid, ContainerConfig(name="main", image=BUSYBOX_IMAGE,
                                                                 command=["sleep", "3600"], log_path="main/0.log"), sb)
            await rt.start_container(cid)
            for _ in range(2000):  # StartContainer returns once the task runs; this is a guard
                if (await rt.container_status(cid)).state == ContainerState.RUNNING:
                    break
                await asyncio.sleep(0.005)
            times.append(time.monotonic() - t0)
            await rt.stop_pod_sandbox(sid)
            await rt.remove_pod_sandbox(sid)
    finally:
        await rt.close()
    return times


async def measure_floor_at_rate(socket_path: str, count: int, rate: float, log_dir: Path) -> list[float]:
    """containerd alone at the same arrival rate as the pods: what the node can do at best."""
    rt = CriRuntime(socket_path)
    sandboxes: list[str] = []

    async def one(i: int) -> float:
        uid = uuid.uuid4().hex
        sb = PodSandboxConfig(name=f"rate-{i}", uid=uid, namespace="bench", hostname=f"rate-{i}",
                              log_directory=str(log_dir / uid))
        t0 = time.monotonic()
        sid = await rt.run_pod_sandbox(sb)
        sandboxes.append(sid)
        cid = await rt.create_container(sid, ContainerConfig(name="main", image=BUSYBOX_IMAGE,
                                                             command=["sleep", "3600"], log_path="main/0.log"), sb)
        await rt.start_container(cid)
        return time.monotonic() - t0

    try:
        start = time.monotonic()
        tasks = []
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(i)))
        return list(await asyncio.gather(*tasks))
    finally:
        for sid in sandboxes:
            await rt.stop_pod_sandbox(sid)
            await rt.remove_pod_sandbox(sid)
        await rt.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--floor-samples", type=int, default=20)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the node needs network namespaces and cgroups")
    root = Path(f"/tmp/klb-{uuid.uuid4().hex[:8]}")
    root.mkdir()
    netns = f"klb-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    subprocess.run(["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"], check=True)
    embedded = "control_plane" in inspect.signature(KubeliteServer).parameters
    server = KubeliteServer(data_dir=root / "server", control_plane=True) if embedded \
        else KubeliteServer(data_dir=root / "server")  # type: ignore[call-arg]
    procs: list[subprocess.Popen[bytes]] = []
    agent: subprocess.Popen[bytes] | None = None
    try:
        server.start()
        kc = str(server.kubeconfig)
        if not embedded:
            for extra in (["controller-manager", "--kubeconfig", kc], ["scheduler", "--kubeconfig", kc]):
                with open(root / f"{extra[0]}.log", "ab") as log:
                    procs.append(subprocess.Popen([*KUBELITE, *extra], stdout=log, stderr=subprocess.STDOUT,
                                                  start_new_session=True))
        with open(root / "agent.log", "ab") as log:
            agent = subprocess.Popen([*KUBELITE, "agent", "--kubeconfig", kc, "--node-name", "bench-node",
                                      "--data-dir", str(root / "node"), "--netns", netns, "--kubelet-port", "0",
                                      "--node-ip", "127.0.0.1"],
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

        async def run() -> tuple[list[float], list[float], list[float], list[float]]:
            client = ApiClient.from_kubeconfig(kc)
            try:
                await wait_node_ready(client, "bench-node")
                sock = str(root / "node" / "containerd" / "containerd.sock")
                # the floors first: each cleans up after itself before the next measurement starts
                floor = await measure_floor(sock, args.floor_samples, root / "floor-logs")
                rate_floor = await measure_floor_at_rate(sock, args.pods, args.rate, root / "floor-logs")
                warm = await measure_api(client, 1, 1.0)  # first pod: warms caches, not counted
                await client.delete(PODS, "startup-000", NS, grace_period_seconds=0)
                while True:  # wait for the warm-up pod to be gone before reusing its name
                    try:
                        await client.get(PODS, "startup-000", NS)
                        await asyncio.sleep(0.1)
                    except ApiError:
                        break
                api = await measure_api(client, args.pods, args.rate)
                return warm, api, floor, rate_floor
            finally:
                await client.close()

        warm, api, floor, rate_floor = asyncio.run(run())
        load = os.getloadavg()
        print(f"pod startup on one real node ({os.cpu_count()} cores, load average {load[0]:.2f})")
        print(f"  {args.pods} pods POSTed at {args.rate:g}/s, image present, scheduler included")
        print("  " + line("POST -> Running (watch), kubelite", api))
        print("  " + line("floor: containerd via CRI, one pod at a time", floor))
        print("  " + line(f"floor: containerd via CRI, {args.rate:g}/s like the pods", rate_floor))
        print(f"  warm-up pod: {warm[0] * 1000:.0f} ms" if warm else "  warm-up pod: -")
        print("  Kubernetes SLO: p99 <= 5 s; kubelite target: p99 <= 1 s")
    finally:
        if agent is not None and agent.poll() is None:
            os.kill(agent.pid, signal.SIGTERM)
            try:
                agent.wait(120)
            except subprocess.TimeoutExpired:
                os.kill(agent.pid, signal.SIGKILL)
                agent.wait()
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(30)
        server.stop()
        subprocess.run(["ip", "netns", "del", netns], check=False)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
