"""The cluster DNS server (UDP and TCP, on dnslib) and its place in the cluster.

How pods reach it: every agent runs one `ClusterDns` that listens on the node's own address,
port 53, inside the node's network namespace, and publishes itself as an EndpointSlice
`kube-system/kube-dns-<node>` (nodeName = the node) of the selector-less Service
`kube-system/kube-dns` (ClusterIP 10.43.0.10, `internalTrafficPolicy: Local`). The pod's
resolv.conf says `nameserver 10.43.0.10`; kube-proxy DNATs that to the DNS server of the pod's
own node, so DNS goes through the same Service machinery as everything else and never leaves
the node (the NodeLocal DNSCache idea).

Names outside the cluster domain are forwarded to the node's resolvers (the nameservers of
/etc/netns/<netns>/resolv.conf when the node has a namespace, else /etc/resolv.conf), from a
socket in the node's namespace; without a resolver, or when it does not answer within
`forward_timeout`, the answer is SERVFAIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import struct
from collections.abc import Callable
from typing import Any

from dnslib import DNSError, DNSRecord

from kubelite.api.resources import ENDPOINTSLICES, NODES, SERVICES
from kubelite.client.informer import InformerFactory
from kubelite.client.rest import ApiClient, ApiError, is_already_exists, is_not_found
from kubelite.dns.records import DEFAULT_DOMAIN, Records, servfail, truncated
from kubelite.network.netns import bound_socket

log = logging.getLogger(__name__)

CLUSTER_DNS_IP = "10.43.0.10"
DNS_SERVICE = "kube-dns"
DNS_NAMESPACE = "kube-system"
MANAGED_BY = "kubelite-dns"
UDP_LIMIT = 512
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def resolv_conf_nameservers(path: str, exclude: tuple[str, ...] = (CLUSTER_DNS_IP,)) -> list[str]:
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver" and parts[1] not in exclude:
            out.append(parts[1])
    return out


def node_upstreams(netns: str | None) -> list[str]:
    """The node's resolvers: `ip netns exec` convention for a namespaced node."""
    if netns is not None and "/" not in netns:
        return resolv_conf_nameservers(f"/etc/netns/{netns}/resolv.conf")
    return resolv_conf_nameservers("/etc/resolv.conf")


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport here

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server._spawn(self._answer(data, addr))

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        out = await self.server.handle(data, udp=True)
        if out is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(out, addr)


class DnsServer:
    """Serves `Records` on host:port (UDP + TCP) inside `netns`; `upstreams` are "ip" or "ip:port"."""

    def __init__(self, records: Records, *, host: str = "0.0.0.0", port: int = 53, netns: str | None = None,
                 upstreams: list[str] | None = None, forward_timeout: float = 1.0,
                 ready: Callable[[], bool] = lambda: True) -> None:
        self.records = records
        self.host, self.port, self.netns = host, port, netns
        self.upstreams = list(upstreams or [])
        self.forward_timeout = forward_timeout
        self.ready = ready
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # port 0: the UDP port the kernel picked may be taken for TCP; then try another pair
        for attempt in range(1 if self.port else 20):
            udp = await asyncio.to_thread(bound_socket, self.netns, socket.SOCK_DGRAM, self.host, self.port)
            port = udp.getsockname()[1]
            try:
                tcp = await asyncio.to_thread(bound_socket, self.netns, socket.SOCK_STREAM, self.host, port)
                break
            except OSError as err:
                udp.close()
                if self.port or attempt == 19 or err.errno != errno.EADDRINUSE:
                    raise
            except BaseException:
                udp.close()
                raise
        self.port = port
        transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=udp)
        self._udp = transport
        self._tcp = await asyncio.start_server(self._serve_tcp, sock=tcp)
        log.info("cluster DNS listening on %s:%d (netns %s)", self.host, self.port, self.netns or "-")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
            self._tcp = None
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readexactly(2), 30)
                data = await asyncio.wait_for(reader.readexactly(struct.unpack("!H", head)[0]), 30)
                out = await self.handle(data, udp=False)
                if out is None:
                    return
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def handle(self, data: bytes, *, udp: bool) -> bytes | None:
        """Wire bytes in, wire bytes out (None: not a DNS query; dropped)."""
        try:
            request = DNSRecord.parse(data)
        except (DNSError, ValueError, IndexError, struct.error):
            return None
        if request.header.qr or not request.questions:
            return None
        if not self.ready():
            return servfail(request).pack()
        try:
            reply = self.records.answer(request)
        except Exception:  # noqa: BLE001 - a bad object must not take the server down
            log.exception("answering %s", request.q.qname)
            return servfail(request).pack()
        if reply is None:
            return await self.forward(request, data)
        out = reply.pack()
        if udp and len(out) > UDP_LIMIT:
            out = truncated(reply).pack()
        return out

    async def forward(self, request: DNSRecord, data: bytes) -> bytes:
        for upstream in self.upstreams:
            try:
                return await asyncio.wait_for(self._ask(upstream, data), self.forward_timeout)
            except (TimeoutError, OSError) as err:
                log.debug("upstream %s: %s", upstream, err)
        return servfail(request).pack()

    async def _ask(self, upstream: str, data: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        sock = await asyncio.to_thread(bound_socket, self.netns, socket.SOCK_DGRAM, "0.0.0.0", 0)
        host, _, port = upstream.partition(":")
        try:
            await loop.sock_connect(sock, (host, int(port or 53)))
            await loop.sock_sendall(sock, data)
            return await loop.sock_recv(sock, 65535)
        finally:
            sock.close()


def _slice_service_key(obj: dict[str, Any]) -> list[str]:
    svc = ((obj.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL)
    return [f"{(obj.get('metadata') or {}).get('namespace')}/{svc}"] if svc else []


def dns_service(cluster_ip: str = CLUSTER_DNS_IP, port: int = 53) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": DNS_SERVICE, "namespace": DNS_NAMESPACE,
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "KubeDNS"}},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "internalTrafficPolicy": "Local",
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": port},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": port}]},
    }


