"""What the kubelet says about its node: capacity, allocatable, system info, conditions, lease.

Readings come from the real host (psutil, /proc, /sys, /etc/os-release); the simulated runtime
passes made-up HostFacts instead. Everything here is a pure function of those readings, so the
same code builds the status of a real node and of a thousand simulated ones.
"""

from __future__ import annotations

import os
import platform
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from kubelite import GIT_VERSION

#: Kubernetes' architecture names for what platform.machine() says.
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}

#: The kubelet's default hard eviction thresholds; crossing one sets the matching pressure condition.
MEMORY_AVAILABLE_THRESHOLD = 100 * 1024 * 1024
NODEFS_AVAILABLE_FRACTION = 0.10
PID_AVAILABLE_FRACTION = 0.05


@dataclass(frozen=True)
class HostFacts:
    """The machine as the kubelet sees it at start (slow-changing facts)."""

    hostname: str
    internal_ip: str
    cpu_cores: int
    memory_bytes: int
    ephemeral_storage_bytes: int
    hugepages_2mi: int = 0
    machine_id: str = ""
    system_uuid: str = ""
    boot_id: str = ""
    kernel_version: str = ""
    os_image: str = ""
    operating_system: str = "linux"
    architecture: str = "amd64"


@dataclass(frozen=True)
class Readings:
    """Fast-changing readings behind the pressure conditions."""

    memory_available_bytes: int
    nodefs_available_fraction: float
    pids_available_fraction: float = 1.0


@dataclass(frozen=True)
class Reserved:
    """What allocatable holds back from capacity (kube-reserved + system-reserved + eviction)."""

    cpu_millis: int = 0
    memory_bytes: int = MEMORY_AVAILABLE_THRESHOLD
    ephemeral_storage_fraction: float = NODEFS_AVAILABLE_FRACTION


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return "Linux"


def _primary_ipv4() -> str:
    """The first non-loopback IPv4 address, else 127.0.0.1 (a node in its own netns may have none)."""
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family == socket.AF_INET and not addr.address.startswith("127."):
                return addr.address
    return "127.0.0.1"


