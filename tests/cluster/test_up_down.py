"""`kubelite up` / `kubelite down` as a user runs them: a real cluster, real kubectl, real containerd.

One cluster per module (starting one costs seconds): it comes up Ready with the control-plane
role and truthful control-plane pods, runs a pod, stops cleanly with `kubelite down` (no
namespace, containerd or pid file left), resumes with its state on a second `up`, and
`down --purge` deletes it. Bad input gives one clear line, never a traceback.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubelite.cluster.config import ClusterConfig
from kubelite.testing.kubectl import Kubectl

pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]

KUBELITE = [sys.executable, "-m", "kubelite"]


def kubelite(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KUBELITE, *args], capture_output=True, text=True, timeout=timeout)


class Up:
    """A `kubelite up` child process (stopped by PID if a test leaves it running)."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.out = data_dir.parent / f"up-{uuid.uuid4().hex[:6]}.out"
        with open(self.out, "wb") as f:
            self.proc = subprocess.Popen([*KUBELITE, "up", "--data-dir", str(data_dir), "--port", "0",
                                          "--kubelet-port", "0", *args], stdout=f, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_up(self, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Stop it with" in self.text():
                return self.text()
            if self.proc.poll() is not None:
                raise AssertionError(f"kubelite up exited with {self.proc.returncode}:\n{self.text()}")
            time.sleep(0.1)
        raise AssertionError(f"kubelite up did not finish starting:\n{self.text()}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="module")
def node() -> str:
    if os.geteuid() != 0:
        pytest.fail("kubelite up needs root (containerd, network namespaces)")
    return f"t{uuid.uuid4().hex[:7]}"


@pytest.fixture(scope="module")
def data_dir(node: str) -> Iterator[Path]:
    base = Path(f"/tmp/kl-up-{uuid.uuid4().hex[:6]}")
    base.mkdir()
    yield base / "data"
    kubelite("down", "--data-dir", str(base / "data"))
    shutil.rmtree(base, ignore_errors=True)


def wait_for(kubectl: Kubectl, args: list[str], want: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        out = kubectl(*args).out
        if want in out:
            return out
        time.sleep(0.5)
    raise AssertionError(f"kubectl {' '.join(args)} never showed {want!r}; last output:\n{out}")


def test_bad_options_give_one_clear_line(tmp_path: Path) -> None:
    r = kubelite("up", "--data-dir", str(tmp_path / "d"), "--node-name", "Bad_Name")
    assert r.returncode != 0 and "invalid node name 'Bad_Name'" in r.stderr and "Traceback" not in r.stderr
    r = kubelite("up", "--data-dir", str(tmp_path / "d"), "--datastore", "mysql://x")
    assert r.returncode != 0 and "unsupported --datastore" in r.stderr and "Traceback" not in r.stderr
    r = kubelite("up", "--data-dir", str(tmp_path / "d"), "--nodes", "2", "--host-network")
    assert r.returncode != 0 and "--host-network" in r.stderr
    r = kubelite("down", "--data-dir", str(tmp_path / "nothing"))
    assert r.returncode == 0 and "no cluster in" in r.stdout
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "file").write_text("keep me")
    r = kubelite("down", "--purge", "--data-dir", str(tmp_path / "precious"))
    assert r.returncode != 0 and "does not look like a kubelite data dir" in r.stderr
    assert (tmp_path / "precious" / "file").read_text() == "keep me"


def test_up_runs_a_cluster_and_down_stops_it_cleanly(data_dir: Path, node: str) -> None:
    up = Up(data_dir, "--node-name", node)
    try:
        out = up.wait_up()
        assert f"export KUBECONFIG={data_dir}/kubeconfig.yaml" in out
        assert f"node {node} Ready (control-plane)" in out
        kubectl = Kubectl(data_dir / "kubeconfig.yaml")
        try:
            nodes = kubectl("get", "nodes").stdout.split("\n")[1].split()
            assert nodes[:3] == [node, "Ready", "control-plane"]
            for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
                wait_for(kubectl, ["get", "pod", "-n", "kube-system", f"{component}-{node}"], "1/1     Running")
            logs = kubectl("logs", "-n", "kube-system", f"kube-apiserver-{node}").stdout
            assert "kube-apiserver is healthy" in logs
            assert kubectl("run", "keep", "--image=kubelite.local/busybox:1.35", "--", "sleep", "3600").rc == 0
            wait_for(kubectl, ["get", "pod", "keep"], "Running")
            # the node runs cluster DNS and kube-proxy: a pod finds the API server's Service by name
            assert Path(f"/run/netns/{ClusterConfig(data_dir=data_dir).bridge_netns}").exists()
            wait_for(kubectl, ["exec", "keep", "--", "nslookup", "kubernetes.default.svc.cluster.local"],
                     "Address: 10.43.0.1")
            # a second `up` on the same data dir refuses to start
            again = kubelite("up", "--data-dir", str(data_dir))
            assert again.returncode != 0 and "already running" in again.stderr
        finally:
            kubectl.cleanup()
        r = kubelite("down", "--data-dir", str(data_dir))
        assert r.returncode == 0, r.stderr
        assert "stopped" in r.stdout
        assert up.proc.wait(30) == 0
        assert "kubelite: stopped" in up.text()
        assert not Path(f"/run/netns/kubelite-{node}").exists()
        assert not Path(f"/run/netns/{ClusterConfig(data_dir=data_dir).bridge_netns}").exists()
        assert not (data_dir / "kubelite.pid").exists()
        leftovers = subprocess.run(["pgrep", "-f", str(data_dir)], capture_output=True, text=True).stdout.split()
        assert leftovers == []
    finally:
        up.kill()


def test_up_again_resumes_the_same_cluster_and_purge_removes_it(data_dir: Path, node: str) -> None:
    up = Up(data_dir)  # no options: the saved node name and settings come back
    try:
        out = up.wait_up()
        assert "resuming the cluster" in out and node in out
        kubectl = Kubectl(data_dir / "kubeconfig.yaml")
        try:
            wait_for(kubectl, ["get", "pod", "keep"], "Running")
            wait_for(kubectl, ["get", "nodes"], "Ready")
        finally:
            kubectl.cleanup()
    finally:
        up.kill()  # SIGTERM, as Ctrl-C would: a clean stop too
    assert up.proc.returncode == 0, up.text()
    assert not Path(f"/run/netns/kubelite-{node}").exists()
    r = kubelite("down", "--purge", "--data-dir", str(data_dir))
    assert r.returncode == 0, r.stderr
    assert not data_dir.exists()
