"""The cluster network on one machine: namespaces joined by a bridge, host-gw routes from Nodes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kubelite.api.resources import NODES
from kubelite.client.fake import FakeApiClient
from kubelite.client.informer import InformerFactory
from kubelite.network import ClusterNetwork, NetnsError, build_cluster_network, teardown_cluster_network
from kubelite.network.routes import NETWORK_IP_ANNOTATION, RouteSyncer, desired_routes


@pytest.fixture
def net() -> Iterator[ClusterNetwork]:
    if os.geteuid() != 0:
        pytest.fail("the network tests need root (network namespaces)")
    n = build_cluster_network(["a", "b"], prefix=f"kln{uuid.uuid4().hex[:6]}")
    try:
        yield n
    finally:
        teardown_cluster_network(n)


def _ns(net: ClusterNetwork, node: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", net.nodes[node].netns, *argv], capture_output=True, text=True,
                          timeout=20)


def test_nodes_reach_each_other_over_the_cluster_bridge(net: ClusterNetwork) -> None:
    a, b = net.nodes["a"], net.nodes["b"]
    assert a.ip != b.ip
    listener = subprocess.Popen(["ip", "netns", "exec", b.netns, "busybox", "nc", "-l", "-p", "7000", "-e", "echo",
                                 "hello"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = ""
        for _ in range(50):
            r = _ns(net, "a", "busybox", "nc", b.ip, "7000")
            out = r.stdout
            if "hello" in out:
                break
        assert "hello" in out
    finally:
        listener.kill()
        listener.wait()
    assert _ns(net, "a", "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"


def test_teardown_removes_every_namespace() -> None:
    if os.geteuid() != 0:
        pytest.fail("the network tests need root (network namespaces)")
    n = build_cluster_network(["x"], prefix=f"kln{uuid.uuid4().hex[:6]}")
    names = [n.bridge_netns, n.nodes["x"].netns]
    teardown_cluster_network(n)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(name in listed for name in names)


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(NetnsError, match="unique"):
        build_cluster_network(["a", "a"], prefix=f"kln{uuid.uuid4().hex[:6]}")
    with pytest.raises(NetnsError, match="subnet"):
        build_cluster_network(["a"], prefix=f"kln{uuid.uuid4().hex[:6]}", subnet="nonsense")


def _node(name: str, cidr: str | None, ip: str | None, annotated: bool = False) -> dict[str, Any]:
    node: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                            "spec": {"podCIDR": cidr} if cidr else {}, "status": {}}
    if ip and annotated:
        node["metadata"]["annotations"] = {NETWORK_IP_ANNOTATION: ip}
        node["status"]["addresses"] = [{"type": "InternalIP", "address": "127.0.0.1"}]
    elif ip:
        node["status"]["addresses"] = [{"type": "InternalIP", "address": ip}]
    return node


def test_routes_come_from_other_nodes_pod_cidrs() -> None:
    nodes = [_node("a", "10.42.0.0/24", "10.45.0.2"), _node("b", "10.42.1.0/24", "10.45.0.3", annotated=True),
             _node("c", None, "10.45.0.4")]
    assert desired_routes(nodes, "a") == {"10.42.1.0/24": "10.45.0.3"}


async def test_route_syncer_adds_and_removes_host_gw_routes(net: ClusterNetwork) -> None:
    a, b = net.nodes["a"], net.nodes["b"]
    fake = FakeApiClient()
    fake.add(NODES, _node("a", "10.42.0.0/24", a.ip), _node("b", "10.42.1.0/24", b.ip, annotated=True))
    factory = InformerFactory(fake)  # type: ignore[arg-type]
    syncer = RouteSyncer(factory, "a", a.netns)
    await factory.start()
    await factory.wait_synced()
    try:
        await syncer.sync()
        routes = _ns(net, "a", "ip", "route").stdout
        assert f"10.42.1.0/24 via {b.ip}" in routes and "10.42.0.0/24" not in routes
        await syncer.sync()  # idempotent
        assert _ns(net, "a", "ip", "route").stdout.count("10.42.1.0/24") == 1
        await fake.delete(NODES, "b")
        for _ in range(200):  # the informer delivers the delete asynchronously
            if syncer.nodes.get_by(None, "b") is None:
                break
            await asyncio.sleep(0.01)
        await syncer.sync()
        assert "10.42.1.0/24" not in _ns(net, "a", "ip", "route").stdout
    finally:
        await factory.stop()
