"""ClusterIP (10.43.0.0/16) and NodePort (30000-32767) allocation for Services.

The allocation state is derived from the stored Services at start (and kept in memory
after), so a restart never hands out an address twice. Allocation is synchronous between
awaits: the event loop serialises it, and the handler releases what it took if the store
write then fails.
"""

from __future__ import annotations

import ipaddress
from typing import Any

SERVICE_CIDR = ipaddress.ip_network("10.43.0.0/16")
NODE_PORT_RANGE = range(30000, 32768)
#: low addresses left for static assignment (10.43.0.1 kubernetes, 10.43.0.10 cluster DNS)
_DYNAMIC_START = 16


class AllocationError(ValueError):
    """Requested address/port taken or out of range, or the range is full (-> 422)."""


class ServiceAllocator:
    def __init__(self) -> None:
        self._ips: set[int] = set()
        self._ports: set[int] = set()
        self._base = int(SERVICE_CIDR.network_address)
        self._size = SERVICE_CIDR.num_addresses
        self._next_ip = _DYNAMIC_START
        self._next_port = 0

    def load(self, services: list[dict[str, Any]]) -> None:
        for svc in services:
            ip, ports = self.used_by(svc)
            if ip is not None:
                self._ips.add(ip)
            self._ports.update(ports)

    def used_by(self, svc: dict[str, Any]) -> tuple[int | None, list[int]]:
        spec = svc.get("spec") or {}
        ip = None
        cip = spec.get("clusterIP")
        if cip and cip != "None":
            try:
                addr = ipaddress.ip_address(cip)
                if addr in SERVICE_CIDR:
                    ip = int(addr) - self._base
            except ValueError:
                pass
        ports = [p["nodePort"] for p in spec.get("ports") or [] if isinstance(p, dict) and p.get("nodePort")]
        return ip, ports

    def release(self, svc: dict[str, Any]) -> None:
        ip, ports = self.used_by(svc)
        if ip is not None:
            self._ips.discard(ip)
        self._ports.difference_update(ports)

    def _take_ip(self, want: str | None) -> str:
        if want:
            try:
                addr = ipaddress.ip_address(want)
            except ValueError as e:
                raise AllocationError(f"spec.clusterIP: Invalid value: \"{want}\": must be a valid IP address") from e
            if addr not in SERVICE_CIDR:
                raise AllocationError(f"spec.clusterIP: Invalid value: \"{want}\": provided IP is not in the "
                                      f"valid range. The range of valid IPs is {SERVICE_CIDR}")
            off = int(addr) - self._base
            if off in self._ips:
                raise AllocationError(f"spec.clusterIP: Invalid value: \"{want}\": provided IP is already allocated")
            self._ips.add(off)
            return want
        for _ in range(self._size):
            off = self._next_ip
            self._next_ip = self._next_ip + 1 if self._next_ip + 1 < self._size - 1 else _DYNAMIC_START
            if off not in self._ips:
                self._ips.add(off)
                return str(ipaddress.ip_address(self._base + off))
        raise AllocationError("spec.clusterIP: Internal error: range is full")

    def _take_port(self, want: int | None) -> int:
        if want:
            if want not in NODE_PORT_RANGE:
                raise AllocationError(f"spec.ports.nodePort: Invalid value: {want}: provided port is not in the "
                                      f"valid range. The range of valid ports is 30000-32767")
            if want in self._ports:
                raise AllocationError(f"spec.ports.nodePort: Invalid value: {want}: provided port is already allocated")
            self._ports.add(want)
            return want
        n = len(NODE_PORT_RANGE)
        for _ in range(n):
            port = NODE_PORT_RANGE[self._next_port]
            self._next_port = (self._next_port + 1) % n
            if port not in self._ports:
                self._ports.add(port)
                return port
        raise AllocationError("spec.ports.nodePort: Internal error: range is full")

    def allocate(self, svc: dict[str, Any], old: dict[str, Any] | None = None) -> None:
        """Fill clusterIP/nodePorts of `svc` in place (keeping those `old` already held)."""
        spec = svc.setdefault("spec", {})
        stype = spec.get("type") or "ClusterIP"
        old_spec = (old or {}).get("spec") or {}
        taken_ips: list[str] = []
        taken_ports: list[int] = []
        try:
            if stype != "ExternalName":
                want = spec.get("clusterIP") or old_spec.get("clusterIP")
                if want == "None":
                    spec["clusterIP"] = "None"
                elif old is not None and want and want == old_spec.get("clusterIP"):
                    spec["clusterIP"] = want
                else:
                    spec["clusterIP"] = self._take_ip(want or None)
                    taken_ips.append(spec["clusterIP"])
                spec["clusterIPs"] = [spec["clusterIP"]]
            old_ports = {p.get("nodePort") for p in old_spec.get("ports") or [] if isinstance(p, dict)}
            for p in spec.get("ports") or []:
                if not isinstance(p, dict):
                    continue
                if stype in ("NodePort", "LoadBalancer"):
                    want_port = p.get("nodePort")
                    if want_port and want_port in old_ports:
                        continue
                    p["nodePort"] = self._take_port(want_port)
                    taken_ports.append(p["nodePort"])
                else:
                    p.pop("nodePort", None)
        except AllocationError:
            for ip in taken_ips:
                self.release({"spec": {"clusterIP": ip}})
            self._ports.difference_update(taken_ports)
            raise
