"""host-gw routes: each node routes the other nodes' podCIDRs to their addresses.

The syncer watches Node objects and keeps, in its node's namespace, exactly one route
`<podCIDR> via <InternalIP>` per other node (the flannel host-gw idea: the nodes share one
L2 network, so no encapsulation is needed). Our routes carry a protocol number of their own
(`proto 77`), so a re-sync compares against `ip route show proto 77` and removes routes of
nodes that went away without touching anything else, also after an agent restart.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from kubelite.api.resources import NODES
from kubelite.client.informer import InformerFactory
from kubelite.network.netns import NetnsError, arun

log = logging.getLogger(__name__)

ROUTE_PROTO = "77"
#: the node's address on the pod network, when it is not its InternalIP (several nodes on one
#: machine report 127.0.0.1 so that the API server reaches their kubelets; flannel's public-ip idea)
NETWORK_IP_ANNOTATION = "kubelite.io/network-ip"


def node_internal_ip(node: Mapping[str, Any]) -> str | None:
    """The annotation above, else the InternalIP."""
    ann = ((node.get("metadata") or {}).get("annotations") or {}).get(NETWORK_IP_ANNOTATION)
    if ann:
        return str(ann)
    for addr in (node.get("status") or {}).get("addresses") or []:
        if addr.get("type") == "InternalIP" and addr.get("address"):
            return str(addr["address"])
    return None


def desired_routes(nodes: Sequence[Mapping[str, Any]], self_name: str) -> dict[str, str]:
    """podCIDR -> gateway for every other node that has both (pure)."""
    out: dict[str, str] = {}
    for node in nodes:
        name = (node.get("metadata") or {}).get("name")
        cidr = (node.get("spec") or {}).get("podCIDR")
        ip = node_internal_ip(node)
        if name == self_name or not cidr or not ip:
            continue
        try:
            out[str(ipaddress.ip_network(cidr))] = str(ipaddress.IPv4Address(ip))
        except ValueError:
            log.warning("node %s: bad podCIDR %r or address %r", name, cidr, ip)
    return out


def parse_routes(text: str) -> dict[str, str]:
    """`ip route show proto 77` -> {dst: gateway}."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "via":
            out[parts[0]] = parts[2]
    return out


class RouteSyncer:
    """Keeps the node's host-gw routes in line with the Node objects."""

    def __init__(self, factory: InformerFactory, node_name: str, netns: str | None) -> None:
        self.node_name = node_name
        self.netns = netns
        informer = factory.informer(NODES)
        self.nodes = informer.store
        informer.add_handler(lambda o: self._kick(), lambda o, n: self._kick(), lambda o: self._kick())
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: routes as last applied (dst -> gateway)
        self.applied: dict[str, str] = {}

    def _kick(self) -> None:
        self._dirty.set()

    async def start(self) -> None:
        self._dirty.set()
        self._task = asyncio.create_task(self._loop(), name=f"routes:{self.node_name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self.sync()
            except NetnsError as err:
                log.warning("route sync failed: %s", err)
                await asyncio.sleep(1.0)
                self._dirty.set()

    async def sync(self) -> None:
        want = desired_routes(self.nodes.list(), self.node_name)
        _, out, _ = await arun(self.netns, ["ip", "-4", "route", "show", "proto", ROUTE_PROTO])
        have = parse_routes(out)
        for dst in sorted(set(have) - set(want)):
            await arun(self.netns, ["ip", "route", "del", dst, "proto", ROUTE_PROTO], check=False)
        for dst, gw in sorted(want.items()):
            if have.get(dst) != gw:
                rc, _, err = await arun(self.netns, ["ip", "route", "replace", dst, "via", gw,
                                                     "proto", ROUTE_PROTO], check=False)
                if rc != 0:  # e.g. the gateway is not on this node's network
                    log.warning("route %s via %s: %s", dst, gw, err.strip())
                    continue
        self.applied = want
