"""The proxy's sync loop against real iptables (nft backend) in a network namespace the test
makes: rules follow the API objects, a restart re-syncs without duplicates, cleanup removes all."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from kubelite.api.resources import ENDPOINTSLICES, SERVICES
from kubelite.client.fake import FakeApiClient
from kubelite.client.informer import InformerFactory
from kubelite.proxy.proxier import Proxier


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.fail("the proxier tests need root (a network namespace)")
    name = f"klpx-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _save(netns: str) -> str:
    return subprocess.run(["ip", "netns", "exec", netns, "iptables-save"], capture_output=True, text=True,
                          check=True).stdout


def _route(netns: str, ip: str) -> str:
    return subprocess.run(["ip", "-n", netns, "route", "get", ip], capture_output=True, text=True).stdout


def _svc(name: str, ip: str, port: int = 80) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "default", "name": name},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "ports": [{"name": "http", "port": port}]}}


def _slice(svc: str, *ips: str) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"namespace": "default", "name": f"{svc}-abc",
                         "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips]}


@pytest.fixture
async def fake() -> AsyncIterator[FakeApiClient]:
    yield FakeApiClient()


async def _proxier(fake: FakeApiClient, netns: str) -> tuple[Proxier, InformerFactory]:
    factory = InformerFactory(fake)  # type: ignore[arg-type]
    proxier = Proxier(factory, node_name="n1", netns=netns, node_ips=["10.45.0.2"])
    await factory.start()
    await proxier.start()
    await proxier.wait_for_sync()
    return proxier, factory


async def test_rules_follow_services_and_endpoints(fake: FakeApiClient, netns: str) -> None:
    fake.add(SERVICES, _svc("web", "10.43.0.20"))
    fake.add(ENDPOINTSLICES, _slice("web", "10.42.1.5", "10.42.2.7"))
    proxier, factory = await _proxier(fake, netns)
    try:
        save = _save(netns)
        assert "--to-destination 10.42.1.5:8080" in save and "--to-destination 10.42.2.7:8080" in save
        # the node got a route for the service CIDR (its namespace had none)
        assert "kube-svc0" in _route(netns, "10.43.0.20")

        n = proxier.sync_count
        sl = await fake.get(ENDPOINTSLICES, "web-abc", "default")
        sl["endpoints"] = sl["endpoints"][:1]
        await fake.replace(ENDPOINTSLICES, sl, "default")
        await proxier.wait_for_sync(n + 1)
        save = _save(netns)
        assert "10.42.2.7" not in save and save.count("-j KUBE-SEP-") == 1

        n = proxier.sync_count
        await fake.delete(SERVICES, "web", "default")
        await proxier.wait_for_sync(n + 1)
        save = _save(netns)
        assert "default/web" not in save and "KUBE-SVC-" not in save and "KUBE-SEP-" not in save
    finally:
        await proxier.stop()
        await factory.stop()


async def test_a_restarted_proxy_rewrites_its_rules_without_duplicates(fake: FakeApiClient, netns: str) -> None:
    fake.add(SERVICES, _svc("web", "10.43.0.20"), _svc("old", "10.43.0.21"))
    fake.add(ENDPOINTSLICES, _slice("web", "10.42.1.5"), _slice("old", "10.42.1.9"))
    first, factory = await _proxier(fake, netns)
    await first.stop()
    await factory.stop()
    before = _save(netns)
    await fake.delete(SERVICES, "old", "default")  # deleted while no proxy ran
    second, factory = await _proxier(fake, netns)
    try:
        after = _save(netns)
        for jump in ("-A PREROUTING", "-A OUTPUT -m comment", "-A POSTROUTING", "-A INPUT", "-A FORWARD"):
            assert before.count(jump) == after.count(jump) >= 1, jump
        assert "10.42.1.9" not in after and "10.42.1.5:8080" in after
    finally:
        await second.stop()
        await second.cleanup()
        await factory.stop()
    assert "KUBE-" not in _save(netns)  # cleanup removed every chain and jump
