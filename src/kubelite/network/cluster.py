"""Several nodes on one machine: a cluster bridge in its own namespace, one veth per node.

    net = build_cluster_network(["node-1", "node-2"])     # root; sync (wrap in asyncio.to_thread)
    net.nodes["node-1"].netns, net.nodes["node-1"].ip      # give these to the node's agent
    teardown_cluster_network(net)                          # after the agents stopped

Layout (nothing in the host's own namespace changes):

    [<prefix>-br]   br0 (a Linux bridge, no address: it only switches)
        |-- veth --- [<prefix>-node-1]  eth0 10.45.0.2/24, ip_forward=1
        |-- veth --- [<prefix>-node-2]  eth0 10.45.0.3/24, ip_forward=1

Each node's agent runs containerd (and so its CNI bridge and pods) in its namespace, and the
route syncer (routes.py) adds `<other node's podCIDR> via <other node's address>` from the Node
objects: host-gw, the flannel idea. The node network has no default route: traffic for
addresses outside the cluster fails at once instead of hanging.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from dataclasses import dataclass, field

from kubelite.network.netns import NetnsError, run

NODE_SUBNET = "10.45.0.0/24"
BRIDGE = "br0"


@dataclass(frozen=True, slots=True)
class NodeNetwork:
    name: str
    netns: str
    ip: str              # the node's InternalIP
    interface: str = "eth0"


@dataclass(slots=True)
class ClusterNetwork:
    bridge_netns: str
    subnet: str
    nodes: dict[str, NodeNetwork] = field(default_factory=dict)


def _veth_names(netns: str) -> tuple[str, str]:
    h = hashlib.sha256(netns.encode()).hexdigest()[:8]
    return f"kln{h}", f"klb{h}"


def _valid_netns_name(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..") and len(name) < 200


def _add_netns(name: str) -> None:
    if os.path.exists(f"/run/netns/{name}"):
        raise NetnsError(f"network namespace {name!r} already exists: tear the old cluster down first")
    run(None, ["ip", "netns", "add", name])
    run(name, ["ip", "link", "set", "lo", "up"])


def _sysctl(netns: str, key: str, value: str) -> None:
    run(netns, ["sysctl", "-q", "-w", f"{key}={value}"])


def add_node(net: ClusterNetwork, name: str, netns: str | None = None) -> NodeNetwork:
    """Create one more node namespace and plug it into the cluster bridge."""
    if name in net.nodes:
        raise NetnsError(f"node {name!r} is already in the cluster network")
    netns = netns or f"{net.bridge_netns.removesuffix('-br')}-{name}"
    if not _valid_netns_name(netns):
        raise NetnsError(f"invalid network namespace name {netns!r}")
    subnet = ipaddress.ip_network(net.subnet)
    used = {n.ip for n in net.nodes.values()}
    ip = next((str(h) for h in list(subnet.hosts())[1:] if str(h) not in used), None)
    if ip is None:
        raise NetnsError(f"the node subnet {net.subnet} is full")
    _add_netns(netns)
    inner, outer = _veth_names(netns)
    try:
        run(None, ["ip", "link", "add", inner, "netns", netns, "type", "veth",
                   "peer", "name", outer, "netns", net.bridge_netns])
        run(netns, ["ip", "link", "set", inner, "name", "eth0"])
        run(net.bridge_netns, ["ip", "link", "set", outer, "master", BRIDGE])
        run(net.bridge_netns, ["ip", "link", "set", outer, "up"])
        run(netns, ["ip", "addr", "add", f"{ip}/{subnet.prefixlen}", "dev", "eth0"])
        run(netns, ["ip", "link", "set", "eth0", "up"])
        _sysctl(netns, "net.ipv4.ip_forward", "1")
        _sysctl(netns, "net.ipv4.conf.all.rp_filter", "0")
    except Exception:
        run(None, ["ip", "netns", "del", netns], check=False)
        raise
    node = NodeNetwork(name=name, netns=netns, ip=ip)
    net.nodes[name] = node
    return node


def build_cluster_network(names: list[str], *, prefix: str = "kubelite", subnet: str = NODE_SUBNET,
                          bridge_netns: str | None = None) -> ClusterNetwork:
    """A bridge namespace (`bridge_netns`, default `<prefix>-br`) and one namespace `<prefix>-<name>`
    per node (root). Give a `bridge_netns` of its own to each cluster that may run beside another
    one with the same prefix (`kubelite up` derives it from its data dir)."""
    if os.geteuid() != 0:
        raise NetnsError("building the cluster network needs root (network namespaces)")
    if len(set(names)) != len(names):
        raise NetnsError(f"node names must be unique: {names}")
    try:
        net_subnet = ipaddress.ip_network(subnet)
    except ValueError as err:
        raise NetnsError(f"invalid node subnet {subnet!r}: {err}") from err
    if net_subnet.num_addresses - 3 < len(names):
        raise NetnsError(f"the node subnet {subnet} is too small for {len(names)} nodes")
    bridge_ns = bridge_netns or f"{prefix}-br"
    if not _valid_netns_name(bridge_ns) or not _valid_netns_name(prefix):
        raise NetnsError(f"invalid prefix {prefix!r} or bridge namespace {bridge_ns!r}")
    if bridge_ns in {f"{prefix}-{name}" for name in names}:
        raise NetnsError(f"node name clashes with the bridge namespace {bridge_ns!r}")
    _add_netns(bridge_ns)
    net = ClusterNetwork(bridge_netns=bridge_ns, subnet=str(net_subnet))
    try:
        run(bridge_ns, ["ip", "link", "add", BRIDGE, "type", "bridge"])
        run(bridge_ns, ["ip", "link", "set", BRIDGE, "up"])
        for name in names:
            add_node(net, name, f"{prefix}-{name}")
    except Exception:
        teardown_cluster_network(net)
        raise
    return net


def teardown_cluster_network(net: ClusterNetwork) -> None:
    """Delete every namespace the cluster network made (their veths and routes go with them).
    Stop the agents first: a namespace lives on while a process is still inside it."""
    for node in list(net.nodes.values()):
        run(None, ["ip", "netns", "del", node.netns], check=False)
    net.nodes.clear()
    run(None, ["ip", "netns", "del", net.bridge_netns], check=False)
