"""Pods and nodes as the scheduler sees them: parsed once, summed incrementally.

A pod dict is parsed into a `PodInfo` once, when it enters the scheduler (requests in integer
millicores and bytes, tolerations as tuples, host ports, controller owner). A `NodeInfo` keeps
running totals of what the pods on (or assumed onto) the node request, their host ports and a
count per controller owner, so a Filter or Score call is a few attribute reads: adding or
removing a pod updates the totals, nothing is ever re-summed.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from kubelite.api.quantity import QuantityError, cpu_millis, memory_bytes

#: kube-scheduler counts a container without requests as 100m CPU / 200 MiB when *scoring*
#: (never when filtering), so that empty pods still spread out.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

CPU, MEMORY, EPHEMERAL_STORAGE, PODS = "cpu", "memory", "ephemeral-storage", "pods"

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ZONE = "topology.kubernetes.io/zone"

#: (key, value, effect)
Taint = tuple[str, str, str]
#: (key, operator, value, effect)
Toleration = tuple[str, str, str, str]
#: (host ip, protocol, port)
HostPort = tuple[str, str, int]


#: what a PodInfo without node selector / extended resources holds (one read-only empty mapping)
_NO_ENTRIES: Mapping[str, Any] = MappingProxyType({})
#: equal tolerations and signatures (the pods of one ReplicaSet) as one tuple; bounded: cleared
#: when full (a cleared entry only costs a duplicate tuple)
_SHARED: dict[tuple[Any, ...], tuple[Any, ...]] = {}
SHARED_MAX = 8192


def _shared(value: tuple[Any, ...]) -> tuple[Any, ...]:
    found = _SHARED.get(value)
    if found is not None:
        return found
    if len(_SHARED) >= SHARED_MAX:
        _SHARED.clear()
    _SHARED[value] = value
    return value


class ResourceError(ValueError):
    """A request or allocatable that is not a valid quantity."""


def _quantity(name: str, value: Any) -> int:
    try:
        return _parsed(name == CPU, value)
    except (QuantityError, ValueError, TypeError) as e:
        raise ResourceError(f"invalid quantity {value!r} for {name}: {e}") from None


@functools.lru_cache(maxsize=4096)
def _parsed(is_cpu: bool, value: Any) -> int:
    """Quantities repeat ("100m", "128Mi"): parse each spelling once."""
    return cpu_millis(value) if is_cpu else memory_bytes(value)


def _requests_of(container: Mapping[str, Any]) -> dict[str, int]:
    """A container's requests; a limit without a request counts as the request (as the
    apiserver defaults it)."""
    res = container.get("resources") or {}
    merged = dict(res.get("limits") or {})
    merged.update(res.get("requests") or {})
    return {name: _quantity(name, v) for name, v in merged.items()}


def _add(into: dict[str, int], more: Mapping[str, int]) -> None:
    for k, v in more.items():
        into[k] = into.get(k, 0) + v


def _max(into: dict[str, int], other: Mapping[str, int]) -> None:
    for k, v in other.items():
        if v > into.get(k, 0):
            into[k] = v


def pod_requests(spec: Mapping[str, Any], *, non_zero: bool = False) -> dict[str, int]:
    """What a pod asks of a node: sum of its containers, at least its largest init container
    (restartable "sidecar" init containers run beside the app and add up), plus overhead.

    With `non_zero`, containers without a cpu/memory request count the scoring defaults.
    """

    def reqs(c: Mapping[str, Any]) -> dict[str, int]:
        r = _requests_of(c)
        if non_zero:
            r.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
            r.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
        return r

    total: dict[str, int] = {}
    for c in spec.get("containers") or ():
        _add(total, reqs(c))
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for c in spec.get("initContainers") or ():
        r = reqs(c)
        if c.get("restartPolicy") == "Always":
            _add(total, r)
            _add(sidecars, r)
        else:
            step = dict(sidecars)
            _add(step, r)
            _max(init_peak, step)
    _max(total, init_peak)
    overhead = spec.get("overhead") or {}
    _add(total, {name: _quantity(name, v) for name, v in overhead.items()})
    return total


def _asks_cpu_and_memory(spec: Mapping[str, Any]) -> bool:
    """Whether every container and init container names cpu and memory (request or limit)."""
    for c in (*(spec.get("containers") or ()), *(spec.get("initContainers") or ())):
        res = c.get("resources") or {}
        req = res.get("requests") or {}
        lim = res.get("limits") or {}
        if not ((CPU in req or CPU in lim) and (MEMORY in req or MEMORY in lim)):
            return False
    return True


def _tolerations(spec: Mapping[str, Any]) -> tuple[Toleration, ...]:
    tolerations = spec.get("tolerations")
    if not tolerations:
        return ()
    return _shared(tuple(
        (t.get("key") or "", t.get("operator") or "Equal", t.get("value") or "", t.get("effect") or "")
        for t in tolerations
    ))


def tolerates(tolerations: tuple[Toleration, ...], taint: Taint) -> bool:
    """Whether any toleration matches the taint (v1 Toleration.ToleratesTaint)."""
    key, value, effect = taint
    for t_key, op, t_value, t_effect in tolerations:
        if t_effect and t_effect != effect:
            continue
        if t_key and t_key != key:
            continue
        if op == "Exists" or (op == "Equal" and t_value == value):
            return True
    return False


def controller_owner(meta: Mapping[str, Any]) -> str:
    """The uid of the pod's controlling owner (its ReplicaSet, Job, ...), "" if none."""
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("uid") or f"{ref.get('kind')}/{ref.get('name')}")
    return ""


