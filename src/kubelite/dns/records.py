"""Cluster DNS answers (the Kubernetes DNS specification), as a pure function of the listers.

    <svc>.<ns>.svc.<domain>              A     the ClusterIP; headless: every ready endpoint IP
    <host>.<svc>.<ns>.svc.<domain>       A     one endpoint of a headless Service (its hostname,
                                                or its IP with dashes)
    _<port>._<proto>.<svc>.<ns>.svc...   SRV   per endpoint for headless, else the Service name
    <svc>.<ns>.svc.<domain>              SRV   every named port
    <a-b-c-d>.<ns>.pod.<domain>          A     a.b.c.d
    ExternalName Services                CNAME

Everything else under the cluster domain is NXDOMAIN with the zone's SOA (so that a resolver
walking its search path moves on at once); a name that exists but has no record of the asked
type is NOERROR with no answer (NODATA), which matters to resolvers that ask A and AAAA together.
`answer` returns None for names outside the domain: the server forwards those.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, SOA, SRV, A, DNSHeader, DNSLabel, DNSRecord

TTL = 5
DEFAULT_DOMAIN = "cluster.local"

Obj = Mapping[str, Any]
#: (namespace, name) -> the Service, or None
ServiceLookup = Callable[[str, str], "Obj | None"]
#: "ns/name" -> the Service's EndpointSlices
SliceLookup = Callable[[str], Iterable[Obj]]


def _dashed(ip: str) -> str:
    return ip.replace(".", "-").replace(":", "-")


def _ready_endpoints(slices: Iterable[Obj]) -> list[tuple[str, str]]:
    """(hostname, ip) of the ready endpoints, deduplicated, in a stable order."""
    seen: dict[str, str] = {}
    for sl in slices:
        for ep in sl.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            for ip in (ep.get("addresses") or [])[:1]:
                seen.setdefault(str(ip), str(ep.get("hostname") or _dashed(str(ip))))
    return sorted(((h, ip) for ip, h in seen.items()), key=lambda t: t[1])


def _slice_ports(slices: Iterable[Obj]) -> list[tuple[str, str, int]]:
    out: dict[tuple[str, str], int] = {}
    for sl in slices:
        for p in sl.get("ports") or []:
            if p.get("name") and p.get("port"):
                out.setdefault((str(p["name"]), str(p.get("protocol") or "TCP")), int(p["port"]))
    return [(n, proto, port) for (n, proto), port in sorted(out.items())]


class Records:
    """Answers DNS questions from Services and EndpointSlices (via lookup callables)."""

    def __init__(self, service: ServiceLookup, slices: SliceLookup, domain: str = DEFAULT_DOMAIN) -> None:
        self.service = service
        self.slices = slices
        self.domain = domain.strip(".").lower()
        self._suffix = tuple(self.domain.split("."))

    def soa(self) -> RR:
        return RR(self.domain + ".", QTYPE.SOA, ttl=TTL, rdata=SOA(
            f"ns.dns.{self.domain}.", f"hostmaster.{self.domain}.", (1, 7200, 1800, 86400, TTL)))

    def is_ours(self, qname: str) -> bool:
        labels = tuple(qname.lower().strip(".").split("."))
        return labels[-len(self._suffix):] == self._suffix

    def answer(self, request: DNSRecord) -> DNSRecord | None:
        """The reply for `request`, or None when the name is outside the cluster domain."""
        reply = DNSRecord(DNSHeader(id=request.header.id, qr=1, aa=1, ra=1, rd=request.header.rd),
                          q=request.q)
        qname = str(request.q.qname)
        if not self.is_ours(qname):
            return None
        labels = qname.lower().strip(".").split(".")[: -len(self._suffix)]
        found = self._resolve(labels, request.q.qtype, reply)
        if found is None:
            reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(self.soa())
        elif not reply.rr:
            reply.add_auth(self.soa())
        return reply

    # each returns None (no such name) or True (name exists; answers added to reply)
    def _resolve(self, labels: list[str], qtype: int, reply: DNSRecord) -> bool | None:
        qname = DNSLabel(".".join(labels + [self.domain]) + ".")
        if len(labels) <= 2 and labels[-1:] in (["svc"], ["pod"]) or labels == []:
            return True  # the zone, svc/pod and namespace levels exist (empty non-terminals)
        if labels[-1] == "pod" and len(labels) == 3:
            try:
                ip = ipaddress.IPv4Address(labels[0].replace("-", "."))
            except ValueError:
                return None
            if qtype in (QTYPE.A, QTYPE.ANY):
                reply.add_answer(RR(qname, QTYPE.A, ttl=TTL, rdata=A(str(ip))))
            return True
        if labels[-1] != "svc":
            return None
        if len(labels) == 3:
            return self._service(labels[0], labels[1], qname, qtype, reply)
        if len(labels) == 4:
            return self._endpoint(labels[0], labels[1], labels[2], qname, qtype, reply)
        if len(labels) == 5 and labels[0].startswith("_") and labels[1].startswith("_"):
            return self._srv(labels[0][1:], labels[1][1:], labels[2], labels[3], qname, qtype, reply)
        return None

    def _service(self, name: str, ns: str, qname: DNSLabel, qtype: int, reply: DNSRecord) -> bool | None:
        svc = self.service(ns, name)
        if svc is None:
            return None
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            target = str(spec.get("externalName") or "").strip(".")
            if target:
                reply.add_answer(RR(qname, QTYPE.CNAME, ttl=TTL, rdata=CNAME(target + ".")))
            return True
        headless = spec.get("clusterIP") in (None, "", "None")
        slices = list(self.slices(f"{ns}/{name}"))
        endpoints = _ready_endpoints(slices)
        if qtype in (QTYPE.A, QTYPE.ANY):
            ips = [ip for _, ip in endpoints] if headless else [str(spec["clusterIP"])]
            for ip in ips:
                if ":" not in ip:
                    reply.add_answer(RR(qname, QTYPE.A, ttl=TTL, rdata=A(ip)))
        if qtype == QTYPE.AAAA and not headless and ":" in str(spec.get("clusterIP")):
            reply.add_answer(RR(qname, QTYPE.AAAA, ttl=TTL, rdata=AAAA(str(spec["clusterIP"]))))
        if qtype == QTYPE.SRV:
            ports = [(str(p.get("name")), str(p.get("protocol") or "TCP"), int(p.get("port") or 0))
                     for p in spec.get("ports") or [] if p.get("name")]
            if headless:
                ports = _slice_ports(slices)
            for _, _, port in ports:
                self._add_srv(reply, qname, name, ns, port, headless, endpoints, spec)
        return True

    def _add_srv(self, reply: DNSRecord, qname: DNSLabel, name: str, ns: str, port: int, headless: bool,
                 endpoints: list[tuple[str, str]], spec: Mapping[str, Any]) -> None:
        base = f"{name}.{ns}.svc.{self.domain}."
        if headless:
            for host, ip in endpoints:
                target = f"{host}.{base}"
                reply.add_answer(RR(qname, QTYPE.SRV, ttl=TTL, rdata=SRV(0, 100, port, target)))
                reply.add_ar(RR(target, QTYPE.A, ttl=TTL, rdata=A(ip)))
        else:
            reply.add_answer(RR(qname, QTYPE.SRV, ttl=TTL, rdata=SRV(0, 100, port, base)))
            if not any(str(ar.rname) == base for ar in reply.ar):
                reply.add_ar(RR(base, QTYPE.A, ttl=TTL, rdata=A(str(spec["clusterIP"]))))

    def _endpoint(self, host: str, name: str, ns: str, qname: DNSLabel, qtype: int,
                  reply: DNSRecord) -> bool | None:
        svc = self.service(ns, name)
        if svc is None:
            return None
        for h, ip in _ready_endpoints(self.slices(f"{ns}/{name}")):
            if h.lower() == host:
                if qtype in (QTYPE.A, QTYPE.ANY):
                    reply.add_answer(RR(qname, QTYPE.A, ttl=TTL, rdata=A(ip)))
                return True
        return None

    def _srv(self, port_name: str, proto: str, name: str, ns: str, qname: DNSLabel, qtype: int,
             reply: DNSRecord) -> bool | None:
        svc = self.service(ns, name)
        if svc is None:
            return None
        spec = svc.get("spec") or {}
        headless = spec.get("clusterIP") in (None, "", "None")
        slices = list(self.slices(f"{ns}/{name}"))
        if headless:
            ports = _slice_ports(slices)
        else:
            ports = [(str(p.get("name")), str(p.get("protocol") or "TCP"), int(p.get("port") or 0))
                     for p in spec.get("ports") or [] if p.get("name")]
        match = [port for n, pr, port in ports if n.lower() == port_name and pr.lower() == proto]
        if not match:
            return None
        if qtype in (QTYPE.SRV, QTYPE.ANY):
            self._add_srv(reply, qname, name, ns, match[0], headless, _ready_endpoints(slices), spec)
        return True


def servfail(request: DNSRecord) -> DNSRecord:
    reply = DNSRecord(DNSHeader(id=request.header.id, qr=1, ra=1, rd=request.header.rd), q=request.q)
    reply.header.rcode = RCODE.SERVFAIL
    return reply


def truncated(reply: DNSRecord) -> DNSRecord:
    """The reply without records and with TC set: the client retries over TCP."""
    out = DNSRecord(DNSHeader(id=reply.header.id, qr=1, aa=reply.header.aa, ra=1, rd=reply.header.rd, tc=1),
                    q=reply.q)
    out.header.rcode = reply.header.rcode
    return out
