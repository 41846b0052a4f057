"""A real little cluster for the node tests: `kubelite server` (+ controllers and scheduler) and
`kubelite agent` subprocesses, each agent with its containerd in a network namespace the test
made. Everything is stopped by PID and removed afterwards; the host network is never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer

KUBELITE = [sys.executable, "-m", "kubelite"]
#: short settings so that a silent node is noticed and its pods are replaced within seconds
NODE_MONITOR_GRACE = "4s"
TOLERATION_SECONDS = "2s"
STATUS_FREQUENCY = "1"


def require_node_tools() -> None:
    if os.geteuid() != 0:
        pytest.fail("the node tests need root (network namespaces, cgroups)")
    for tool in ("containerd", "runc", "ctr", "nsenter", "ip", "/usr/bin/kubectl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed")


def wait_for(cond: Callable[[], Any], limit: float = 60.0, what: str = "condition", every: float = 0.25) -> Any:
    """Poll until `cond()` is truthy; the deadline is a hang guard, not a speed assertion."""
    deadline = time.monotonic() + limit
    last: Any = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"gave up waiting for {what} (last value: {last!r})")


class Netns:
    def __init__(self) -> None:
        self.name = f"klt-{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up"], check=True)

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], check=False)


class AgentProc:
    """One `kubelite agent` child process."""

    def __init__(self, kubeconfig: Path, name: str, data_dir: Path, netns: str, manifests: Path | None,
                 networking: bool = True) -> None:
        self.kubeconfig, self.name, self.data_dir, self.netns, self.manifests = kubeconfig, name, data_dir, netns, \
            manifests
        self.networking = networking
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> str:
        return str(self.data_dir / "containerd" / "containerd.sock")

    def start(self) -> None:
        args = [*KUBELITE, "agent", "--kubeconfig", str(self.kubeconfig), "--node-name", self.name,
                "--data-dir", str(self.data_dir), "--netns", self.netns, "--kubelet-port", "0",
                "--node-status-update-frequency", STATUS_FREQUENCY, "--node-ip", "127.0.0.1"]
        if self.manifests is not None:
            args += ["--pod-manifest-path", str(self.manifests)]
        if not self.networking:
            args.append("--no-networking")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / "agent.log", "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        try:
            return (self.data_dir / "agent.log").read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def containerd_pid(self) -> int | None:
        needle = str(self.data_dir / "containerd" / "containerd.toml").encode()
        for pid in _pids():
            cmd = _cmdline(pid)
            if cmd.startswith(b"containerd\0") and needle in cmd:
                return pid
        return None

    def ctr(self, *args: str) -> str:
        out = subprocess.run(["ctr", "-a", self.socket, "-n", "k8s.io", *args], capture_output=True, check=True)
        return out.stdout.decode()

    def container_ids(self, pod: str | None = None) -> set[str]:
        filters = [f'labels."io.kubernetes.pod.name"=={pod}'] if pod else []
        return set(self.ctr("containers", "ls", "-q", *filters).split())

    def cleanup(self) -> None:
        """Stop the agent (it removes its pods and containerd), then kill any leftover of ours by PID."""
        self.stop()
        needle = self.socket.encode()
        for pid in _pids():
            cmd = _cmdline(pid)
            if needle in cmd or str(self.data_dir / "containerd" / "containerd.toml").encode() in cmd:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        prefix = str(self.data_dir) + "/"
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if line.split()[4].startswith(prefix)]
        libc = ctypes.CDLL(None, use_errno=True)
        for mountpoint in sorted(mounts, key=len, reverse=True):
            libc.umount2(mountpoint.encode(), 2)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def find_process(marker: str) -> int | None:
    """PID of a process whose command line contains `marker` (a container's unique command)."""
    needle = marker.encode()
    for pid in _pids():
        if needle in _cmdline(pid) and pid != os.getpid():
            return pid
    return None


class Cluster:
    """A server with controllers and scheduler, and agents; `kubectl` drives it."""

    def __init__(self, node_monitor_grace: str = NODE_MONITOR_GRACE,
                 toleration_seconds: str = TOLERATION_SECONDS) -> None:
        """`node_monitor_grace` / `toleration_seconds`: how soon a silent node's pods are evicted."""
        require_node_tools()
        self.node_monitor_grace, self.toleration_seconds = node_monitor_grace, toleration_seconds
        self.root = Path(f"/tmp/klt-{uuid.uuid4().hex[:8]}")
        self.root.mkdir()
        params = inspect.signature(KubeliteServer).parameters
        #: the server runs its own controllers and scheduler (with short node-monitor settings)
        self.embedded = "control_plane" in params and "pod_eviction_timeout" in params
        if self.embedded:
            self.server = KubeliteServer(data_dir=self.root / "server", control_plane=True,
                                         node_monitor_grace_period=node_monitor_grace,
                                         pod_eviction_timeout=toleration_seconds)
        else:
            self.server = KubeliteServer(data_dir=self.root / "server")
        self.extra_procs: list[subprocess.Popen[bytes]] = []
        self.agents: list[AgentProc] = []
        self.netns: list[Netns] = []
        self.kubectl: Kubectl | None = None

    def start(self) -> Cluster:
        self.server.start()
        self.kubectl = Kubectl(self.server.kubeconfig)
        if not self.embedded:  # an older server: run them as their own processes
            kc = str(self.server.kubeconfig)
            for args in (["controller-manager", "--kubeconfig", kc, "--node-monitor-grace-period",
                          self.node_monitor_grace, "--default-toleration-seconds", self.toleration_seconds],
                         ["scheduler", "--kubeconfig", kc]):
                with open(self.root / f"{args[0]}.log", "ab") as log:
                    self.extra_procs.append(subprocess.Popen([*KUBELITE, *args], stdout=log,
                                                             stderr=subprocess.STDOUT, start_new_session=True))
        return self

    def add_agent(self, name: str, manifests: Path | None = None, networking: bool = True) -> AgentProc:
        ns = Netns()
        self.netns.append(ns)
        agent = AgentProc(self.server.kubeconfig, name, self.root / name, ns.name, manifests, networking)
        self.agents.append(agent)
        agent.start()
        return agent

    def k(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        assert self.kubectl is not None
        result = self.kubectl(*args, timeout=timeout)
        if check and result.rc != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.rc}): {result.out}")
        return result.stdout

    def apply(self, manifest: str) -> None:
        assert self.kubectl is not None
        result = self.kubectl("apply", "-f", "-", stdin=manifest)
        assert result.rc == 0, result.out

    def get(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any] | None:
        assert self.kubectl is not None
        result = self.kubectl("get", kind, name, "-n", namespace, "-o", "json")
        if result.rc != 0:
            return None
        obj: dict[str, Any] = json.loads(result.stdout)
        return obj

    def pod_status(self, name: str, namespace: str = "default") -> dict[str, Any]:
        pod = self.get("pod", name, namespace)
        return (pod or {}).get("status") or {}

    def container_status(self, pod: str, container: str | None = None) -> dict[str, Any]:
        statuses = self.pod_status(pod).get("containerStatuses") or []
        for cs in statuses:
            if container is None or cs["name"] == container:
                return dict(cs)
        return {}

    def node_ready(self, name: str) -> str:
        node = self.get("node", name)
        for c in ((node or {}).get("status") or {}).get("conditions") or []:
            if c["type"] == "Ready":
                return str(c["status"])
        return ""

    def logs(self) -> str:
        parts = [f"--- server\n{self.server.log()[-3000:]}"]
        parts += [f"--- agent {a.name}\n{a.log()}" for a in self.agents]
        return "\n".join(parts)

    def cleanup(self) -> None:
        for agent in self.agents:
            agent.cleanup()
        for proc in self.extra_procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.server.stop()
        if self.kubectl is not None:
            self.kubectl.cleanup()
        for ns in self.netns:
            ns.delete()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def one_node_cluster(request: pytest.FixtureRequest, node: str, *, manifests: bool = False,
                     networking: bool = True, **settings: str) -> Iterator[Cluster]:
    """A started Cluster with one Ready agent (and a static-pod directory if `manifests`); the
    server and agent logs are printed when it fails to come up or when a test of the session failed."""
    c = Cluster(**settings)
    try:
        c.start()
        manifest_dir = None
        if manifests:
            manifest_dir = c.root / "manifests"
            manifest_dir.mkdir()
        c.add_agent(node, manifest_dir, networking=networking)
        try:
            wait_for(lambda: c.node_ready(node) == "True", 90, f"{node} Ready")
        except AssertionError:
            print(c.logs())
            raise
        yield c
        if request.session.testsfailed:
            print(c.logs())
    finally:
        c.cleanup()