class PodInfo:
    """A pod parsed once for the scheduler; `pod` is the (shared, read-only) API object.

    The scheduler keeps one per bound pod, so it holds little of its own: node selector and affinity
    terms are the pod's own (read-only) parts, not copies; equal tuples are shared (`_shared`)."""

    __slots__ = (
        "pod", "key", "namespace", "name", "uid", "priority", "scheduler_name", "node_name",
        "node_selector", "required_terms", "preferred_terms", "tolerations", "cpu", "memory",
        "ephemeral", "scalars", "nz_cpu", "nz_memory", "host_ports", "owner", "gated",
        "has_affinity", "unsupported", "signature",
    )

    def __init__(self, pod: dict[str, Any]) -> None:
        """Raises ResourceError for a malformed request quantity."""
        self._read_metadata(pod)
        spec = pod.get("spec") or {}
        self.priority: int = int(spec.get("priority") or 0)
        self.scheduler_name: str = spec.get("schedulerName") or "default-scheduler"
        self.node_name: str = spec.get("nodeName") or ""
        self.node_selector: Mapping[str, str] = spec.get("nodeSelector") or _NO_ENTRIES
        node_affinity = ((spec.get("affinity") or {}).get("nodeAffinity")) or {}
        required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
        self.required_terms: Sequence[dict[str, Any]] | None = (
            (required.get("nodeSelectorTerms") or ()) if required else None
        )
        self.preferred_terms: Sequence[dict[str, Any]] = (
            node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
        )
        self.has_affinity = bool(self.node_selector) or self.required_terms is not None
        self.tolerations = _tolerations(spec)
        reqs = pod_requests(spec)
        self.cpu = reqs.pop(CPU, 0)
        self.memory = reqs.pop(MEMORY, 0)
        self.ephemeral = reqs.pop(EPHEMERAL_STORAGE, 0)
        reqs.pop(PODS, None)
        self.scalars: Mapping[str, int] = {k: v for k, v in reqs.items() if v} or _NO_ENTRIES
        if _asks_cpu_and_memory(spec):  # the defaults would change nothing: no second pass
            self.nz_cpu, self.nz_memory = self.cpu, self.memory
        else:
            nz = pod_requests(spec, non_zero=True)
            self.nz_cpu = nz.get(CPU, 0)
            self.nz_memory = nz.get(MEMORY, 0)
        ports: list[HostPort] = []
        for c in spec.get("containers") or ():
            for p in c.get("ports") or ():
                hp = p.get("hostPort")
                if hp:
                    ports.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(hp)))
        self.host_ports: tuple[HostPort, ...] = tuple(ports)
        self.gated = bool(spec.get("schedulingGates"))
        affinity = spec.get("affinity") or {}
        #: constraints kubelite's scheduler does not enforce (reported, not silently dropped)
        self.unsupported: tuple[str, ...] = tuple(
            name for name, present in (
                ("podAffinity", bool(affinity.get("podAffinity"))),
                ("podAntiAffinity", bool(affinity.get("podAntiAffinity"))),
                ("topologySpreadConstraints", bool(spec.get("topologySpreadConstraints"))),
            ) if present
        )
        #: every field a Filter or a score_key reads: pods with equal signatures get the same
        #: verdict and score keys on a node (the equivalence cache's key). Not the owner: only
        #: PodTopologySpread reads it, and it scores each cycle, so the pods of every
        #: ReplicaSet of one shape share the cache. Terms by repr: two spellings of one term
        #: only cost a cache miss.
        self.signature: tuple[Any, ...] = _shared((
            self.cpu, self.memory, self.ephemeral, tuple(sorted(self.scalars.items())),
            self.nz_cpu, self.nz_memory, self.tolerations, tuple(sorted(self.node_selector.items())),
            None if self.required_terms is None else repr(self.required_terms),
            repr(self.preferred_terms) if self.preferred_terms else "",
            self.host_ports, self.node_name,
        ))

    def _read_metadata(self, pod: dict[str, Any]) -> None:
        self.pod = pod
        meta = pod.get("metadata") or {}
        self.namespace: str = meta.get("namespace") or "default"
        self.name: str = meta.get("name") or ""
        self.key = f"{self.namespace}/{self.name}"
        self.uid: str = meta.get("uid") or ""
        self.owner = controller_owner(meta)

    @classmethod
    def with_spec_of(cls, twin: PodInfo, pod: dict[str, Any]) -> PodInfo:
        """The PodInfo of `pod`, whose spec is the very object `twin.pod` has: what was parsed
        from that spec is taken over, only the metadata is read. (A compacting informer gives
        the pending pods of one ReplicaSet one spec object: each is then parsed once, not per pod.)"""
        assert pod.get("spec") is twin.pod.get("spec")
        info = cls.__new__(cls)
        for name in _SPEC_FIELDS:
            setattr(info, name, getattr(twin, name))
        info._read_metadata(pod)
        return info