def _hugepages_2mi_bytes() -> int:
    total = _read("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "0")
    return int(total or 0) * 2 * 1024 * 1024


def read_host_facts(data_dir: str = "/", hostname: str | None = None, internal_ip: str | None = None) -> HostFacts:
    """Read the real machine. Blocking (file reads): call it off the event loop."""
    machine_id = _read("/etc/machine-id")
    return HostFacts(
        hostname=hostname or socket.gethostname(),
        internal_ip=internal_ip or _primary_ipv4(),
        cpu_cores=psutil.cpu_count(logical=True) or 1,
        memory_bytes=psutil.virtual_memory().total,
        ephemeral_storage_bytes=psutil.disk_usage(data_dir if os.path.exists(data_dir) else "/").total,
        hugepages_2mi=_hugepages_2mi_bytes(),
        machine_id=machine_id,
        system_uuid=_read("/sys/class/dmi/id/product_uuid") or _uuid_from_machine_id(machine_id),
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        kernel_version=platform.release(),
        os_image=_os_image(),
        operating_system=platform.system().lower(),
        architecture=_ARCH.get(platform.machine(), platform.machine()),
    )


def _uuid_from_machine_id(machine_id: str) -> str:
    if len(machine_id) != 32:
        return ""
    m = machine_id
    return f"{m[:8]}-{m[8:12]}-{m[12:16]}-{m[16:20]}-{m[20:]}"


def read_readings(data_dir: str = "/") -> Readings:
    """Current memory, disk and PID headroom. Blocking: call it off the event loop."""
    disk = psutil.disk_usage(data_dir if os.path.exists(data_dir) else "/")
    pid_max = int(_read("/proc/sys/kernel/pid_max", "32768") or 32768)
    return Readings(
        memory_available_bytes=psutil.virtual_memory().available,
        nodefs_available_fraction=disk.free / disk.total if disk.total else 1.0,
        pids_available_fraction=max(0.0, 1.0 - len(psutil.pids()) / pid_max),
    )


def _kib(n: int) -> str:
    return f"{n // 1024}Ki"


def capacity(facts: HostFacts, max_pods: int = 110) -> dict[str, str]:
    return {
        "cpu": str(facts.cpu_cores),
        "ephemeral-storage": _kib(facts.ephemeral_storage_bytes),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": str(facts.hugepages_2mi),
        "memory": _kib(facts.memory_bytes),
        "pods": str(max_pods),
    }


def allocatable(facts: HostFacts, reserved: Reserved, max_pods: int = 110) -> dict[str, str]:
    cpu_millis = max(0, facts.cpu_cores * 1000 - reserved.cpu_millis)
    cpu = str(cpu_millis // 1000) if cpu_millis % 1000 == 0 else f"{cpu_millis}m"
    memory = max(0, facts.memory_bytes - reserved.memory_bytes - facts.hugepages_2mi)
    storage = int(facts.ephemeral_storage_bytes * (1.0 - reserved.ephemeral_storage_fraction))
    return {
        "cpu": cpu,
        "ephemeral-storage": str(storage),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": str(facts.hugepages_2mi),
        "memory": _kib(memory),
        "pods": str(max_pods),
    }


def node_info(facts: HostFacts, runtime_version: str) -> dict[str, str]:
    return {
        "machineID": facts.machine_id,
        "systemUUID": facts.system_uuid,
        "bootID": facts.boot_id,
        "kernelVersion": facts.kernel_version,
        "osImage": facts.os_image,
        "operatingSystem": facts.operating_system,
        "architecture": facts.architecture,
        "containerRuntimeVersion": runtime_version,
        "kubeletVersion": GIT_VERSION,
        "kubeProxyVersion": GIT_VERSION,
    }


def node_labels(name: str, facts: HostFacts, extra: dict[str, str] | None = None) -> dict[str, str]:
    labels = {
        "beta.kubernetes.io/arch": facts.architecture,
        "beta.kubernetes.io/os": facts.operating_system,
        "kubernetes.io/arch": facts.architecture,
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": facts.operating_system,
    }
    labels.update(extra or {})
    return labels


@dataclass
class ConditionState:
    """One condition as the kubelet last reported it; transition time moves only on a change."""

    status: str
    reason: str
    message: str
    last_transition: str


@dataclass
class ConditionTracker:
    """Keeps lastTransitionTime stable across heartbeats, as the real kubelet does."""

    states: dict[str, ConditionState] = field(default_factory=dict)

    def conditions(self, readings: Readings, runtime_ready: bool, runtime_message: str, now: datetime,
                   network_ready: bool | None = None) -> list[dict]:
        stamp = rfc3339(now)
        wanted = _wanted_conditions(readings, runtime_ready, runtime_message)
        if network_ready is not None:
            # NetworkUnavailable first, as the real kubelet lists it
            wanted = {"NetworkUnavailable": ("False", "RouteCreated", "kubelite wrote the CNI configuration")
                      if network_ready else ("True", "NoRouteCreated", "waiting for the node's podCIDR"),
                      **wanted}
        out = []
        for type_, (status, reason, message) in wanted.items():
            prev = self.states.get(type_)
            transition = prev.last_transition if prev and prev.status == status else stamp
            self.states[type_] = ConditionState(status, reason, message, transition)
            out.append({
                "type": type_,
                "status": status,
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": transition,
                "reason": reason,
                "message": message,
            })
        return out


def _wanted_conditions(readings: Readings, runtime_ready: bool, runtime_message: str) -> dict[str, tuple[str, str, str]]:
    memory_pressure = readings.memory_available_bytes < MEMORY_AVAILABLE_THRESHOLD
    disk_pressure = readings.nodefs_available_fraction < NODEFS_AVAILABLE_FRACTION
    pid_pressure = readings.pids_available_fraction < PID_AVAILABLE_FRACTION
    return {
        "MemoryPressure": ("True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
        if memory_pressure else ("False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        "DiskPressure": ("True", "KubeletHasDiskPressure", "kubelet has disk pressure")
        if disk_pressure else ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        "PIDPressure": ("True", "KubeletHasInsufficientPID", "kubelet has insufficient PID available")
        if pid_pressure else ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        "Ready": ("True", "KubeletReady", "kubelet is posting ready status")
        if runtime_ready else ("False", "KubeletNotReady", runtime_message or "container runtime is down"),
    }


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_node(
    name: str,
    facts: HostFacts,
    *,
    runtime_version: str,
    kubelet_port: int,
    reserved: Reserved | None = None,
    max_pods: int = 110,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    taints: list[dict] | None = None,
) -> dict:
    """The Node object a kubelet registers (status conditions are added by the heartbeat)."""
    spec: dict = {}
    if taints:
        spec["taints"] = taints
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": node_labels(name, facts, labels),
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                            **(annotations or {})},
        },
        "spec": spec,
        "status": node_status_fields(facts, runtime_version=runtime_version, kubelet_port=kubelet_port,
                                     reserved=reserved or Reserved(), max_pods=max_pods),
    }


def node_status_fields(facts: HostFacts, *, runtime_version: str, kubelet_port: int, reserved: Reserved,
                       max_pods: int = 110) -> dict:
    return {
        "capacity": capacity(facts, max_pods),
        "allocatable": allocatable(facts, reserved, max_pods),
        "addresses": [
            {"type": "InternalIP", "address": facts.internal_ip},
            {"type": "Hostname", "address": facts.hostname},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        "nodeInfo": node_info(facts, runtime_version),
    }


def build_lease(node_name: str, node_uid: str | None, now: datetime, duration_seconds: int = 40) -> dict:
    """The node's heartbeat Lease in kube-node-lease, owned by its Node like the real kubelet's."""
    lease: dict = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": node_name, "namespace": "kube-node-lease"},
        "spec": {
            "holderIdentity": node_name,
            "leaseDurationSeconds": duration_seconds,
            "renewTime": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
    }
    if node_uid:
        lease["metadata"]["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}
        ]
    return lease
