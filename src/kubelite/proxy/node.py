"""Everything one node needs for Services and the pod network, started together by the agent
(or by `python -m kubelite.proxy` on its own): kube-proxy, the cluster DNS server, host-gw routes.

    net = NodeNetworking(client, node_name="n1", netns="kubelite-n1")
    await net.start()     # returns at once; rules follow the informers
    ...
    await net.stop()

The node's pod-network address is `network_ip` or the first global address in the namespace
outside the pod and service CIDRs (eth0 of `build_cluster_network`). It is published on the Node
as the `kubelite.io/network-ip` annotation, so the InternalIP can stay the address the API server
reaches the kubelet on. NodePorts answer on it, the DNS server listens on it, and the other
nodes route this node's podCIDR to it.
"""

from __future__ import annotations

import asyncio
import logging

from kubelite.api.resources import NODES
from kubelite.client.informer import InformerFactory
from kubelite.client.rest import ApiClient, ApiError
from kubelite.dns.server import ClusterDns
from kubelite.network.netns import NetnsError, node_address
from kubelite.network.routes import NETWORK_IP_ANNOTATION, RouteSyncer
from kubelite.proxy.proxier import Proxier

log = logging.getLogger(__name__)


class NodeNetworking:
    def __init__(self, client: ApiClient, *, node_name: str, netns: str | None, network_ip: str | None = None,
                 dns: bool = True, dns_port: int = 53, routes: bool = True,
                 cluster_cidr: str = "10.42.0.0/16", upstreams: list[str] | None = None) -> None:
        self.client = client
        self.node_name, self.netns = node_name, netns
        self.network_ip = network_ip
        self.want_dns, self.dns_port, self.want_routes = dns, dns_port, routes
        self.cluster_cidr = cluster_cidr
        self.upstreams = upstreams
        self.factory = InformerFactory(client)
        self.proxier: Proxier | None = None
        self.dns: ClusterDns | None = None
        self.routes: RouteSyncer | None = None
        self._annotate: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.network_ip is None:
            try:
                self.network_ip = await asyncio.to_thread(node_address, self.netns)
            except NetnsError as err:
                log.warning("cannot read the node's addresses: %s", err)
        ips = [self.network_ip] if self.network_ip else []
        self.proxier = Proxier(self.factory, node_name=self.node_name, netns=self.netns, node_ips=ips,
                               cluster_cidr=self.cluster_cidr)
        if self.want_routes:
            self.routes = RouteSyncer(self.factory, self.node_name, self.netns)
        if self.want_dns and self.network_ip:
            self.dns = ClusterDns(self.client, self.factory, node_name=self.node_name, node_ip=self.network_ip,
                                  netns=self.netns, port=self.dns_port, upstreams=self.upstreams)
        elif self.want_dns:
            log.warning("node %s has no pod-network address: cluster DNS not started", self.node_name)
        await self.factory.start()
        await self.proxier.start()
        if self.routes is not None:
            await self.routes.start()
        if self.dns is not None:
            await self.dns.start()
        if self.network_ip:
            self._annotate = asyncio.create_task(self._publish_ip(self.network_ip))

    async def _publish_ip(self, ip: str) -> None:
        delay = 0.2
        while True:
            try:
                await self.client.patch(NODES, self.node_name,
                                        {"metadata": {"annotations": {NETWORK_IP_ANNOTATION: ip}}})
                return
            except (ApiError, OSError) as err:  # the Node is not registered yet
                log.debug("annotating node %s: %s", self.node_name, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def stop(self) -> None:
        """Stop; the rules and routes stay in place (as when kube-proxy restarts)."""
        if self._annotate is not None:
            self._annotate.cancel()
            await asyncio.gather(self._annotate, return_exceptions=True)
        if self.dns is not None:
            await self.dns.stop()
        if self.routes is not None:
            await self.routes.stop()
        if self.proxier is not None:
            await self.proxier.stop()
        await self.factory.stop()
