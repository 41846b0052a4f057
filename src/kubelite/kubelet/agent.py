"""One node: containerd (supervised), images, CNI config, node registration, pods, kubelet server.

`Agent` is what `kubelite agent` runs and what `kubelite up` / `kubelite sim` embed. Given no
runtime it starts its own containerd under ``<data-dir>/containerd`` (inside `netns` when
given) and imports the built-in images plus every tar in ``<data-dir>/images``; given a runtime
(the simulated one) it uses that and starts nothing else, so a thousand agents in one process
share one ApiClient and cost a few tasks each (lease, status, informer, PLEG).

Startup order: the runtime and the pod manager first (static pods run even when the API server
is unreachable), then the node's networking (kube-proxy, cluster DNS, host-gw routes:
`kubelite.proxy.node.NodeNetworking`, when the agent runs its own containerd in a network
namespace), then, in the background, registration, the heartbeat, and the wait for the node's
podCIDR (assigned by the node IPAM controller, or `pod_cidr`), after which the CNI config is
written and the node reports its network ready. Stop runs backwards: the networking stops
before containerd (its iptables rules stay, so pods keep their Services across a restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
from pathlib import Path
from typing import Any

from kubelite.api.resources import NODES
from kubelite.client.events import EventRecorder
from kubelite.client.rest import ApiClient, ApiError
from kubelite.kubelet.heartbeat import (
    LEASE_RENEW_INTERVAL,
    STATUS_CHECK_INTERVAL,
    STATUS_REPORT_INTERVAL,
    NodeHeartbeat,
)
from kubelite.kubelet.nodestatus import HostFacts, Readings, build_node, read_host_facts, read_readings
from kubelite.kubelet.podmanager import FULL_RELIST_PERIOD, RESYNC_PERIOD, PodManager
from kubelite.runtime.types import Runtime

log = logging.getLogger(__name__)

NETWORK_NOT_READY = ("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                     "message:Network plugin returns error: cni plugin not initialized")
CNI_FILE = "10-kubelite.conflist"


class AgentError(Exception):
    """The agent could not start (bad option, containerd missing...): a clear message, no traceback."""


class Agent:
    def __init__(
        self,
        client: ApiClient | None,
        node_name: str,
        data_dir: str | Path,
        *,
        runtime: Runtime | None = None,
        netns: str | None = None,
        manifest_path: str | Path | None = None,
        kubelet_port: int = 10250,
        kubelet_address: str = "0.0.0.0",
        node_labels: dict[str, str] | None = None,
        networking: bool = True,
        network_ip: str | None = None,
        node_ip: str | None = None,
        pod_cidr: str | None = None,
        host_facts: HostFacts | None = None,
        readings: Readings | None = None,
        runtime_version: str | None = None,
        recorder: EventRecorder | None = None,
        relist_period: float = 1.0,
        allow_privileged: bool = False,
        cluster_dns: str | None = "10.43.0.10",
        lease_renew_interval: float = LEASE_RENEW_INTERVAL,
        status_report_interval: float = STATUS_REPORT_INTERVAL,
        status_check_interval: float = STATUS_CHECK_INTERVAL,
        kubelet_server: bool = True,
        ca_file: str | None = None,
        server_token: str | None = None,
        build_builtin_images: bool = True,
        max_pods: int = 110,
        own_loops: bool = True,
        full_relist_period: float = FULL_RELIST_PERIOD,
        resync_period: float = RESYNC_PERIOD,
    ) -> None:
        if pod_cidr is not None:
            try:
                ipaddress.ip_network(pod_cidr, strict=False)
            except ValueError as err:
                raise AgentError(f"invalid --pod-cidr {pod_cidr!r}: {err}") from None
        self.client = client
        self.node_name = node_name
        self.data_dir = Path(data_dir).absolute()  # no symlink walk (lstat per part): a sim process builds thousands
        self.runtime: Runtime | None = runtime
        self._own_runtime = runtime is None
        self.netns = netns
        self.manifest_path = Path(manifest_path) if manifest_path else None
        self.kubelet_port = kubelet_port
        self.kubelet_address = kubelet_address
        self.node_labels = dict(node_labels or {})
        #: kube-proxy + cluster DNS + routes, for an own containerd inside a network namespace
        self.want_networking = networking
        self.network_ip = network_ip
        self.networking: Any = None  # kubelite.proxy.node.NodeNetworking while it runs
        self.node_ip = node_ip
        self.pod_cidr_flag = pod_cidr
        self.pod_cidr: str | None = None
        self.host_facts = host_facts
        self.fixed_readings = readings
        self.runtime_version = runtime_version
        self.recorder = recorder
        self._own_recorder = recorder is None and client is not None
        self.relist_period = relist_period
        self.allow_privileged = allow_privileged
        self.cluster_dns = cluster_dns
        self.lease_renew_interval = lease_renew_interval
        self.status_report_interval = status_report_interval
        self.status_check_interval = status_check_interval
        self.want_kubelet_server = kubelet_server
        self.ca_file = ca_file
        self.server_token = server_token
        self.build_builtin_images = build_builtin_images
        self.max_pods = max_pods
        #: False: the agent starts no periodic timers (PLEG relist, Lease, status check); a driver of
        #: many nodes (`kubelite sim`'s fleet-wide tick) calls `pods.pleg_tick()`,
        #: `heartbeat.lease_tick()` and `heartbeat.status_tick()` instead: the same code, one timer
        self.own_loops = own_loops
        self.full_relist_period = full_relist_period
        self.resync_period = resync_period
        self.containerd: Any = None  # kubelite.runtime.containerd.Containerd when we run our own
        self.pods: PodManager | None = None
        self.heartbeat: NodeHeartbeat | None = None
        self.kubelet_server: Any = None
        self.network_ready = False
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        #: set once the node is registered and its heartbeat runs (with own_loops=False: its Lease exists)
        self.heartbeat_running = asyncio.Event()

    # -- start ---------------------------------------------------------------------------------

    async def _start_containerd(self) -> Runtime:
        from kubelite.runtime.containerd import Containerd, ContainerdError
        from kubelite.runtime.cri.client import CriRuntime
        from kubelite.runtime.images import build_images

        images_dir = self.data_dir / "images"
        self.containerd = Containerd(self.data_dir / "containerd", netns=self.netns, images_dir=images_dir)
        try:
            await self.containerd.start()
        except ContainerdError as err:
            raise AgentError(str(err)) from None
        if self.build_builtin_images:
            builtin = self.data_dir / "builtin-images"
            if not await asyncio.to_thread((builtin / "pause.tar").exists):
                from kubelite.runtime.images import ImageBuildError

                try:
                    await asyncio.to_thread(build_images, builtin)
                except ImageBuildError as err:
                    log.warning("cannot build the built-in images: %s", err)
            await self.containerd.import_images_dir(builtin)
        return CriRuntime(self.containerd.address)

    async def start(self) -> None:
        """Bring the node up; returns once pods can run (registration goes on in the background)."""
        await asyncio.to_thread(self.data_dir.mkdir, parents=True, exist_ok=True)
        if self.runtime is None:
            self.runtime = await self._start_containerd()
        runtime = self.runtime
        if self.runtime_version is None:
            v = await runtime.version()
            self.runtime_version = f"{v.runtime_name}://{v.runtime_version}"
        if self.host_facts is None:
            self.host_facts = await asyncio.to_thread(read_host_facts, str(self.data_dir), self.node_name,
                                                      self.node_ip)
        facts = self.host_facts
        if self.client is not None and self.recorder is None:
            self.recorder = EventRecorder(self.client, "kubelet", self.node_name)
            await self.recorder.start()
        self.pods = PodManager(
            runtime, node_name=self.node_name, data_dir=self.data_dir, client=self.client, recorder=self.recorder,
            node_ip=facts.internal_ip, manifest_path=self.manifest_path, relist_period=self.relist_period,
            allow_privileged=self.allow_privileged, cluster_dns=self.cluster_dns,
            manage_files=self._own_runtime, on_runtime_health=self._on_runtime_health,
            full_relist_period=self.full_relist_period, resync_period=self.resync_period,
            own_pleg_loop=self.own_loops,
        )
        await self._start_kubelet_server()  # first: the node reports the port it really listens on
        port = self.kubelet_server.port if self.kubelet_server is not None else self.kubelet_port
        node = build_node(self.node_name, facts, runtime_version=self.runtime_version, kubelet_port=port,
                          max_pods=self.max_pods, labels=self.node_labels)
        self.pods.node_allocatable = dict(node["status"]["allocatable"])
        if not self._own_runtime:
            self.network_ready = True
        elif await asyncio.to_thread((self.containerd.cni_conf_dir / CNI_FILE).exists):
            self.network_ready = True  # a restarted agent: the node's network is already set up
        if self.client is not None:
            fixed = self.fixed_readings
            data_dir = str(self.data_dir)
            self.heartbeat = NodeHeartbeat(
                self.client, node,
                read_readings=(lambda: fixed) if fixed is not None else (lambda: read_readings(data_dir)),
                readings_in_thread=fixed is None,
                runtime_ready=self._runtime_ready, network_ready=lambda: self.network_ready,
                lease_renew_interval=self.lease_renew_interval,
                status_report_interval=self.status_report_interval,
                status_check_interval=self.status_check_interval,
            )
        await self.pods.start()
        await self._start_networking()
        self._tasks.append(asyncio.create_task(self._join(), name=f"agent-join:{self.node_name}"))
        self._started = True

    async def _start_kubelet_server(self) -> None:
        if not self.want_kubelet_server or not self._own_runtime:
            return
        try:
            from kubelite.kubelet import server as ks
        except ImportError:
            return
        assert self.runtime is not None and self.pods is not None
        pods = self.pods

        def lookup(namespace: str, name: str) -> Any:
            ref = pods.pod_ref(namespace, name)
            if ref is None:
                return None
            uid, sandbox_id, current, previous = ref
            return ks.PodRef(uid=uid, sandbox_id=sandbox_id, containers=current, previous=previous)

        if self.ca_file is None and self.server_token is None:
            log.warning("kubelet server disabled: no CA file and no token to authenticate the API server with")
            return
        authenticate = ks.bearer_token_authenticator(self.server_token) if self.server_token else None
        self.kubelet_server = ks.KubeletServer(
            self.runtime, lookup, host=self.kubelet_address, port=self.kubelet_port,
            tls_cert_dir=self.data_dir / "pki", ca_file=self.ca_file, authenticate=authenticate,
            node_name=self.node_name,
        )
        try:
            await self.kubelet_server.start()
        except OSError as err:
            log.warning("kubelet server could not listen on %s:%d: %s", self.kubelet_address, self.kubelet_port, err)
            self.kubelet_server = None

    async def _start_networking(self) -> None:
        """kube-proxy, cluster DNS and host-gw routes for a node whose pods live in `netns`.

        Only then: with the host's own network (no netns) the agent never rewrites the host's
        iptables, and a given (simulated) runtime has no real pod network."""
        if not (self.want_networking and self._own_runtime and self.netns and self.client is not None):
            return
        from kubelite.network.netns import NetnsError
        from kubelite.proxy.node import NodeNetworking

        net = NodeNetworking(self.client, node_name=self.node_name, netns=self.netns, network_ip=self.network_ip)
        try:
            await net.start()
        except (NetnsError, OSError) as err:
            log.warning("node networking (kube-proxy, cluster DNS) did not start: %s", err)
            with contextlib.suppress(Exception):
                await net.stop()
            return
        self.networking = net

    def _runtime_ready(self) -> tuple[bool, str]:
        if self.pods is not None and self.pods.runtime_healthy is False:
            return False, self.pods.runtime_message or "container runtime is down"
        if not self.network_ready:
            return False, NETWORK_NOT_READY
        return True, ""

    def _on_runtime_health(self, healthy: bool, message: str) -> None:
        self._report_soon()

    def _report_soon(self) -> None:
        if self.heartbeat is None or not self.heartbeat.registered.is_set():
            return
        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(asyncio.create_task(self._report(), name=f"node-status:{self.node_name}"))

    async def _report(self) -> None:
        assert self.heartbeat is not None
        try:
            await self.heartbeat.report_status()
        except Exception as err:  # the periodic loop retries
            log.warning("node status update failed: %s", err)

    async def _join(self) -> None:
        """Register, heartbeat, then wait for the podCIDR and write the CNI config."""
        if self.heartbeat is not None:
            await self.heartbeat.register()
            assert self.pods is not None
            self.pods.node_uid = self.heartbeat.uid
            if self.own_loops:
                self.heartbeat.start()
            else:
                await self.heartbeat.lease_tick()  # the Lease exists from the start; the driver renews it
            self.heartbeat_running.set()
            if self.recorder is not None:
                node_ref = {"kind": "Node", "apiVersion": "v1",
                            "metadata": {"name": self.node_name, "uid": self.node_name}}
                self.recorder.event(node_ref, "Normal", "Starting", "Starting kubelet.")
        if not self._own_runtime:
            return  # a given runtime (the simulated one) brings its own pod network
        cidr = await self._wait_pod_cidr()
        self.pod_cidr = cidr
        if cidr is not None:
            await asyncio.to_thread(self._write_cni, cidr)
        if not self.network_ready:
            self.network_ready = True
            if self.pods is not None:
                self.pods.resync_all()
            if self.heartbeat is not None:
                await self._report()

    async def _wait_pod_cidr(self) -> str | None:
        if self.client is None:
            return self.pod_cidr_flag
        while True:
            try:
                node = await self.client.get(NODES, self.node_name)
                cidr = (node.get("spec") or {}).get("podCIDR")
                if cidr:
                    return str(cidr)
            except ApiError as err:
                log.debug("reading node %s: %s", self.node_name, err)
            if self.pod_cidr_flag:
                return self.pod_cidr_flag
            await asyncio.sleep(1.0)

    def _write_cni(self, cidr: str) -> None:
        from kubelite.runtime.containerd import bridge_name, cni_conflist

        cd = self.containerd
        conf = cni_conflist(cidr, bridge_name(cd.data_dir), cd.data_dir / "cni" / "ipam")
        target = Path(cd.cni_conf_dir) / CNI_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(conf, indent=2))
        tmp.replace(target)

    # -- stop ----------------------------------------------------------------------------------

    async def stop(self, remove_pods: bool = True) -> None:
        """Stop everything this agent started. With our own containerd, `remove_pods` removes its pods."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.heartbeat is not None:
            await self.heartbeat.stop()
        if self.kubelet_server is not None:
            with contextlib.suppress(Exception):
                await self.kubelet_server.stop()
            self.kubelet_server = None
        if self.pods is not None:
            await self.pods.stop()
        if self.networking is not None:
            with contextlib.suppress(Exception):
                await self.networking.stop()
            self.networking = None
        if self._own_recorder and self.recorder is not None:
            await self.recorder.stop(flush_timeout=2.0)
            self.recorder = None
        if self._own_runtime and self.runtime is not None:
            await self.runtime.close()
            self.runtime = None
        if self.containerd is not None:
            await self.containerd.stop(remove_pods=remove_pods)
            self.containerd = None
        self._started = False
