"""A whole control plane as child processes, for sim tests and bench/scale.py.

    with SimCluster(datastore="etcd://...", grace="5s", toleration="2s") as cluster:
        cluster.kubeconfig        # the admin kubeconfig
        cluster.start_sim(100)    # `kubelite sim` child process; cluster.sims[-1]
        cluster.processes()       # name -> psutil.Process, for RSS / CPU figures

The server, the scheduler and the controller manager run as separate processes, as in a real
cluster; each is stopped by PID (SIGTERM, then SIGKILL) when the cluster closes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import psutil

from kubelite.testing.server import KubeliteServer


@dataclass
class Child:
    """One child process with its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    stdin_open: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def send(self, line: str) -> None:
        """Write a control line to the child's stdin (`kubelite sim` reads `stop NAME`...)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.proc.poll() is not None:
            return
        try:
            os.kill(self.proc.pid, sig)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            self.proc.wait()
        if self.proc.stdin is not None:
            self.proc.stdin.close()


class SimCluster:
    """`kubelite server` + `scheduler` + `controller-manager` (+ any number of `kubelite sim`)."""

    def __init__(self, datastore: str | None = None, *, grace: str = "40s", toleration: str = "300s",
                 controllers: str = "*", concurrent_syncs: int = 4, data_dir: str | Path | None = None) -> None:
        self.server = KubeliteServer(data_dir=data_dir, datastore=datastore)
        self.grace = grace
        self.toleration = toleration
        self.controllers = controllers
        self.concurrent_syncs = concurrent_syncs
        self.children: list[Child] = []
        self.sims: list[Child] = []

    @property
    def kubeconfig(self) -> Path:
        return self.server.kubeconfig

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def _spawn(self, name: str, args: list[str], stdin: bool = False) -> Child:
        log_path = self.data_dir / f"{name}.log"
        logf = open(log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            proc = subprocess.Popen([sys.executable, "-m", "kubelite", *args], stdout=logf, stderr=subprocess.STDOUT,
                                    stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, start_new_session=True)
        finally:
            logf.close()
        child = Child(name, proc, log_path, stdin)
        self.children.append(child)
        return child

    def start(self) -> SimCluster:
        self.server.start(timeout=60)
        try:
            kc = str(self.server.local_kubeconfig)  # on the server's host: its unix socket
            self._spawn("scheduler", ["scheduler", "--kubeconfig", kc])
            self._spawn("controller-manager", [
                "controller-manager", "--kubeconfig", kc, "--node-monitor-grace-period", self.grace,
                "--pod-eviction-timeout", self.toleration, "--controllers", self.controllers,
                "--concurrent-syncs", str(self.concurrent_syncs)])
            time.sleep(0.2)
            for child in self.children:
                if child.proc.poll() is not None:
                    raise RuntimeError(f"{child.name} exited with {child.proc.returncode}:\n{child.log()[-3000:]}")
        except BaseException:
            self.close()
            raise
        return self

    def start_sim(self, nodes: int, *, prefix: str = "sim-", first_index: int = 0, extra: list[str] | None = None,
                  wait: float | None = None) -> Child:
        """Start a `kubelite sim` child and wait until it says its nodes run (all have registered;
        their Ready condition reaches other clients through their informers a moment later).

        The sim runs on the server's host, so it uses the local kubeconfig (the server's unix socket)
        like the scheduler and the controller manager: TLS would cost the one sim process ~0.4 ms of
        CPU per request for 5000 nodes' Leases, a cost the simulated machines would each pay alone."""
        name = f"sim-{len(self.sims)}"
        # its nodes' directories live in the cluster's own: removed with it, also after a SIGKILL
        child = self._spawn(name, ["sim", "--kubeconfig", str(self.server.local_kubeconfig), "--nodes", str(nodes),
                                   "--name-prefix", prefix, "--first-index", str(first_index),
                                   "--data-dir", str(self.data_dir / f"{name}-nodes"), *(extra or [])],
                            stdin=True)
        self.sims.append(child)
        wait = wait if wait is not None else 60.0 + nodes * 0.05
        deadline = time.monotonic() + wait
        while "started" not in child.log():
            if child.proc.poll() is not None:
                raise RuntimeError(f"kubelite sim exited with {child.proc.returncode}:\n{child.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"kubelite sim did not start its nodes within {wait}s:\n{child.log()[-3000:]}")
            time.sleep(0.05)
        return child

    def processes(self) -> dict[str, psutil.Process]:
        """Every live process of the cluster by name (the server as "apiserver")."""
        out: dict[str, psutil.Process] = {}
        if self.server.proc is not None and self.server.proc.poll() is None:
            out["apiserver"] = psutil.Process(self.server.proc.pid)
        for child in self.children:
            if child.proc.poll() is None:
                out[child.name] = psutil.Process(child.proc.pid)
        return out

    def close(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        self.server.cleanup()

    def __enter__(self) -> SimCluster:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
