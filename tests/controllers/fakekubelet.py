"""A stand-in "kubelet" for integration tests: registers Node objects, renews their Leases, and
marks pods bound to them Running+Ready (with a podIP), or Succeeded for run-to-completion pods.

It runs its own event loop in a thread so that tests can call the (blocking) real kubectl while
it keeps heart-beating. `kill(node)` makes a node go silent; `revive(node)` brings it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import threading
from typing import Any

from kubelite.api.resources import LEASES, NODES, PODS
from kubelite.client.rest import ApiClient, ApiError, is_not_found

UNREADY_ANNOTATION = "fake-kubelet/ready"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeKubelet:
    def __init__(self, kubeconfig: str, nodes: list[str], tick: float = 0.4) -> None:
        self.kubeconfig = kubeconfig
        self.alive: dict[str, bool] = {n: True for n in nodes}
        self.tick = tick
        self._ips: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self.errors: list[BaseException] = []

    # -- control from the test thread ------------------------------------------------------------

    def start(self) -> FakeKubelet:
        self._thread = threading.Thread(target=self._thread_main, name="fake-kubelet", daemon=True)
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)

    def add_node(self, name: str) -> None:
        self.alive[name] = True

    def kill(self, name: str) -> None:
        self.alive[name] = False

    def revive(self, name: str) -> None:
        self.alive[name] = True

    # -- the loop --------------------------------------------------------------------------------

    def _thread_main(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        client = ApiClient.from_kubeconfig(self.kubeconfig)
        registered: set[str] = set()
        self._started.set()
        try:
            while not self._stop.is_set():
                try:
                    for name, alive in list(self.alive.items()):
                        if name not in registered:
                            await self._register(client, name)
                            registered.add(name)
                        if alive:
                            await self._heartbeat(client, name)
                    await self._sync_pods(client)
                except Exception as e:  # noqa: BLE001 - keep beating; tests read .errors on failure
                    self.errors.append(e)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.tick)
        finally:
            await client.close()

    async def _register(self, client: ApiClient, name: str) -> None:
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
                "spec": {}}
        try:
            await client.create(NODES, node)
        except ApiError as e:
            if e.code != 409:
                raise
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": name, "namespace": "kube-node-lease"},
                 "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": _micro()}}
        try:
            await client.create(LEASES, lease, "kube-node-lease")
        except ApiError as e:
            if e.code != 409:
                raise

    async def _heartbeat(self, client: ApiClient, name: str) -> None:
        await client.patch(LEASES, name, {"spec": {"renewTime": _micro()}}, "kube-node-lease", patch_type="merge")
        node = await client.get(NODES, name)
        conds = (node.get("status") or {}).get("conditions") or []
        ready = next((c for c in conds if c.get("type") == "Ready"), None)
        if ready is not None and ready.get("status") == "True":
            return
        now = _now()
        node["status"] = {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                 "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                 "lastHeartbeatTime": now, "lastTransitionTime": now},
            ],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
        }
        await client.replace(NODES, node, subresource="status")

    def _ip_for(self, node: dict[str, Any]) -> str:
        name = node["metadata"]["name"]
        self._ips[name] = self._ips.get(name, 1) + 1
        cidr = (node.get("spec") or {}).get("podCIDR") or "10.99.0.0/24"
        return str(ipaddress.ip_network(cidr)[self._ips[name]])

    async def _sync_pods(self, client: ApiClient) -> None:
        pods = (await client.list(PODS)).get("items") or []
        nodes = {n["metadata"]["name"]: n for n in (await client.list(NODES)).get("items") or []}
        for pod in pods:
            node_name = (pod.get("spec") or {}).get("nodeName")
            if not node_name or not self.alive.get(node_name):
                continue
            meta = pod["metadata"]
            try:
                if meta.get("deletionTimestamp"):
                    await client.delete(PODS, meta["name"], meta["namespace"], grace_period_seconds=0)
                    continue
                phase = (pod.get("status") or {}).get("phase")
                run_once = (pod.get("spec") or {}).get("restartPolicy") in ("Never", "OnFailure")
                if phase in ("Succeeded", "Failed"):
                    continue
                if phase == "Running" and run_once:
                    await self._set_status(client, pod, "Succeeded", False, None)
                    continue
                ready = next((c for c in (pod.get("status") or {}).get("conditions") or []
                              if c.get("type") == "Ready"), None)
                # A test makes a pod unready with the annotation fake-kubelet/ready=false.
                want_ready = (meta.get("annotations") or {}).get(UNREADY_ANNOTATION) != "false"
                if phase != "Running" or ready is None or (ready.get("status") == "True") != want_ready:
                    ip = (pod.get("status") or {}).get("podIP") or self._ip_for(nodes.get(node_name) or {
                        "metadata": {"name": node_name}})
                    await self._set_status(client, pod, "Running", want_ready, ip)
            except ApiError as e:
                if not (is_not_found(e) or e.code == 409):
                    raise

    async def _set_status(self, client: ApiClient, pod: dict[str, Any], phase: str, ready: bool,
                          ip: str | None) -> None:
        now = _now()
        status = dict(pod.get("status") or {})
        status["phase"] = phase
        status.setdefault("startTime", now)
        if ip:
            status["podIP"] = ip
            status["podIPs"] = [{"ip": ip}]
            status["hostIP"] = "127.0.0.1"
        flag = "True" if ready else "False"
        status["conditions"] = [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
            {"type": "Ready", "status": flag, "lastTransitionTime": now},
        ]
        state = ({"running": {"startedAt": now}} if phase == "Running"
                 else {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": now}})
        status["containerStatuses"] = [
            {"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": ready, "restartCount": 0,
             "started": phase == "Running", "state": state}
            for c in (pod.get("spec") or {}).get("containers") or []]
        pod = dict(pod, status=status)
        await client.replace(PODS, pod, pod["metadata"]["namespace"], subresource="status")
