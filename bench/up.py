"""How fast `kubelite up` gives a usable cluster, and what it costs at idle.

    sudo .venv/bin/python bench/up.py [--runs 3] [--nodes 1]

For a new cluster (fresh data dir: certificates, images built) and a resumed one (`up` again
on the same dir), it prints the time from starting `kubelite up` to the API answering, to the
node Ready, and to a first pod Running (a busybox pod POSTed as soon as the API answers), then
the RSS of kubelite's own process and of its containerd (with the shims) after 5 s of idle.
Targets (issue 8): Ready <= 3 s, first pod Running <= 4 s, kubelite <= 150 MB RSS. Anchors: k3s
documents ~1.4-1.6 GB for server + agent and takes about a minute to get its default pods Ready.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psutil

NODE = f"bench{uuid.uuid4().hex[:5]}"
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "first"},
       "spec": {"containers": [{"name": "c", "image": "kubelite.local/busybox:1.35", "command": ["sleep", "3600"]}],
                "terminationGracePeriodSeconds": 0}}


class Api:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ctx: ssl.SSLContext | None = None
        self.url = ""
        self.token = ""

    def ready(self) -> bool:
        try:
            cfg = json.loads((self.data_dir / "cluster.json").read_text())
            self.token = (self.data_dir / "token").read_text().strip()
            self.ctx = ssl.create_default_context(cafile=str(self.data_dir / "tls" / "ca.crt"))
        except (OSError, ValueError, ssl.SSLError):
            return False
        kubeconfig = (self.data_dir / "kubeconfig.yaml").read_text() if (self.data_dir / "kubeconfig.yaml").exists() else ""
        for line in kubeconfig.splitlines():
            if "server:" in line:
                self.url = line.split("server:", 1)[1].strip()
        if not self.url:
            self.url = f"https://127.0.0.1:{cfg.get('api_port', 6443)}"
        try:
            return self.call("GET", "/readyz", raw=True)[0] == 200
        except OSError:
            return False

    def call(self, method: str, path: str, body: Any = None, raw: bool = False) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=5) as resp:
                status, payload = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, payload = e.code, e.read()
        return status, payload if raw else json.loads(payload or b"{}")


def one_run(data_dir: Path, nodes: int = 1) -> dict[str, float]:
    api = Api(data_dir)
    t0 = time.monotonic()
    out = open(data_dir.parent / "up.out", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen([sys.executable, "-m", "kubelite", "up", "--data-dir", str(data_dir), "--node-name", NODE,
                             "--nodes", str(nodes), "--port", "0", "--kubelet-port", "0"], stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    out.close()
    result: dict[str, float] = {}
    try:
        while not api.ready():
            if proc.poll() is not None or time.monotonic() - t0 > 60:
                raise RuntimeError((data_dir.parent / "up.out").read_text())
            time.sleep(0.01)
        result["api"] = time.monotonic() - t0
        api.call("DELETE", "/api/v1/namespaces/default/pods/first?gracePeriodSeconds=0")
        while api.call("GET", "/api/v1/namespaces/default/pods/first")[0] == 200:
            time.sleep(0.05)
        while api.call("POST", "/api/v1/namespaces/default/pods", POD)[0] not in (201, 409):
            time.sleep(0.02)
        while "ready" not in result or "pod" not in result:
            if time.monotonic() - t0 > 60:
                raise RuntimeError("timed out")
            if "ready" not in result:
                status, node = api.call("GET", f"/api/v1/nodes/{NODE}")
                conds = (node.get("status") or {}).get("conditions") or [] if status == 200 else []
                hb = [c for c in conds if c.get("type") == "Ready" and c.get("status") == "True"]
                if hb and "Ready" in (data_dir.parent / "up.out").read_text().split("kubelite up:")[-1]:
                    result["ready"] = time.monotonic() - t0
            if "pod" not in result:
                status, pod = api.call("GET", "/api/v1/namespaces/default/pods/first")
                if status == 200 and (pod.get("status") or {}).get("phase") == "Running":
                    result["pod"] = time.monotonic() - t0
            time.sleep(0.01)
        time.sleep(5)
        me = psutil.Process(proc.pid)
        result["rss_kubelite"] = me.memory_info().rss / 2**20
        runtime = [p for p in me.children(recursive=True) if "containerd" in p.name()]
        runtime += [p for p in psutil.process_iter(["cmdline"])
                    if "containerd-shim" in " ".join(p.info["cmdline"] or []) and str(data_dir) in
                    " ".join(p.info["cmdline"] or [])]
        result["rss_containerd"] = sum(p.memory_info().rss for p in {p.pid: p for p in runtime}.values()) / 2**20
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(60)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="kubelite up: time to Ready / first pod, idle RSS")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=1, help="nodes of the cluster (Ready: the first one)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/up.py needs root (kubelite up runs containerd)")
    base = Path(f"/tmp/kl-bench-up-{uuid.uuid4().hex[:6]}")
    base.mkdir()
    rows: dict[str, list[dict[str, float]]] = {"new cluster": [], "resumed": []}
    try:
        for _ in range(args.runs):
            data_dir = base / "data"
            rows["new cluster"].append(one_run(data_dir, args.nodes))
            rows["resumed"].append(one_run(data_dir, args.nodes))
            subprocess.run([sys.executable, "-m", "kubelite", "down", "--purge", "--data-dir", str(data_dir)],
                           capture_output=True, timeout=120)
    finally:
        subprocess.run([sys.executable, "-m", "kubelite", "down", "--data-dir", str(base / "data")],
                       capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)
    print(f"kubelite up --nodes {args.nodes}, {args.runs} runs each (median; seconds from starting `kubelite up`)")
    print(f"{'':14}{'API answers':>12}{'node Ready':>12}{'pod Running':>13}{'RSS kubelite':>14}{'RSS containerd':>16}")
    for name, runs in rows.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"{name:14}{med['api']:11.2f}s{med['ready']:11.2f}s{med['pod']:12.2f}s"
              f"{med['rss_kubelite']:11.0f} MB{med['rss_containerd']:13.0f} MB")
    print("targets: node Ready <= 3 s, first pod Running <= 4 s, kubelite <= 150 MB RSS "
          "(k3s: ~1.4-1.6 GB, about a minute to its default pods Ready)")


if __name__ == "__main__":
    main()