#: the PodInfo fields that come from the pod's spec alone
_SPEC_FIELDS = tuple(f for f in PodInfo.__slots__ if f not in ("pod", "key", "namespace", "name", "uid", "owner"))


def _ready_taint(status: Mapping[str, Any]) -> Taint | None:
    """The taint Kubernetes' node lifecycle controller would put on a node that is not Ready."""
    for cond in status.get("conditions") or ():
        if cond.get("type") == "Ready":
            if cond.get("status") == "True":
                return None
            if cond.get("status") == "False":
                return (TAINT_NOT_READY, "", "NoSchedule")
            return (TAINT_UNREACHABLE, "", "NoSchedule")
    return (TAINT_NOT_READY, "", "NoSchedule")


class NodeInfo:
    """A node plus running totals of the pods placed on it (bound or assumed)."""

    __slots__ = (
        "name", "node", "labels", "unschedulable", "taints", "prefer_taints", "alloc_cpu",
        "alloc_memory", "alloc_ephemeral", "alloc_pods", "alloc_scalars", "req_cpu", "req_memory",
        "req_ephemeral", "req_scalars", "nz_cpu", "nz_memory", "pods", "ports", "owners",
        "hostname", "zone", "generation",
    )

    def __init__(self, node: Mapping[str, Any]) -> None:
        self.req_cpu = self.req_memory = self.req_ephemeral = 0
        self.req_scalars: dict[str, int] = {}
        self.nz_cpu = self.nz_memory = 0
        self.pods: dict[str, PodInfo] = {}
        self.ports: Counter[HostPort] = Counter()
        self.owners: Counter[str] = Counter()
        #: bumped by every change to the node or its pods: what the equivalence cache checks
        self.generation = 0
        self.set_node(node)

    def set_node(self, node: Mapping[str, Any]) -> None:
        """(Re)read the node object; the pod totals are kept."""
        self.node = node
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.name: str = meta.get("name") or ""
        self.labels: dict[str, str] = dict(meta.get("labels") or {})
        self.hostname = self.labels.get(LABEL_HOSTNAME, self.name)
        self.zone = self.labels.get(LABEL_ZONE)
        self.unschedulable = bool(spec.get("unschedulable"))
        taints: list[Taint] = []
        prefer: list[Taint] = []
        for t in spec.get("taints") or ():
            taint = (t.get("key") or "", t.get("value") or "", t.get("effect") or "")
            (prefer if taint[2] == "PreferNoSchedule" else taints).append(taint)
        ready_taint = _ready_taint(status)
        if ready_taint and not any(t[0] == ready_taint[0] for t in taints):
            taints.append(ready_taint)
        self.taints: tuple[Taint, ...] = tuple(taints)
        self.prefer_taints: tuple[Taint, ...] = tuple(prefer)
        alloc = status.get("allocatable") or status.get("capacity") or {}
        scalars: dict[str, int] = {}
        self.alloc_cpu = self.alloc_memory = self.alloc_ephemeral = self.alloc_pods = 0
        for rname, value in alloc.items():
            try:
                q = _quantity(rname, value)
            except ResourceError:
                continue  # a broken figure counts as none of that resource
            if rname == CPU:
                self.alloc_cpu = q
            elif rname == MEMORY:
                self.alloc_memory = q
            elif rname == EPHEMERAL_STORAGE:
                self.alloc_ephemeral = q
            elif rname == PODS:
                self.alloc_pods = q
            else:
                scalars[rname] = q
        self.alloc_scalars = scalars
        self.generation += 1

    def add_pod(self, p: PodInfo) -> None:
        if p.key in self.pods:
            self.remove_pod(p.key)
        self.pods[p.key] = p
        self.req_cpu += p.cpu
        self.req_memory += p.memory
        self.req_ephemeral += p.ephemeral
        for k, v in p.scalars.items():
            self.req_scalars[k] = self.req_scalars.get(k, 0) + v
        self.nz_cpu += p.nz_cpu
        self.nz_memory += p.nz_memory
        if p.host_ports:
            self.ports.update(p.host_ports)
        if p.owner:
            self.owners[p.owner] += 1
        self.generation += 1

    def remove_pod(self, key: str) -> PodInfo | None:
        p = self.pods.pop(key, None)
        if p is None:
            return None
        self.req_cpu -= p.cpu
        self.req_memory -= p.memory
        self.req_ephemeral -= p.ephemeral
        for k, v in p.scalars.items():
            self.req_scalars[k] = self.req_scalars.get(k, 0) - v
        self.nz_cpu -= p.nz_cpu
        self.nz_memory -= p.nz_memory
        if p.host_ports:
            self.ports.subtract(p.host_ports)
            self.ports = +self.ports
        if p.owner:
            self.owners[p.owner] -= 1
            if self.owners[p.owner] <= 0:
                del self.owners[p.owner]
        self.generation += 1
        return p

    def __repr__(self) -> str:
        return f"NodeInfo({self.name!r}, pods={len(self.pods)}, cpu={self.req_cpu}/{self.alloc_cpu}m)"
