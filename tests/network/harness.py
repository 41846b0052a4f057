"""A real multi-node cluster on one machine for the network tests: `kubelite server` (+ controllers
and scheduler), a cluster bridge namespace, one namespace per node joined to it by a veth, a
`kubelite agent` per node (containerd and pods in the node's namespace) and the node's
networking (kube-proxy, cluster DNS, host-gw routes), unless the agent already runs it.
Everything is stopped by PID and every namespace deleted afterwards; the host network is untouched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from typing import Any

from kubelet.nodecluster import AgentProc, Cluster, wait_for

from kubelite.network import ClusterNetwork, build_cluster_network, teardown_cluster_network

BUSYBOX = "kubelite.local/busybox:1.35"


def agent_runs_networking() -> bool:
    """True once the agent starts NodeNetworking itself (then no separate proxy process)."""
    try:
        with open(os.path.join(os.path.dirname(__file__), "../../src/kubelite/kubelet/agent.py")) as f:
            return "NodeNetworking" in f.read()
    except OSError:
        return False


class NetCluster(Cluster):
    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = names
        self.net: ClusterNetwork | None = None
        self.proxies: dict[str, subprocess.Popen[bytes]] = {}

    def start_nodes(self) -> None:
        self.net = build_cluster_network(self.names, prefix=f"klt{uuid.uuid4().hex[:6]}")
        for name in self.names:
            node = self.net.nodes[name]
            agent = AgentProc(self.server.kubeconfig, name, self.root / name, node.netns, None)
            self.agents.append(agent)
            agent.start()
            if not agent_runs_networking():
                self.start_proxy(name)
        for name in self.names:
            wait_for(lambda n=name: self.node_ready(n) == "True", 90, f"node {name} Ready")  # type: ignore[misc]

    def start_proxy(self, name: str) -> None:
        assert self.net is not None
        node = self.net.nodes[name]
        with open(self.root / f"proxy-{name}.log", "ab") as log:
            self.proxies[name] = subprocess.Popen(
                [sys.executable, "-m", "kubelite.proxy", "--kubeconfig", str(self.server.kubeconfig),
                 "--node-name", name, "--netns", node.netns, "-v"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop_proxy(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.proxies.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def netns_of(self, name: str) -> str:
        assert self.net is not None
        return self.net.nodes[name].netns

    def in_node(self, name: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a command in a node's network namespace (like a process on that node)."""
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.netns_of(name)}", "--", *argv],
                              capture_output=True, text=True, timeout=timeout)

    def exec(self, pod: str, *argv: str, timeout: float = 60) -> tuple[int, str]:
        assert self.kubectl is not None
        r = self.kubectl("exec", pod, "--", *argv, timeout=timeout)
        return r.rc, r.stdout + r.stderr

    def logs(self) -> str:
        parts = [super().logs()]
        for name in self.names:
            try:
                parts.append(f"--- proxy {name}\n" + (self.root / f"proxy-{name}.log").read_text()[-4000:])
            except OSError:
                pass
        return "\n".join(parts)

    def cleanup(self) -> None:
        for name in list(self.proxies):
            self.stop_proxy(name)
        try:
            super().cleanup()
        finally:
            if self.net is not None:
                teardown_cluster_network(self.net)


def pod_ips(c: NetCluster, selector: str) -> dict[str, tuple[str, str]]:
    """name -> (podIP, nodeName) of the running pods matching a label selector."""
    import json

    out: dict[str, tuple[str, str]] = {}
    items: list[dict[str, Any]] = json.loads(c.k("get", "pods", "-l", selector, "-o", "json"))["items"]
    for p in items:
        st = p.get("status") or {}
        if st.get("phase") == "Running" and st.get("podIP"):
            out[p["metadata"]["name"]] = (st["podIP"], p["spec"].get("nodeName", ""))
    return out
