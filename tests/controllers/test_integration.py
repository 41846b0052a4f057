"""The controllers against a real `kubelite server`, driven by the real kubectl.

Nodes are Node objects that a fake kubelet (fakekubelet.py) registers, heart-beats and runs pods
on; the real scheduler binds pods; the controller manager runs as `kubelite controller-manager`
with a short node grace period (3 s) and eviction timeout (2 s) so node failure is quick to see.
Tests run in file order on one cluster, each in its own namespace.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer

from .fakekubelet import UNREADY_ANNOTATION, FakeKubelet

T = TypeVar("T")
NODES = ["node-1", "node-2", "node-3"]


class Cluster:
    def __init__(self, server: KubeliteServer, kubelet: FakeKubelet, kubectl: Kubectl) -> None:
        self.server = server
        self.kubelet = kubelet
        self.kubectl = kubectl

    def k(self, *args: str, ok: bool = True, timeout: float = 90) -> str:
        r = self.kubectl(*args, timeout=timeout)
        if ok and r.rc != 0:
            raise AssertionError(f"kubectl {' '.join(args)} -> {r.rc}\n{r.out}")
        return r.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.k("get", *args, "-o", "json"))

    def pods(self, ns: str, selector: str | None = None, live: bool = True) -> list[dict[str, Any]]:
        args = ["pods", "-n", ns] + (["-l", selector] if selector else [])
        items = self.json(*args)["items"]
        return [p for p in items if not (live and p["metadata"].get("deletionTimestamp"))]

    def namespace(self) -> str:
        ns = f"t-{uuid.uuid4().hex[:6]}"
        self.k("create", "namespace", ns)
        return ns


def wait_until(what: str, fn: Callable[[], T | None], timeout: float = 60, interval: float = 0.3) -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except (AssertionError, KeyError, IndexError, StopIteration, TypeError) as e:
            last = e  # not there yet
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last}")


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as f:
        return subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    keep = os.environ.get("KUBELITE_KEEP_LOGS")  # a directory to leave the server's data and logs in
    server = KubeliteServer(data_dir=keep or None).start()
    procs: list[subprocess.Popen[bytes]] = []
    kubelet = FakeKubelet(str(server.kubeconfig), list(NODES))
    kubectl = Kubectl(server.kubeconfig)
    try:
        procs.append(_spawn([sys.executable, "-m", "kubelite", "controller-manager", "--kubeconfig",
                             str(server.kubeconfig), "--node-monitor-grace-period", "3s",
                             "--pod-eviction-timeout", "2s"], server.data_dir / "controllers.log"))
        procs.append(_spawn([sys.executable, "-m", "kubelite", "scheduler", "--kubeconfig", str(server.kubeconfig)],
                            server.data_dir / "scheduler.log"))
        kubelet.start()
        c = Cluster(server, kubelet, kubectl)
        wait_until("nodes Ready", lambda: all(
            any(cond["type"] == "Ready" and cond["status"] == "True" for cond in (n.get("status") or {}).get("conditions", []))
            for n in c.json("nodes")["items"]) and len(c.json("nodes")["items"]) == 3)
        yield c
    except BaseException:
        print((server.data_dir / "controllers.log").read_text(errors="replace")[-5000:])
        raise
    finally:
        kubelet.stop()
        for p in procs:
            _stop(p)
        kubectl.cleanup()
        server.cleanup()


def test_a_deployment_of_5_replicas_runs_5_pods_spread_over_3_nodes(cluster: Cluster) -> None:
    ns = cluster.namespace()
    cluster.k("create", "deployment", "web", "--image=nginx:1", "--replicas=5", "-n", ns)
    cluster.k("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s")
    pods = cluster.pods(ns, "app=web")
    assert len(pods) == 5
    assert all(p["status"]["phase"] == "Running" for p in pods)
    assert {p["spec"]["nodeName"] for p in pods} == set(NODES)
    rs = cluster.json("rs", "-n", ns)["items"]
    assert [r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in rs] == ["1"]
    assert "5/5" in cluster.k("get", "deployment", "web", "-n", ns)


def test_a_rollout_finishes_and_undo_brings_the_old_image_back(cluster: Cluster) -> None:
    ns = cluster.namespace()
    cluster.k("create", "deployment", "web", "--image=nginx:1", "--replicas=3", "-n", ns)
    cluster.k("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s")
    cluster.k("set", "image", "deployment/web", "nginx=nginx:2", "-n", ns)
    out = cluster.k("rollout", "status", "deployment/web", "-n", ns, "--timeout=90s")
    assert "successfully rolled out" in out
    wait_until("only nginx:2 pods", lambda: {p["spec"]["containers"][0]["image"]
                                             for p in cluster.pods(ns, "app=web")} == {"nginx:2"})
    cluster.k("rollout", "undo", "deployment/web", "-n", ns)
    cluster.k("rollout", "status", "deployment/web", "-n", ns, "--timeout=90s")
    wait_until("only nginx:1 pods", lambda: {p["spec"]["containers"][0]["image"]
                                             for p in cluster.pods(ns, "app=web")} == {"nginx:1"})
    history = cluster.k("rollout", "history", "deployment/web", "-n", ns)
    revisions = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
    assert revisions == ["2", "3"]


def test_kubectl_scale_up_and_down(cluster: Cluster) -> None:
    ns = cluster.namespace()
    cluster.k("create", "deployment", "web", "--image=nginx:1", "--replicas=2", "-n", ns)
    cluster.k("scale", "deployment/web", "--replicas=6", "-n", ns)
    cluster.k("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s")
    wait_until("6 pods", lambda: len(cluster.pods(ns, "app=web")) == 6)
    cluster.k("scale", "deployment/web", "--replicas=1", "-n", ns)
    wait_until("1 pod", lambda: len(cluster.pods(ns, "app=web")) == 1)
    d = wait_until("status caught up", lambda: (lambda d: d if d["status"].get("replicas") == 1 else None)(
        cluster.json("deployment", "web", "-n", ns)))
    assert d["status"]["availableReplicas"] == 1


def test_endpoints_follow_pod_readiness(cluster: Cluster) -> None:
    ns = cluster.namespace()
    cluster.k("create", "deployment", "api", "--image=nginx:1", "--replicas=2", "--port=8080", "-n", ns)
    cluster.k("expose", "deployment", "api", "--port=80", "--target-port=8080", "-n", ns)
    cluster.k("rollout", "status", "deployment/api", "-n", ns, "--timeout=60s")

    def ready_ips() -> tuple[list[str], list[str]] | None:
        ep = cluster.json("endpoints", "api", "-n", ns)
        subsets = ep.get("subsets") or [{}]
        return ([a["ip"] for a in subsets[0].get("addresses", [])],
                [a["ip"] for a in subsets[0].get("notReadyAddresses", [])])

    wait_until("2 ready addresses", lambda: len(ready_ips()[0]) == 2)
    pod = cluster.pods(ns, "app=api")[0]
    cluster.k("annotate", "pod", pod["metadata"]["name"], f"{UNREADY_ANNOTATION}=false", "-n", ns)
    wait_until("the pod moves to notReadyAddresses",
               lambda: ready_ips()[1] == [pod["status"]["podIP"]] and len(ready_ips()[0]) == 1)
    slices = cluster.json("endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=api")["items"]
    assert len(slices) == 1
    states = {e["addresses"][0]: e["conditions"]["ready"] for e in slices[0]["endpoints"]}
    assert states[pod["status"]["podIP"]] is False and list(states.values()).count(True) == 1
    assert slices[0]["ports"][0]["port"] == 8080


def test_deleting_a_deployment_background_foreground_and_orphan(cluster: Cluster) -> None:
    ns = cluster.namespace()
    for name in ("bg", "fg", "orph"):
        cluster.k("create", "deployment", name, "--image=nginx:1", "--replicas=2", "-n", ns)
    for name in ("bg", "fg", "orph"):
        cluster.k("rollout", "status", f"deployment/{name}", "-n", ns, "--timeout=60s")

    cluster.k("delete", "deployment", "bg", "-n", ns)
    wait_until("bg's ReplicaSet and pods gone", lambda: not cluster.pods(ns, "app=bg", live=False)
               and not cluster.json("rs", "-n", ns, "-l", "app=bg")["items"])

    cluster.k("delete", "deployment", "fg", "--cascade=foreground", "-n", ns, timeout=90)
    # Foreground: by the time the Deployment is gone, its ReplicaSet is gone too.
    assert cluster.json("rs", "-n", ns, "-l", "app=fg")["items"] == []

    cluster.k("delete", "deployment", "orph", "--cascade=orphan", "-n", ns)
    [rs] = cluster.json("rs", "-n", ns, "-l", "app=orph")["items"]
    assert not rs["metadata"].get("ownerReferences")
    time.sleep(1)  # nothing should come and delete them
    assert len(cluster.pods(ns, "app=orph")) == 2


def test_deleting_a_namespace_empties_it(cluster: Cluster) -> None:
    ns = cluster.namespace()
    cluster.k("create", "deployment", "web", "--image=nginx:1", "--replicas=2", "-n", ns)
    cluster.k("create", "configmap", "settings", "--from-literal=a=b", "-n", ns)
    cluster.k("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s")
    assert "default" in cluster.k("get", "serviceaccounts", "-n", ns)
    cluster.k("delete", "namespace", ns, "--wait=false")
    wait_until("the namespace's content to be gone", lambda: not cluster.k(
        "get", "deployments,replicasets,pods,configmaps,serviceaccounts", "-n", ns, "-o", "name").strip())

    def gone() -> bool:
        r = cluster.kubectl("get", "namespace", ns)
        return r.rc != 0 and "NotFound" in r.stderr

    wait_until("the namespace itself to be deleted (after namespaces/finalize)", gone, timeout=30)


def test_a_job_completes(cluster: Cluster) -> None:
    ns = cluster.namespace()
    manifest = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": ns},
                "spec": {"completions": 3, "parallelism": 2, "template": {"spec": {
                    "restartPolicy": "Never", "containers": [{"name": "pi", "image": "busybox"}]}}}}
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    cluster.k("wait", "--for=condition=complete", "job/pi", "-n", ns, "--timeout=60s")
    job = cluster.json("job", "pi", "-n", ns)
    assert job["status"]["succeeded"] == 3
    assert job["status"]["completionTime"]


def test_a_daemonset_follows_node_additions(cluster: Cluster) -> None:
    ns = cluster.namespace()
    manifest = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": ns},
                "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "agent", "image": "busybox"}]}}}}
    r = cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    assert r.rc == 0, r.out

    def status() -> dict[str, Any]:
        return cluster.json("daemonset", "agent", "-n", ns).get("status") or {}

    wait_until("3 daemon pods ready", lambda: status().get("numberReady") == 3
               and status().get("desiredNumberScheduled") == 3)
    cluster.kubelet.add_node("node-4")
    wait_until("a 4th daemon pod on node-4", lambda: status().get("numberReady") == 4)
    assert sorted(p["spec"]["nodeName"] for p in cluster.pods(ns, "app=agent")) == NODES + ["node-4"]


def test_a_silent_node_goes_not_ready_and_its_pods_are_replaced(cluster: Cluster) -> None:
    ns = cluster.namespace()
    cluster.k("create", "deployment", "web", "--image=nginx:1", "--replicas=4", "-n", ns)
    cluster.k("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s")
    victim = cluster.pods(ns, "app=web")[0]["spec"]["nodeName"]
    cluster.kubelet.kill(victim)
    try:
        def node_state() -> tuple[str, list[str]]:
            n = cluster.json("node", victim)
            ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
            return ready["status"], sorted(f"{t['key']}:{t['effect']}" for t in n["spec"].get("taints") or [])

        wait_until("the node to be Unknown and tainted", lambda: node_state() == (
            "Unknown", ["node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"]))
        assert "NotReady" in cluster.k("get", "node", victim)
        wait_until("4 live pods, none on the silent node", lambda: (lambda pods: len(pods) == 4 and all(
            p["spec"].get("nodeName") not in (None, victim) and p["status"].get("phase") == "Running"
            for p in pods))(cluster.pods(ns, "app=web")), timeout=60)
    finally:
        cluster.kubelet.revive(victim)
    wait_until("the node Ready and untainted again", lambda: node_state() == ("True", []))
