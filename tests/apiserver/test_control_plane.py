"""`kubelite server` embeds the scheduler and the controller manager behind leader election.

Two `kubelite server` processes share one real etcd: exactly one of them schedules and runs the
controllers; after the leader is killed with SIGKILL, the other takes both Leases and its
scheduler binds the next pod. Nodes are plain Node objects (Ready, allocatable), as in the
scheduler's tests; no kubelet runs, so pods stay Pending once bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from kubelite.testing.etcd import EtcdCluster
from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer

T = TypeVar("T")
NS = "/api/v1/namespaces/default"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"


def wait_until(what: str, fn: Callable[[], T | None], timeout: float = 90) -> T:
    """Poll until fn() is truthy (a generous bound against a stuck test, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {
        "kubernetes.io/hostname": name}}, "status": {
        "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def holder(srv: KubeliteServer, lease: str) -> str:
    status, body = srv.request("GET", f"{LEASES}/{lease}")
    return str((body.get("spec") or {}).get("holderIdentity") or "") if status == 200 else ""


def held_by(identity: str, servers: list[KubeliteServer]) -> KubeliteServer | None:
    """The server whose process holds `identity` (the identity carries the holder's PID)."""
    for s in servers:
        if s.pid is not None and f"_{s.pid}_" in identity:
            return s
    return None


@pytest.fixture
def two_servers() -> Iterator[tuple[KubeliteServer, KubeliteServer]]:
    etcd = EtcdCluster(size=1).start()
    servers = [KubeliteServer(datastore=etcd.url, control_plane=True, lease_duration="6s",
                              node_monitor_grace_period="10m") for _ in range(2)]
    try:
        for s in servers:
            s.start(timeout=60)
        yield servers[0], servers[1]
    finally:
        for s in servers:
            s.cleanup()
        etcd.stop()


def test_one_scheduler_and_one_controller_manager_and_fail_over(
        two_servers: tuple[KubeliteServer, KubeliteServer]) -> None:
    servers = list(two_servers)
    a = servers[0]
    sched = wait_until("a scheduler leader", lambda: held_by(holder(a, "kube-scheduler"), servers))
    wait_until("a controller-manager leader", lambda: held_by(holder(a, "kube-controller-manager"), servers))

    assert a.request("POST", "/api/v1/nodes", node("n1"))[0] == 201
    assert a.request("POST", f"{NS}/pods", pod("before"))[0] == 201
    bound = wait_until("the first pod bound", lambda: a.request("GET", f"{NS}/pods/before")[1]["spec"].get("nodeName"))
    assert bound == "n1"
    # one scheduler in the cluster: only the leader's log shows its scheduler running
    running = [s for s in servers if "embedded scheduler running" in s.log()]
    assert running == [sched]
    # the controllers run too (the namespace controller's service account controller made one)
    wait_until("the default service account", lambda: a.request("GET", f"{NS}/serviceaccounts/default")[0] == 200)

    survivor = servers[1] if sched is servers[0] else servers[0]
    sched.kill()
    assert survivor.request("POST", f"{NS}/pods", pod("after"))[0] == 201
    bound = wait_until("the pod bound by the survivor's scheduler",
                       lambda: survivor.request("GET", f"{NS}/pods/after")[1]["spec"].get("nodeName"))
    assert bound == "n1"
    assert held_by(holder(survivor, "kube-scheduler"), servers) is survivor
    wait_until("the survivor leads the controllers",
               lambda: held_by(holder(survivor, "kube-controller-manager"), servers) is survivor)
    assert "embedded scheduler running" in survivor.log()


def test_disabled_components_do_not_run() -> None:
    with KubeliteServer(scheduler=False, controllers=False) as srv:
        assert srv.request("POST", "/api/v1/nodes", node("n1"))[0] == 201
        assert srv.request("POST", f"{NS}/pods", pod("p"))[0] == 201
        k = Kubectl(srv.kubeconfig)
        try:
            # kubectl sees the pod Pending: nothing schedules it and no Lease was taken
            assert "Pending" in k("get", "pod", "p").stdout
        finally:
            k.cleanup()
        assert srv.request("GET", f"{LEASES}/kube-scheduler")[0] == 404
        assert srv.request("GET", f"{LEASES}/kube-controller-manager")[0] == 404
        assert "--disable-scheduler" in srv.control_plane_args and "--disable-controllers" in srv.control_plane_args
