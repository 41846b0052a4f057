"""`kubelite up` in one process: apiserver, scheduler, controllers and the nodes, as asyncio tasks.

They still talk to each other only through the API (each has its own ApiClient built from the
server's local kubeconfig: its unix socket, no TLS on one host), so splitting them over machines
changes configuration (the HTTPS kubeconfig), not code.

Start order: the cluster network (one namespace per node, joined by a bridge in a namespace of
its own: `kubelite.network.cluster`), the API server (storage, certificates, kubeconfig), the
scheduler and the controller manager, then every node's agent (containerd, built-in images,
kube-proxy, cluster DNS and host-gw routes, registration with its labels), the control-plane
static pods, the health endpoints their probes read, and the control socket that `kubelite down`
talks to. Stop runs the same list backwards: the agents remove their containers and stop
containerd, then the namespaces are deleted (and with them the CNI bridges, pod veths, routes
and iptables rules), then the pid file goes.

The scheduler and the controller manager run here (the health checks of their sentinel pods
read their state), so the embedded API server gets no post-start hooks: `kubelite server`'s own
embedded copies (apiserver/controlplane.py) are not started, and nothing runs twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubelite.api.resources import NODES
from kubelite.cluster import controlplane, nodenet
from kubelite.cluster.config import NETNS_PREFIX, ClusterConfig

log = logging.getLogger("kubelite.up")

CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


class UpError(Exception):
    """The cluster cannot start: a clear message, no traceback."""


class Progress:
    """One line per finished step, with the time since `up` began."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.t0 = time.monotonic()

    def step(self, message: str) -> None:
        self.echo(f"  {time.monotonic() - self.t0:5.1f}s  {message}")


def _port_free(port: int, host: str = "0.0.0.0") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def kubelet_ports(base: int, count: int) -> list[int]:
    """base, base+1, ... (a busy one, or base 0, gets a free port instead)."""
    ports: list[int] = []
    for i in range(count):
        want = base + i if base else 0
        port = want if want and _port_free(want) else _free_port()
        while port in ports:
            port = _free_port()
        ports.append(port)
    return ports


