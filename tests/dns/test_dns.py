"""Cluster DNS: answers per the Kubernetes DNS spec, over real UDP and TCP sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from kubelite.api.resources import ENDPOINTSLICES, NODES, SERVICES
from kubelite.client.fake import FakeApiClient
from kubelite.client.informer import InformerFactory
from kubelite.dns.records import Records
from kubelite.dns.server import ClusterDns, DnsServer

WEB = {"metadata": {"namespace": "default", "name": "web"},
       "spec": {"clusterIP": "10.43.0.20", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}
DB = {"metadata": {"namespace": "prod", "name": "db"},
      "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}}
DB_SLICE = {"metadata": {"namespace": "prod", "name": "db-x", "labels": {"kubernetes.io/service-name": "db"}},
            "addressType": "IPv4", "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.42.1.7"], "conditions": {"ready": True}, "hostname": "db-0"},
                          {"addresses": ["10.42.2.9"], "conditions": {"ready": True}},
                          {"addresses": ["10.42.2.10"], "conditions": {"ready": False}}]}
EXT = {"metadata": {"namespace": "default", "name": "search"},
       "spec": {"type": "ExternalName", "externalName": "www.example.org"}}


def _records() -> Records:
    services = {("default", "web"): WEB, ("prod", "db"): DB, ("default", "search"): EXT}
    return Records(lambda ns, n: services.get((ns, n)), lambda key: [DB_SLICE] if key == "prod/db" else [])


def ask(records: Records, name: str, qtype: str = "A") -> DNSRecord:
    reply = records.answer(DNSRecord.question(name, qtype))
    assert reply is not None
    return reply


def _a(reply: DNSRecord) -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A)


def test_a_service_name_resolves_to_its_cluster_ip() -> None:
    reply = ask(_records(), "web.default.svc.cluster.local")
    assert reply.header.rcode == RCODE.NOERROR and reply.header.aa == 1
    assert _a(reply) == ["10.43.0.20"]


def test_a_headless_service_resolves_to_its_ready_pod_ips() -> None:
    assert _a(ask(_records(), "db.prod.svc.cluster.local")) == ["10.42.1.7", "10.42.2.9"]
    assert _a(ask(_records(), "db-0.db.prod.svc.cluster.local")) == ["10.42.1.7"]
    assert _a(ask(_records(), "10-42-2-9.db.prod.svc.cluster.local")) == ["10.42.2.9"]


def test_srv_records_name_ports() -> None:
    reply = ask(_records(), "_http._tcp.web.default.svc.cluster.local", "SRV")
    assert [(rr.rdata.port, str(rr.rdata.target)) for rr in reply.rr] == [(80, "web.default.svc.cluster.local.")]
    reply = ask(_records(), "_pg._tcp.db.prod.svc.cluster.local", "SRV")
    assert sorted(str(rr.rdata.target) for rr in reply.rr) == \
        ["10-42-2-9.db.prod.svc.cluster.local.", "db-0.db.prod.svc.cluster.local."]
    assert _a(DNSRecord(rr=reply.ar)) == ["10.42.1.7", "10.42.2.9"]


def test_pod_names_resolve_to_the_ip_they_spell() -> None:
    assert _a(ask(_records(), "10-42-1-5.default.pod.cluster.local")) == ["10.42.1.5"]


def test_external_name_is_a_cname() -> None:
    reply = ask(_records(), "search.default.svc.cluster.local")
    assert [str(rr.rdata) for rr in reply.rr] == ["www.example.org."]


def test_search_path_misses_are_nxdomain_and_other_types_are_nodata() -> None:
    for name in ("web.default.svc.cluster.local.default.svc.cluster.local", "nope.default.svc.cluster.local",
                 "web.cluster.local"):
        reply = ask(_records(), name)
        assert reply.header.rcode == RCODE.NXDOMAIN and reply.auth[0].rtype == QTYPE.SOA
    reply = ask(_records(), "web.default.svc.cluster.local", "AAAA")
    assert reply.header.rcode == RCODE.NOERROR and not reply.rr and reply.auth


def test_names_outside_the_domain_are_not_answered_locally() -> None:
    assert _records().answer(DNSRecord.question("example.org")) is None


@pytest.fixture
async def server() -> AsyncIterator[DnsServer]:
    srv = DnsServer(_records(), host="127.0.0.1", port=0, upstreams=[])
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def _send(srv: DnsServer, name: str, qtype: str = "A", tcp: bool = False) -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    raw = await asyncio.to_thread(q.send, "127.0.0.1", srv.port, tcp=tcp, timeout=5)
    return DNSRecord.parse(raw)


async def test_served_over_udp_and_tcp(server: DnsServer) -> None:
    assert _a(await _send(server, "web.default.svc.cluster.local")) == ["10.43.0.20"]
    assert _a(await _send(server, "db.prod.svc.cluster.local", tcp=True)) == ["10.42.1.7", "10.42.2.9"]


async def test_outside_names_get_servfail_at_once_without_a_resolver(server: DnsServer) -> None:
    started = time.monotonic()
    reply = await _send(server, "example.org")
    assert reply.header.rcode == RCODE.SERVFAIL
    assert time.monotonic() - started < 3  # not a resolver timeout


async def test_garbage_is_dropped_and_the_server_keeps_answering(server: DnsServer) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                       remote_addr=("127.0.0.1", server.port))
    transport.sendto(b"\x00garbage")
    transport.close()
    assert _a(await _send(server, "web.default.svc.cluster.local")) == ["10.43.0.20"]


async def test_outside_names_are_forwarded_to_the_node_resolver() -> None:
    upstream_records = Records(lambda ns, n: WEB if (ns, n) == ("default", "web") else None, lambda key: [],
                               domain="example.org")
    upstream = DnsServer(upstream_records, host="127.0.0.1", port=0, upstreams=[])
    await upstream.start()
    srv = DnsServer(_records(), host="127.0.0.1", port=0, upstreams=[f"127.0.0.1:{upstream.port}"])
    await srv.start()
    try:
        assert _a(await _send(srv, "web.default.svc.example.org")) == ["10.43.0.20"]
    finally:
        await srv.stop()
        await upstream.stop()


async def test_cluster_dns_registers_the_kube_dns_service_and_its_node_endpoint() -> None:
    fake = FakeApiClient()
    fake.add(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    fake.add(SERVICES, {**WEB, "apiVersion": "v1", "kind": "Service"})
    factory = InformerFactory(fake)  # type: ignore[arg-type]
    dns = ClusterDns(fake, factory, node_name="n1", node_ip="127.0.0.1", port=0, upstreams=[])  # type: ignore[arg-type]
    await factory.start()
    await factory.wait_synced()
    await dns.start()
    try:
        await dns.register()
        svc: dict[str, Any] = await fake.get(SERVICES, "kube-dns", "kube-system")
        assert svc["spec"]["clusterIP"] == "10.43.0.10" and svc["spec"]["internalTrafficPolicy"] == "Local"
        sl = await fake.get(ENDPOINTSLICES, "kube-dns-n1", "kube-system")
        assert sl["endpoints"][0]["addresses"] == ["127.0.0.1"] and sl["endpoints"][0]["nodeName"] == "n1"
        assert sl["ports"][0]["port"] == dns.server.port
        assert sl["metadata"]["ownerReferences"][0]["kind"] == "Node"
        await dns.register()  # idempotent
        reply = await _send(dns.server, "web.default.svc.cluster.local")
        assert _a(reply) == ["10.43.0.20"]
    finally:
        await dns.stop(unregister=True)
        await factory.stop()
    assert (await fake.list(ENDPOINTSLICES, "kube-system"))["items"] == []  # unregistered on stop
