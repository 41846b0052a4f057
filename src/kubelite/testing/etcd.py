"""Start Debian's etcd (v3.4) for tests and benchmarks: one member or a small cluster.

Members listen on free 127.0.0.1 ports with a temporary data directory, use fast raft timings
(`--heartbeat-interval 10 --election-timeout 100`, healthy in ~0.1 s), and are stopped by PID.
The request limit is raised a little above MAX_VALUE_BYTES so that a value kubelite accepts
(<= 1.5 MiB) also fits in an etcd request with its key and framing.

    with EtcdCluster(size=3) as cluster:
        store = await open_store(cluster.url)
        cluster.kill(0)          # SIGKILL one member; the others keep quorum
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from types import TracebackType

from kubelite.storage.types import MAX_VALUE_BYTES

ETCD_BINARY = "/usr/bin/etcd"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class EtcdMember:
    name: str
    client_port: int
    peer_port: int
    data_dir: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.endpoint}/health", timeout=1) as resp:
                return bool(json.loads(resp.read()).get("health") == "true")
        except (OSError, ValueError):
            return False


class EtcdCluster:
    """`size` etcd members forming one cluster; a context manager that always stops them."""

    def __init__(self, size: int = 1, binary: str = ETCD_BINARY) -> None:
        if size < 1:
            raise ValueError("an etcd cluster needs at least one member")
        if not os.access(binary, os.X_OK):
            raise FileNotFoundError(f"etcd binary not found at {binary} (Debian package etcd-server)")
        self.binary = binary
        self.size = size
        self.base_dir = ""
        self.members: list[EtcdMember] = []

    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self.members]

    @property
    def url(self) -> str:
        """The datastore URL naming every member: etcd://127.0.0.1:p1,127.0.0.1:p2,..."""
        return "etcd://" + ",".join(self.endpoints)

    def start(self, timeout: float = 30.0) -> EtcdCluster:
        """Start all members and wait until each reports healthy (retrying once on a port clash)."""
        for attempt in range(3):
            try:
                self._start_once(timeout)
                return self
            except RuntimeError:
                self.stop()
                if attempt == 2:
                    raise
        return self

    def _start_once(self, timeout: float) -> None:
        self.base_dir = tempfile.mkdtemp(prefix="kubelite-etcd-")
        self.members = [
            EtcdMember(f"m{i}", free_port(), free_port(), os.path.join(self.base_dir, f"m{i}"))
            for i in range(self.size)
        ]
        initial = ",".join(f"{m.name}=http://127.0.0.1:{m.peer_port}" for m in self.members)
        for m in self.members:
            self._spawn(m, initial)
        deadline = time.monotonic() + timeout
        while not all(m.healthy() for m in self.members):
            dead = [m for m in self.members if not m.alive]
            if dead:
                raise RuntimeError(f"etcd member {dead[0].name} exited: {self.log(dead[0])[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"etcd cluster not healthy after {timeout}s")
            time.sleep(0.05)

    def _spawn(self, m: EtcdMember, initial_cluster: str) -> None:
        os.makedirs(m.data_dir, exist_ok=True)
        peer = f"http://127.0.0.1:{m.peer_port}"
        client = f"http://127.0.0.1:{m.client_port}"
        args = [
            self.binary,
            "--name", m.name,
            "--data-dir", m.data_dir,
            "--listen-client-urls", client,
            "--advertise-client-urls", client,
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", initial_cluster,
            "--initial-cluster-state", "new",
            "--initial-cluster-token", os.path.basename(self.base_dir),
            "--heartbeat-interval", "10",
            "--election-timeout", "100",
            "--max-request-bytes", str(MAX_VALUE_BYTES + 64 * 1024),
            # 8 GiB, etcd's largest recommended quota (default 2 GiB): the 150,000-pod scale run
            # writes ~2 GB of versions between two compactions
            "--quota-backend-bytes", str(8 * 2**30),
            # etcd holds its raft log in memory back to the last snapshot (default every 100,000
            # entries): with kubelite's grouped writes (up to 512 KiB an entry) that grew etcd to
            # gigabytes in the 150,000-pod run; kubeadm runs etcd with 10,000 too
            "--snapshot-count", "10000",
            "--logger", "zap",
            "--log-level", "warn",
        ]  # fmt: skip
        log = open(m.data_dir + ".log", "ab")  # noqa: SIM115 - handed to the child
        try:
            m.proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        finally:
            log.close()

    def log(self, m: EtcdMember) -> str:
        try:
            with open(m.data_dir + ".log", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def kill(self, index: int) -> None:
        """SIGKILL one member (a crash); the cluster keeps working while a quorum remains."""
        self._signal(self.members[index], signal.SIGKILL)

    def stop_member(self, index: int) -> None:
        """Stop one member cleanly (SIGTERM, then SIGKILL after 5 s)."""
        self._signal(self.members[index], signal.SIGTERM)

    @staticmethod
    def _signal(m: EtcdMember, sig: int) -> None:
        if m.proc is None or m.proc.poll() is not None:
            return
        os.kill(m.proc.pid, sig)
        try:
            m.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(m.proc.pid, signal.SIGKILL)
            m.proc.wait()

    def stop(self) -> None:
        """Stop every member by PID and delete the data directories."""
        for m in self.members:
            self._signal(m, signal.SIGTERM)
        if self.base_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = ""

    def __enter__(self) -> EtcdCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