def dns_slice(node_name: str, node_ip: str, port: int, node_uid: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": f"{DNS_SERVICE}-{node_name}", "namespace": DNS_NAMESPACE,
        "labels": {SERVICE_NAME_LABEL: DNS_SERVICE, "endpointslice.kubernetes.io/managed-by": MANAGED_BY},
    }
    if node_uid:
        # the slice goes when its Node goes (garbage collector)
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}]
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta, "addressType": "IPv4",
        "endpoints": [{"addresses": [node_ip], "nodeName": node_name,
                       "conditions": {"ready": True, "serving": True, "terminating": False}}],
        "ports": [{"name": "dns", "port": port, "protocol": "UDP"},
                  {"name": "dns-tcp", "port": port, "protocol": "TCP"}],
    }


class ClusterDns:
    """One node's cluster DNS: the server plus its kube-dns Service / EndpointSlice entry."""

    def __init__(self, client: ApiClient, factory: InformerFactory, *, node_name: str, node_ip: str,
                 netns: str | None = None, port: int = 53, domain: str = DEFAULT_DOMAIN,
                 upstreams: list[str] | None = None, cluster_ip: str = CLUSTER_DNS_IP,
                 forward_timeout: float = 1.0) -> None:
        self.client = client
        self.node_name, self.node_ip, self.netns = node_name, node_ip, netns
        self.cluster_ip = cluster_ip
        svc_inf, slice_inf = factory.informer(SERVICES), factory.informer(ENDPOINTSLICES)
        self._informers = [svc_inf, slice_inf]
        services, slices = svc_inf.store, slice_inf.store
        if not slices.has_index("service"):
            slices.add_index("service", _slice_service_key)
        self.records = Records(lambda ns, name: services.get_by(ns, name),
                               lambda key: slices.by_index("service", key), domain)
        self.server = DnsServer(self.records, host=node_ip, port=port, netns=netns,
                                upstreams=node_upstreams(netns) if upstreams is None else upstreams,
                                forward_timeout=forward_timeout,
                                ready=lambda: all(i.has_synced for i in self._informers))
        self._register_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.server.start()
        self._register_task = asyncio.create_task(self._register(), name=f"dns-register:{self.node_name}")

    async def stop(self, unregister: bool = False) -> None:
        """Stop serving. The EndpointSlice stays by default: a restarting agent comes back on the
        same address, and the slice goes with its Node (owner reference); `unregister` removes it."""
        if self._register_task is not None:
            self._register_task.cancel()
            await asyncio.gather(self._register_task, return_exceptions=True)
        await self.server.stop()
        if unregister:
            with contextlib.suppress(ApiError, OSError):
                await self.client.delete(ENDPOINTSLICES, f"{DNS_SERVICE}-{self.node_name}", DNS_NAMESPACE)

    async def _register(self) -> None:
        delay = 0.2
        while True:
            try:
                await self.register()
                return
            except (ApiError, OSError) as err:
                log.warning("registering the cluster DNS endpoint failed (retrying): %s", err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def register(self) -> None:
        """Make sure the kube-dns Service exists and lists this node's server."""
        try:
            await self.client.get(SERVICES, DNS_SERVICE, DNS_NAMESPACE)
        except ApiError as err:
            if not is_not_found(err):
                raise
            try:
                await self.client.create(SERVICES, dns_service(self.cluster_ip), DNS_NAMESPACE)
            except ApiError as err2:
                # another node created it meanwhile (409, or 422 "IP already allocated")
                if not (is_already_exists(err2) or err2.code == 422):
                    raise
                await self.client.get(SERVICES, DNS_SERVICE, DNS_NAMESPACE)
        uid = None
        try:
            uid = (await self.client.get(NODES, self.node_name)).get("metadata", {}).get("uid")
        except ApiError as err:
            if not is_not_found(err):
                raise
        want = dns_slice(self.node_name, self.node_ip, self.server.port, uid)
        try:
            await self.client.create(ENDPOINTSLICES, want, DNS_NAMESPACE)
        except ApiError as err:
            if not is_already_exists(err):
                raise
            cur = await self.client.get(ENDPOINTSLICES, want["metadata"]["name"], DNS_NAMESPACE)
            if cur.get("endpoints") != want["endpoints"] or cur.get("ports") != want["ports"]:
                want["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
                await self.client.replace(ENDPOINTSLICES, want, DNS_NAMESPACE)
