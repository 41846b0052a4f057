"""kube-proxy's iptables rules as pure functions: API objects in, iptables-restore text out.

The chain layout is Kubernetes' iptables mode, so that `iptables-save` reads like a real node:

nat:    PREROUTING/OUTPUT -> KUBE-SERVICES -> KUBE-SVC-<h> (or KUBE-SVL-<h> for
        internalTrafficPolicy Local) -> KUBE-SEP-<h> (DNAT to one endpoint, chosen with
        `-m statistic --mode random --probability 1/(n-i)`, or pinned by `-m recent` for
        sessionAffinity ClientIP); the last KUBE-SERVICES rule sends traffic for the node's own
        addresses to KUBE-NODEPORTS -> KUBE-EXT-<h> (mark for masquerade) -> KUBE-SVC-<h>.
        POSTROUTING -> KUBE-POSTROUTING masquerades what KUBE-MARK-MASQ marked: traffic from
        outside the cluster CIDR, NodePort traffic and hairpin traffic (a pod reaching its own
        Service: `-s <endpoint> -j KUBE-MARK-MASQ` in KUBE-SEP-<h>), and lets pod-to-pod traffic
        keep its source address.
filter: FORWARD/OUTPUT (new connections) -> KUBE-SERVICES, INPUT -> KUBE-EXTERNAL-SERVICES:
        REJECT (icmp-port-unreachable, so a client fails at once with "connection refused") for a
        Service port with no ready endpoint; FORWARD -> KUBE-FORWARD accepts marked traffic.

Chain names hash the service port (and endpoint) like Kubernetes does, so they are stable
across restarts: a restarted proxy rewrites the same chains instead of adding new ones.

`build_tables` gives the desired content of every chain we own; `render_restore` turns the
difference against what was applied last into one `iptables-restore --noflush` input: changed
chains are declared (which creates or flushes them) and refilled, unchanged ones are left out,
chains that are no longer wanted are flushed and deleted (`-X`), and the jumps from the
built-in chains are inserted only when `iptables-save` did not show them. One restore per change
is atomic: a reader never sees a half-written Service.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MASQ_MARK = "0x4000"
SERVICE_CIDR = "10.43.0.0/16"
CLUSTER_CIDR = "10.42.0.0/16"
DEFAULT_AFFINITY_TIMEOUT = 10800

# chains every sync writes (the rest are per service / endpoint)
NAT_BASE = ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ")
FILTER_BASE = ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD")
#: prefixes of the chains that come and go with Services
DYNAMIC_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-SEP-", "KUBE-EXT-")

#: (table, built-in chain, rule spec) of the jumps into our chains, inserted at the top
JUMPS: tuple[tuple[str, str, str], ...] = (
    ("nat", "PREROUTING", '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
    ("nat", "OUTPUT", '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
    ("nat", "POSTROUTING", '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING'),
    ("filter", "INPUT", '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible '
                        'service portals" -j KUBE-EXTERNAL-SERVICES'),
    ("filter", "FORWARD", '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD'),
    ("filter", "FORWARD", '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" '
                          '-j KUBE-SERVICES'),
    ("filter", "OUTPUT", '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" '
                         '-j KUBE-SERVICES'),
)

#: table -> chain -> rules (each rule without the leading "-A CHAIN ")
Tables = dict[str, dict[str, list[str]]]


class RuleError(ValueError):
    """An object the proxy cannot turn into rules (bad IP, port...)."""


@dataclass(frozen=True, slots=True)
class ServicePort:
    """One port of one Service: the unit Kubernetes programs (a KUBE-SVC chain each)."""

    namespace: str
    name: str
    port_name: str
    protocol: str               # TCP | UDP | SCTP
    cluster_ip: str
    port: int
    node_port: int = 0          # 0: none
    affinity_timeout: int = 0   # sessionAffinity ClientIP timeout in seconds; 0: no affinity
    local_only: bool = False    # internalTrafficPolicy Local

    @property
    def key(self) -> str:
        """`ns/name:port`, Kubernetes' ServicePortName, used in comments and chain hashes."""
        return f"{self.namespace}/{self.name}:{self.port_name}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    ip: str
    port: int
    ready: bool = True
    node_name: str = ""