class Cluster:
    def __init__(self, config: ClusterConfig, progress: Progress) -> None:
        self.config = config
        self.progress = progress
        self.server: Any = None        # kubelite.apiserver.server.ApiServer
        self.clients: list[Any] = []   # every ApiClient we made (closed on stop)
        self.scheduler: Any = None
        self.controllers: Any = None
        self.agents: dict[str, Any] = {}   # node name -> kubelite.kubelet.agent.Agent (running ones)
        self.health: controlplane.HealthServer | None = None
        self.created_netns: list[str] = []
        self.net: Any = None               # kubelite.network.cluster.ClusterNetwork (namespaced nodes)
        self._control: asyncio.Server | None = None
        self.stop_requested = asyncio.Event()
        self.stopped_nodes: set[str] = set()

    # -- start -------------------------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        if not cfg.host_network:
            await self._build_network()
        await self._start_server()
        # the nodes need only the API server: containerd and the images start while the caches sync
        results = await asyncio.gather(self._start_control_plane(), self._start_nodes(), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        await self._start_static_control_plane()
        await self._start_control_socket()

    async def _build_network(self) -> None:
        """The node namespaces and the bridge between them (a crashed run's leftovers go first)."""
        from kubelite.network.cluster import build_cluster_network
        from kubelite.network.netns import NetnsError

        cfg = self.config
        names = [ns for ns in (*(cfg.netns(n) for n in cfg.nodes), cfg.bridge_netns) if ns]
        for ns in names:
            if await asyncio.to_thread(nodenet.netns_exists, ns):
                log.info("deleting the leftover network namespace %s", ns)
                await asyncio.to_thread(nodenet.delete_netns, ns)
        try:  # node namespaces are kubelite-<node>, as ClusterConfig.netns names them
            self.net = await asyncio.to_thread(build_cluster_network, list(cfg.nodes),
                                               prefix=NETNS_PREFIX.removesuffix("-"),
                                               bridge_netns=cfg.bridge_netns)
        except (NetnsError, OSError) as err:
            raise UpError(f"cannot create the nodes' network namespaces: {err}") from None
        self.created_netns = [self.net.nodes[n].netns for n in cfg.nodes]
        self.progress.step(f"network namespaces: {', '.join(self.created_netns)}")

    async def _start_server(self) -> None:
        from kubelite.apiserver.server import ApiServer, ServerConfig
        from kubelite.storage import StoreUnavailableError

        cfg = self.config
        if cfg.api_port and not await asyncio.to_thread(_port_free, cfg.api_port, "127.0.0.1"):
            raise UpError(f"port {cfg.api_port} on 127.0.0.1 is in use (another cluster or API server?): "
                          "stop it, or choose another with --port")
        # post_start=[]: the scheduler and controllers are this module's own tasks (see the docstring)
        server = ApiServer(ServerConfig(data_dir=cfg.data_dir, port=cfg.api_port, datastore=cfg.datastore,
                                        post_start=[]))
        try:
            await server.start()
        except (StoreUnavailableError, ValueError, OSError) as err:
            with contextlib.suppress(Exception):
                await server.stop()
            raise UpError(f"the API server did not start: {err}") from None
        self.server = server
        cfg.api_port = server.port
        self.progress.step(f"kube-apiserver       {server.url}  (datastore {cfg.datastore_url()})")

    def _client(self, user_agent: str) -> Any:
        from kubelite.client.rest import ApiClient

        # the API server's unix socket: every component here runs on its host (see apiserver/server.py)
        assert self.server is not None
        client = ApiClient.from_kubeconfig(str(self.server.local_kubeconfig), user_agent=user_agent)
        self.clients.append(client)
        return client

    async def _start_control_plane(self) -> None:
        from kubelite.controllers.manager import ControllerManager
        from kubelite.scheduler.scheduler import Scheduler

        cfg = self.config
        self.scheduler = Scheduler(self._client("kube-scheduler"))
        self.controllers = ControllerManager(self._client("kube-controller-manager"),
                                             node_monitor_grace_period=cfg.node_monitor_grace,
                                             default_toleration_seconds=cfg.eviction_timeout)
        await self.controllers.start()
        await self.scheduler.start(sync_timeout=30)
        if not await self.controllers.wait_ready(30):
            raise UpError("the controller manager did not start (see the log)")
        self.progress.step("kube-scheduler, kube-controller-manager running")

    def _agent(self, node: str, kubelet_port: int) -> Any:
        from kubelite.kubelet.agent import Agent
        from kubelite.kubelet.heartbeat import LEASE_RENEW_INTERVAL

        cfg = self.config
        assert self.server is not None and self.server.identity is not None
        identity = self.server.identity
        # Kubernetes renews the node Lease 4 times per grace period; keep that ratio when it is shortened
        renew = min(LEASE_RENEW_INTERVAL, cfg.node_monitor_grace / 4)
        labels = {CONTROL_PLANE_LABEL: "", EXCLUDE_LB_LABEL: ""} if node == cfg.control_plane else {}
        network_ip = self.net.nodes[node].ip if self.net is not None else None
        # the API server listens on the host's loopback, and so do the kubelets it calls for logs/exec
        # (InternalIP 127.0.0.1); the pod network uses the node's own address (network_ip)
        return Agent(self._client(f"kubelet/{node}"), node, cfg.node_dir(node), netns=cfg.netns(node),
                     manifest_path=cfg.manifest_dir(node), kubelet_port=kubelet_port, kubelet_address="127.0.0.1",
                     node_ip="127.0.0.1", node_labels=labels, network_ip=network_ip,
                     ca_file=str(identity.ca_cert), server_token=identity.token,
                     lease_renew_interval=renew, status_report_interval=min(60.0, max(renew * 2, 1.0)))

    async def _start_nodes(self) -> None:
        from kubelite.kubelet.agent import AgentError

        cfg = self.config
        ports = await asyncio.to_thread(kubelet_ports, cfg.kubelet_port, len(cfg.nodes))
        await asyncio.gather(*(asyncio.to_thread(cfg.manifest_dir(n).mkdir, parents=True, exist_ok=True)
                               for n in cfg.nodes))

        async def start_one(node: str, port: int) -> None:
            agent = self._agent(node, port)
            try:
                await agent.start()
            except AgentError as err:
                with contextlib.suppress(Exception):
                    await agent.stop()
                raise UpError(f"node {node} did not start: {err}") from None
            self.agents[node] = agent
            where = f"netns {cfg.netns(node)}" if cfg.netns(node) else "host network"
            self.progress.step(f"node {node}: containerd ({agent.runtime_version}) in {where}, "
                               f"images imported, kubelet on :{port}")

        results = await asyncio.gather(*(start_one(n, p) for n, p in zip(cfg.nodes, ports, strict=True)),
                                       return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    async def _start_static_control_plane(self) -> None:
        cfg = self.config
        with_etcd = (cfg.datastore or "").startswith("etcd://")
        checks: dict[controlplane.Component, controlplane.Check] = {
            controlplane.APISERVER: self._apiserver_healthy,
            controlplane.SCHEDULER: self._scheduler_healthy,
            controlplane.CONTROLLER_MANAGER: self._controllers_healthy,
        }
        if with_etcd:
            checks[controlplane.ETCD] = self._store_healthy
        self.health = controlplane.HealthServer(cfg.netns(cfg.control_plane), checks)
        try:
            await self.health.start()
        except OSError as err:
            raise UpError(str(err.strerror or err)) from None
        await asyncio.to_thread(controlplane.write_manifests, cfg.manifest_dir(cfg.control_plane), with_etcd)
        names = ", ".join(f"{c.name}-{cfg.control_plane}" for c in checks)
        self.progress.step(f"control-plane static pods: {names}")

    # -- health checks of the in-process components (what the sentinel pods probe) ------------------

    async def _apiserver_healthy(self) -> tuple[bool, str]:
        client = self.clients[0]
        text = (await client.request_raw("GET", "/readyz", request_timeout=2.0)).decode(errors="replace").strip()
        return text == "ok", text

    async def _scheduler_healthy(self) -> tuple[bool, str]:
        s = self.scheduler
        if s is None:
            return False, "kube-scheduler is not running"
        tasks = getattr(s, "_tasks", [])
        if not tasks or any(t.done() for t in tasks):
            return False, "kube-scheduler's scheduling loop is not running"
        for inf in (s.pods, s.nodes):
            if not inf.has_synced:
                return False, "kube-scheduler's informers are not synced"
        return True, "ok"

    async def _controllers_healthy(self) -> tuple[bool, str]:
        c = self.controllers
        if c is None or not await c.wait_ready(0):
            return False, "kube-controller-manager's caches are not synced"
        task = getattr(c, "_task", None)
        if task is None or task.done():
            return False, "kube-controller-manager is not running"
        return True, "ok"

    async def _store_healthy(self) -> tuple[bool, str]:
        assert self.server is not None and self.server.store is not None
        await self.server.store.current_revision()
        return True, "ok"

    # -- readiness ------------------------------------------------------------------------------

    async def wait_nodes_ready(self, timeout: float = 60.0) -> bool:  # noqa: ASYNC109
        """Wait until every node reports Ready=True; prints each as it gets there."""
        client = self.clients[0]
        pending = [n for n in self.config.nodes if n not in self.stopped_nodes]
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                agent = self.agents.get(name)
                if agent is not None and agent.heartbeat is not None and not agent.heartbeat.registered.is_set():
                    continue  # the Node object may still show the previous run's status
                try:
                    node = await client.get(NODES, name)
                except Exception:  # noqa: BLE001 - not registered yet
                    continue
                conds = (node.get("status") or {}).get("conditions") or []
                if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
                    pending.remove(name)
                    role = " (control-plane)" if name == self.config.control_plane else ""
                    self.progress.step(f"node {name} Ready{role}")
            if pending:
                await asyncio.sleep(0.05)
        return not pending

    # -- control socket: `kubelite down` -----------------------------------------------------------

    async def _start_control_socket(self) -> None:
        path = self.config.control_socket
        await asyncio.to_thread(path.unlink, missing_ok=True)
        self._control = await asyncio.start_unix_server(self._serve_control, path=str(path))
        await asyncio.to_thread(os.chmod, path, 0o600)

    async def _serve_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await asyncio.wait_for(reader.readline(), 10)).decode(errors="replace").split()
            if line == ["stop"]:
                writer.write(b"ok stopping the cluster\n")
                await writer.drain()
                self.stop_requested.set()
            elif len(line) == 2 and line[0] == "stop-node":
                message = await self.stop_node(line[1])
                writer.write(message.encode() + b"\n")
                await writer.drain()
            else:
                writer.write(b"error unknown request\n")
                await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def stop_node(self, name: str) -> str:
        """Power a node off, as far as the cluster can tell: its kubelet stops heartbeating and its
        containers are gone (what a crashed machine looks like); the API objects stay."""
        if name not in self.config.nodes:
            return f"error no node {name} in this cluster (nodes: {', '.join(self.config.nodes)})"
        if name == self.config.control_plane:
            return f"error {name} is the control-plane node: stop the whole cluster with `kubelite down`"
        agent = self.agents.pop(name, None)
        if agent is None:
            return f"ok node {name} is already stopped"
        self.stopped_nodes.add(name)
        log.info("stopping node %s on request", name)
        await agent.stop(remove_pods=True)
        return f"ok node {name} stopped"

    # -- stop ------------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop everything that started, in reverse order; never raises."""
        cfg = self.config
        if self._control is not None:
            self._control.close()
            with contextlib.suppress(Exception):
                await self._control.wait_closed()
            self._control = None
        if self.health is not None:
            await self.health.stop()
            self.health = None
        agents, self.agents = self.agents, {}
        results = await asyncio.gather(*(a.stop(remove_pods=True) for a in agents.values()), return_exceptions=True)
        for name, result in zip(agents, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("stopping node %s: %s", name, result)
        if agents:
            self.progress.step(f"nodes stopped: {', '.join(agents)} (containers removed, containerd stopped)")
        if self.scheduler is not None:
            with contextlib.suppress(Exception):
                await self.scheduler.stop()
        if self.controllers is not None:
            with contextlib.suppress(Exception):
                await self.controllers.stop()
        for client in self.clients:
            with contextlib.suppress(Exception):
                await client.close()
        self.clients = []
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.stop()
            self.server = None
            self.progress.step("control plane stopped")
        if cfg.host_network:
            from kubelite.runtime.containerd import bridge_name

            for node in cfg.nodes:
                await asyncio.to_thread(nodenet.delete_link, bridge_name(cfg.node_dir(node) / "containerd"))
        if self.net is not None:
            from kubelite.network.cluster import teardown_cluster_network

            await asyncio.to_thread(teardown_cluster_network, self.net)
            self.net = None
        if self.created_netns:
            self.progress.step(f"network namespaces deleted: {', '.join(self.created_netns)}")
        self.created_netns = []


def echo_next_steps(config: ClusterConfig, echo: Callable[[str], None]) -> None:
    kc = config.kubeconfig
    echo("")
    echo("The cluster is up. In another shell:")
    echo("")
    echo(f"  export KUBECONFIG={kc}")
    echo("  kubectl get nodes")
    echo("")
    down = "kubelite down" + ("" if config.data_dir == Path("/var/lib/kubelite") else f" --data-dir {config.data_dir}")
    echo(f"Stop it with Ctrl-C or `{down}`; `kubelite up` again resumes it. Log: {config.log_file}")
