"""kube-proxy benchmarks (root): network programming latency and the cost of a ClusterIP.

    .venv/bin/python bench/proxy.py [--services 10,100,1000] [--changes 20] [--seconds 3]

1. Network programming latency: N Services (2 endpoints each) in an in-memory API (FakeApiClient,
   so only the proxy is measured), the proxy programming real iptables (nft backend) in a network
   namespace made here. Prints the first full sync, then the latency from an EndpointSlice change
   (the API write) to the iptables-restore that applies it having returned, over --changes changes.
2. Requests/s: one busybox httpd pod on a real containerd in the same namespace; a client on the
   node opens a new TCP connection per request (the DNAT happens per connection) to the ClusterIP
   and straight to the pod IP, alternately, in the same run. The ratio is the proxy's cost.
Everything started here is stopped by PID and the namespace deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from kubelite.api.resources import ENDPOINTSLICES, SERVICES
from kubelite.client.fake import FakeApiClient
from kubelite.client.informer import InformerFactory
from kubelite.network.netns import in_netns
from kubelite.proxy.proxier import Proxier


def _svc(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "bench", "name": f"s{i}"},
            "spec": {"type": "ClusterIP", "clusterIP": f"10.43.{100 + i // 250}.{i % 250 + 1}",
                     "ports": [{"name": "http", "port": 80}]}}


def _slice(name: str, ips: list[str], port: int = 8080) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"namespace": "bench", "name": f"{name}-x", "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips]}


async def programming_latency(netns: str, n: int, changes: int) -> None:
    fake = FakeApiClient()
    for i in range(n):
        fake.add(SERVICES, _svc(i))
        fake.add(ENDPOINTSLICES, _slice(f"s{i}", [f"10.42.{i % 200}.{i % 250 + 2}", "10.42.250.2"]))
    factory = InformerFactory(fake)  # type: ignore[arg-type]
    proxier = Proxier(factory, node_name="bench", netns=netns, node_ips=["10.45.0.2"])
    t0 = time.monotonic()
    await factory.start()
    await proxier.start()
    await proxier.wait_for_sync(limit=300)
    first = time.monotonic() - t0
    lat = []
    for k in range(changes):
        name = f"s{(k * 7) % n}"
        sl = await fake.get(ENDPOINTSLICES, f"{name}-x", "bench")
        sl["endpoints"][1]["addresses"] = [f"10.42.251.{k % 250 + 2}"]
        count = proxier.sync_count
        t = time.monotonic()
        await fake.replace(ENDPOINTSLICES, sl, "bench")
        await proxier.wait_for_sync(count + 1, limit=120)
        lat.append(time.monotonic() - t)
    await proxier.cleanup()
    await factory.stop()
    lat.sort()
    print(f"{n:>5} services: first full sync {first * 1000:8.1f} ms; endpoint change -> rules applied: "
          f"median {statistics.median(lat) * 1000:6.1f} ms, p90 {lat[int(len(lat) * 0.9) - 1] * 1000:6.1f} ms, "
          f"max {lat[-1] * 1000:6.1f} ms ({changes} changes)")


def _rps(netns: str, ip: str, port: int, seconds: float) -> float:
    def loop() -> float:
        req = f"GET / HTTP/1.0\r\nHost: {ip}\r\n\r\n".encode()
        n, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            with socket.create_connection((ip, port), timeout=5) as s:
                s.sendall(req)
                while s.recv(65536):
                    pass
            n += 1
        return n / seconds
    return in_netns(netns, loop)


async def requests_per_second(netns: str, seconds: float) -> None:
    from kubelite.runtime.containerd import Containerd
    from kubelite.runtime.cri import CriRuntime
    from kubelite.runtime.images import build_images
    from kubelite.runtime.types import ContainerConfig, PodSandboxConfig

    work = Path(f"/tmp/klbp-{uuid.uuid4().hex[:6]}")
    images = work / "images"
    await asyncio.to_thread(build_images, images)
    node = Containerd(work / "cd", netns=netns, pod_cidr="10.42.0.0/24", images_dir=images)
    await node.start()
    rt = CriRuntime(node.address)
    fake = FakeApiClient()
    factory = InformerFactory(fake)  # type: ignore[arg-type]
    proxier = Proxier(factory, node_name="bench", netns=netns, node_ips=["10.45.0.2"])
    try:
        cfg = PodSandboxConfig(name="web", uid=uuid.uuid4().hex, namespace="bench", hostname="web",
                               log_directory=str(work / "logs"))
        sid = await rt.run_pod_sandbox(cfg)
        ip = (await rt.pod_sandbox_status(sid)).ip
        cid = await rt.create_container(sid, ContainerConfig(
            name="httpd", image="kubelite.local/busybox:1.35", log_path="httpd.log",
            command=["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]),
            cfg)
        await rt.start_container(cid)
        svc = _svc(0)
        fake.add(SERVICES, svc)
        fake.add(ENDPOINTSLICES, _slice("s0", [ip]))
        await factory.start()
        await proxier.start()
        await proxier.wait_for_sync()
        vip = svc["spec"]["clusterIP"]
        for _ in range(100):  # httpd up?
            try:
                await asyncio.to_thread(_rps, netns, ip, 8080, 0.05)
                break
            except OSError:
                await asyncio.sleep(0.1)
        direct, via = [], []
        for _ in range(3):
            direct.append(await asyncio.to_thread(_rps, netns, ip, 8080, seconds / 3))
            via.append(await asyncio.to_thread(_rps, netns, vip, 80, seconds / 3))
        d, v = statistics.mean(direct), statistics.mean(via)
        print(f"requests/s, new connection each: pod IP {d:8.0f}   ClusterIP {v:8.0f}   ratio {v / d:.2f}")
    finally:
        await proxier.cleanup()
        await factory.stop()
        await rt.close()
        await node.stop()
        shutil.rmtree(work, ignore_errors=True)


async def run(netns: str, args: argparse.Namespace) -> None:
    print(f"iptables (nft backend) in network namespace {netns}")
    for n in (int(x) for x in args.services.split(",")):
        await programming_latency(netns, n, args.changes)
    await requests_per_second(netns, args.seconds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--services", default="10,100,1000")
    p.add_argument("--changes", type=int, default=20)
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args()
    netns = f"klbench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        asyncio.run(run(netns, args))
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


if __name__ == "__main__":
    if sys.platform != "linux":
        sys.exit("linux only")
    tempfile.tempdir = "/tmp"
    main()