@dataclass(slots=True)
class ProxyConfig:
    cluster_cidr: str = CLUSTER_CIDR
    #: addresses NodePorts answer on; empty: every local address (`-m addrtype --dst-type LOCAL`)
    node_ips: list[str] = field(default_factory=list)
    node_name: str = ""


# -- from API objects --------------------------------------------------------------------------


def _hash(*parts: str) -> str:
    digest = hashlib.sha256("".join(parts).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def svc_chain(sp: ServicePort) -> str:
    return "KUBE-SVC-" + _hash(sp.key, sp.protocol)


def svl_chain(sp: ServicePort) -> str:
    return "KUBE-SVL-" + _hash(sp.key, sp.protocol)


def ext_chain(sp: ServicePort) -> str:
    return "KUBE-EXT-" + _hash(sp.key, sp.protocol)


def sep_chain(sp: ServicePort, ep: Endpoint) -> str:
    return "KUBE-SEP-" + _hash(sp.key, sp.protocol, f"{ep.ip}:{ep.port}")


def _check_ip(value: Any, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError as err:
        raise RuleError(f"{what}: {value!r} is not an IPv4 address") from err


def _check_port(value: Any, what: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError) as err:
        raise RuleError(f"{what}: {value!r} is not a port number") from err
    if not 0 < port < 65536:
        raise RuleError(f"{what}: {port} is out of range")
    return port


def service_ports(svc: Mapping[str, Any]) -> list[ServicePort]:
    """The proxied ports of a Service; [] for headless, ExternalName and IP-less Services."""
    meta = svc.get("metadata") or {}
    spec = svc.get("spec") or {}
    cip = spec.get("clusterIP")
    if spec.get("type") == "ExternalName" or not cip or cip == "None":
        return []
    ns, name = str(meta.get("namespace") or "default"), str(meta.get("name") or "")
    cluster_ip = _check_ip(cip, f"service {ns}/{name} clusterIP")
    timeout = 0
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
        timeout = int(cfg.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)
    with_node_port = spec.get("type") in ("NodePort", "LoadBalancer")
    out = []
    for p in spec.get("ports") or []:
        proto = str(p.get("protocol") or "TCP")
        if proto not in ("TCP", "UDP", "SCTP"):
            raise RuleError(f"service {ns}/{name}: unknown protocol {proto!r}")
        out.append(ServicePort(
            namespace=ns, name=name, port_name=str(p.get("name") or ""), protocol=proto,
            cluster_ip=cluster_ip, port=_check_port(p.get("port"), f"service {ns}/{name} port"),
            node_port=_check_port(p["nodePort"], f"service {ns}/{name} nodePort")
            if with_node_port and p.get("nodePort") else 0,
            affinity_timeout=timeout, local_only=spec.get("internalTrafficPolicy") == "Local",
        ))
    return out


def slice_endpoints(sp: ServicePort, slices: Iterable[Mapping[str, Any]]) -> list[Endpoint]:
    """The endpoints of one service port from the Service's EndpointSlices (matched by port name
    and protocol), deduplicated and sorted so the rules do not churn."""
    seen: dict[tuple[str, int], Endpoint] = {}
    for sl in slices:
        if sl.get("addressType", "IPv4") != "IPv4":
            continue
        port = next((p for p in sl.get("ports") or []
                     if str(p.get("name") or "") == sp.port_name and (p.get("protocol") or "TCP") == sp.protocol),
                    None)
        if port is None or port.get("port") is None:
            continue
        number = _check_port(port["port"], f"endpointslice for {sp.key}")
        for ep in sl.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            ready = cond.get("ready") is not False and not cond.get("terminating")
            for addr in (ep.get("addresses") or [])[:1]:
                ip = _check_ip(addr, f"endpointslice for {sp.key}")
                e = Endpoint(ip=ip, port=number, ready=ready, node_name=str(ep.get("nodeName") or ""))
                if (ip, number) not in seen or (ready and not seen[(ip, number)].ready):
                    seen[(ip, number)] = e
    return sorted(seen.values(), key=lambda e: (ipaddress.IPv4Address(e.ip), e.port))


# -- building ----------------------------------------------------------------------------------


def _proto(sp: ServicePort) -> str:
    p = sp.protocol.lower()
    return f"-m {p} -p {p}"


def _comment(text: str) -> str:
    return f'-m comment --comment "{text}"'


def base_tables(cfg: ProxyConfig) -> Tables:
    nat: dict[str, list[str]] = {c: [] for c in NAT_BASE}
    nat["KUBE-MARK-MASQ"] = [f"-j MARK --or-mark {MASQ_MARK}"]
    post = nat["KUBE-POSTROUTING"]
    if cfg.cluster_cidr:
        # pod-to-pod (also across nodes) keeps its source address: ACCEPT ends the nat chain walk,
        # so the CNI bridge plugin's masquerade for "leaving the node's podCIDR" is not reached
        post.append(f"-m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -s {cfg.cluster_cidr} -d {cfg.cluster_cidr} "
                    f"{_comment('pod-to-pod traffic keeps its source')} -j ACCEPT")
    post += [f"-m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN",
             f"-j MARK --xor-mark {MASQ_MARK}",
             f"{_comment('kubernetes service traffic requiring SNAT')} -j MASQUERADE"]
    filt: dict[str, list[str]] = {c: [] for c in FILTER_BASE}
    filt["KUBE-FORWARD"] = [
        "-m conntrack --ctstate INVALID -j DROP",
        f"{_comment('kubernetes forwarding rules')} -m mark --mark {MASQ_MARK}/{MASQ_MARK} -j ACCEPT",
        f"{_comment('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ]
    return {"filter": filt, "nat": nat}


def build_tables(services: Iterable[tuple[ServicePort, list[Endpoint]]], cfg: ProxyConfig) -> Tables:
    """The desired content of every chain kube-proxy owns, for the given service ports."""
    tables = base_tables(cfg)
    nat, filt = tables["nat"], tables["filter"]
    for sp, endpoints in sorted(services, key=lambda item: (item[0].key, item[0].protocol)):
        ready = [e for e in endpoints if e.ready]
        if sp.local_only:
            ready = [e for e in ready if e.node_name == cfg.node_name]
        match = f"-d {sp.cluster_ip}/32 {_proto(sp)} --dport {sp.port}"
        if not ready:
            filt["KUBE-SERVICES"].append(
                f"{_comment(sp.key + ' has no endpoints')} {match} -j REJECT --reject-with icmp-port-unreachable")
            if sp.node_port:
                filt["KUBE-EXTERNAL-SERVICES"].append(
                    f"{_comment(sp.key + ' has no endpoints')} -m addrtype --dst-type LOCAL {_proto(sp)} "
                    f"--dport {sp.node_port} -j REJECT --reject-with icmp-port-unreachable")
            continue
        chain = svl_chain(sp) if sp.local_only else svc_chain(sp)
        nat["KUBE-SERVICES"].append(f"{_comment(sp.key + ' cluster IP')} {match} -j {chain}")
        rules: list[str] = []
        if cfg.cluster_cidr and not sp.local_only:
            rules.append(f"{_comment(sp.key + ' cluster IP')} {match} ! -s {cfg.cluster_cidr} -j KUBE-MARK-MASQ")
        seps = [(sep_chain(sp, e), e) for e in ready]
        if sp.affinity_timeout:
            for name, e in seps:
                rules.append(f"{_comment(f'{sp.key} -> {e.ip}:{e.port}')} -m recent --name {name} --rcheck "
                             f"--seconds {sp.affinity_timeout} --reap -j {name}")
        n = len(seps)
        for i, (name, e) in enumerate(seps):
            pick = "" if i == n - 1 else f" -m statistic --mode random --probability {1.0 / (n - i):.10f}"
            rules.append(f"{_comment(f'{sp.key} -> {e.ip}:{e.port}')}{pick} -j {name}")
        nat[chain] = rules
        for name, e in seps:
            recent = f" -m recent --name {name} --set" if sp.affinity_timeout else ""
            nat[name] = [
                f"{_comment(sp.key)} -s {e.ip}/32 -j KUBE-MARK-MASQ",
                f"{_comment(sp.key)}{recent} {_proto(sp)} -j DNAT --to-destination {e.ip}:{e.port}",
            ]
        if sp.node_port:
            ext = ext_chain(sp)
            nat["KUBE-NODEPORTS"].append(f"{_comment(sp.key)} {_proto(sp)} --dport {sp.node_port} -j {ext}")
            nat[ext] = [f"{_comment('masquerade traffic for ' + sp.key + ' external destinations')} "
                        "-j KUBE-MARK-MASQ", f"-j {chain}"]
    if cfg.node_ips:
        for ip in cfg.node_ips:
            nat["KUBE-SERVICES"].append(f"{_comment('kubernetes service nodeports')} -d {ip}/32 -j KUBE-NODEPORTS")
    else:
        nat["KUBE-SERVICES"].append(f"{_comment('kubernetes service nodeports')} -m addrtype --dst-type LOCAL "
                                    "-j KUBE-NODEPORTS")
    return tables


# -- rendering ---------------------------------------------------------------------------------


def is_owned_chain(name: str) -> bool:
    return name.startswith(DYNAMIC_PREFIXES) or name in NAT_BASE or name in FILTER_BASE


def render_restore(desired: Tables, applied: Tables | None = None,
                   existing_chains: Mapping[str, set[str]] | None = None,
                   missing_jumps: Iterable[tuple[str, str, str]] = ()) -> str:
    """iptables-restore input taking the kernel from `applied` (None: unknown, write all) to
    `desired`. `existing_chains` are our chains seen in iptables-save (deleted when unwanted);
    `missing_jumps` are the JUMPS entries iptables-save did not show. Empty when nothing changes."""
    out: list[str] = []
    missing = list(missing_jumps)
    for table in ("filter", "nat"):
        want = desired.get(table, {})
        had = (applied or {}).get(table)
        stale = set((existing_chains or {}).get(table, set())) | set(had or {})
        stale = {c for c in stale if c not in want and is_owned_chain(c)}
        changed = [c for c in want if had is None or had.get(c) != want[c]]
        jumps = [j for j in missing if j[0] == table]
        if not changed and not stale and not jumps:
            continue
        out.append(f"*{table}")
        for chain in changed:
            out.append(f":{chain} - [0:0]")
        for chain in sorted(stale):
            out.append(f":{chain} - [0:0]")
        for _, builtin, spec in reversed(jumps):
            out.append(f"-I {builtin} 1 {spec}")
        for chain in changed:
            out.extend(f"-A {chain} {rule}" for rule in want[chain])
        for chain in sorted(stale):
            out.append(f"-X {chain}")
        out.append("COMMIT")
    return "\n".join(out) + "\n" if out else ""


def parse_save(text: str) -> tuple[dict[str, set[str]], set[tuple[str, str, str]]]:
    """From `iptables-save` output: our chains per table, and which JUMPS are present."""
    chains: dict[str, set[str]] = {}
    present: set[tuple[str, str, str]] = set()
    table = ""
    wanted = {(t, b, spec.split(" -j ")[-1].strip()): (t, b, spec) for t, b, spec in JUMPS}
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            chains.setdefault(table, set())
        elif line.startswith(":"):
            name = line[1:].split()[0]
            if is_owned_chain(name):
                chains[table].add(name)
        elif line.startswith("-A "):
            parts = line.split()
            if len(parts) >= 2 and "-j" in parts:
                target = parts[parts.index("-j") + 1]
                jump = wanted.get((table, parts[1], target))
                # the two FORWARD -> KUBE-SERVICES/KUBE-FORWARD jumps differ by target; same for others
                if jump is not None and ("--ctstate NEW" in line) == ("--ctstate NEW" in jump[2]):
                    present.add(jump)
    return chains, present
