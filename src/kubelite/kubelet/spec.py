"""Pure translations from a pod spec to what the runtime needs (no I/O here).

The pod worker calls these to turn a container of the pod spec into a `ContainerConfig`:
resources into cgroup numbers, env (with `$(VAR)` expansion) and downward-API fields, the
image pull decision, the restart decision and the CrashLoopBackOff timer. Keeping them pure
makes the rules testable in microseconds and identical for real and simulated nodes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson

from kubelite.api.quantity import QuantityError, cpu_millis, memory_bytes
from kubelite.runtime.types import LinuxResources

Obj = dict[str, Any]

# Labels and annotations kubelite puts on sandboxes and containers (restart safety: a restarted
# agent finds its pods by these).
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_CONTAINER_NAME = "io.kubernetes.container.name"
LABEL_MANAGED = "kubelite.io/managed"
ANNOTATION_CONTAINER_HASH = "kubelite.io/container-hash"
ANNOTATION_INIT = "kubelite.io/init-container"

CPU_PERIOD = 100_000
MIN_SHARES = 2
SHARES_PER_CPU = 1024

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET_AFTER = 600.0


class SpecError(ValueError):
    """The pod spec cannot be turned into a container (CreateContainerConfigError)."""


def container_hash(container: Obj) -> str:
    """A stable hash of a container spec; a change (static pods) means a restart."""
    return hashlib.sha256(orjson.dumps(container, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _quantity(resources: Obj, section: str, name: str) -> str | None:
    value = ((resources or {}).get(section) or {}).get(name)
    return None if value is None else str(value)


def linux_resources(container: Obj) -> LinuxResources:
    """requests.cpu -> cpu shares, limits.cpu -> CFS quota, limits.memory -> memory limit."""
    res = container.get("resources") or {}
    out = LinuxResources()
    try:
        req_cpu = _quantity(res, "requests", "cpu")
        lim_cpu = _quantity(res, "limits", "cpu")
        lim_mem = _quantity(res, "limits", "memory")
        millis_req = cpu_millis(req_cpu) if req_cpu is not None else (cpu_millis(lim_cpu) if lim_cpu else 0)
        out.cpu_shares = max(MIN_SHARES, millis_req * SHARES_PER_CPU // 1000)
        if lim_cpu is not None:
            millis = cpu_millis(lim_cpu)
            out.cpu_period = CPU_PERIOD
            out.cpu_quota = max(1000, millis * CPU_PERIOD // 1000)
        if lim_mem is not None:
            out.memory_limit_bytes = memory_bytes(lim_mem)
    except QuantityError as err:
        raise SpecError(f"container {container.get('name')}: bad resource quantity: {err}") from None
    return out


_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: known names are replaced, `$$` escapes, others stay."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)

    return _VAR_REF.sub(sub, text)


def _path_value(obj: Obj, path: str) -> str | None:
    """A downward-API field path: metadata.name, metadata.labels['k'], status.podIP..."""
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.*)'\]", path)
    if m:
        return str(((obj.get("metadata") or {}).get(m.group(1)) or {}).get(m.group(2), ""))
    simple = {
        "metadata.name": ("metadata", "name"),
        "metadata.namespace": ("metadata", "namespace"),
        "metadata.uid": ("metadata", "uid"),
        "spec.nodeName": ("spec", "nodeName"),
        "spec.serviceAccountName": ("spec", "serviceAccountName"),
        "status.hostIP": ("status", "hostIP"),
        "status.podIP": ("status", "podIP"),
    }
    if path in simple:
        section, key = simple[path]
        return str((obj.get(section) or {}).get(key) or "")
    if path in ("status.podIPs", "status.hostIPs"):
        ips = (obj.get("status") or {}).get(path.split(".")[1]) or []
        return ",".join(str(i.get("ip", "")) for i in ips)
    if path in ("metadata.labels", "metadata.annotations"):
        items = (obj.get("metadata") or {}).get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    return None


def field_ref_value(pod: Obj, ref: Obj) -> str:
    path = str(ref.get("fieldPath", ""))
    value = _path_value(pod, path)
    if value is None:
        raise SpecError(f"unsupported fieldRef fieldPath {path!r}")
    return value


def resource_field_value(pod: Obj, container_name: str, ref: Obj, node_allocatable: Obj | None = None) -> str:
    """resourceFieldRef: limits/requests of cpu or memory, divided by `divisor`, rounded up."""
    name = ref.get("containerName") or container_name
    containers = (pod.get("spec") or {}).get("containers", []) + (pod.get("spec") or {}).get("initContainers", [])
    container = next((c for c in containers if c.get("name") == name), None)
    if container is None:
        raise SpecError(f"resourceFieldRef names unknown container {name!r}")
    resource = str(ref.get("resource", ""))
    section, _, kind = resource.partition(".")
    if section not in ("limits", "requests") or kind not in ("cpu", "memory", "ephemeral-storage"):
        raise SpecError(f"unsupported resourceFieldRef resource {resource!r}")
    raw = _quantity(container.get("resources") or {}, section, kind)
    if raw is None and section == "limits":
        raw = str((node_allocatable or {}).get(kind, "")) or None
    divisor = str(ref.get("divisor") or "1")
    try:
        if kind == "cpu":
            value = cpu_millis(raw) if raw else 0
            div = cpu_millis(divisor) or 1
        else:
            value = memory_bytes(raw) if raw else 0
            div = memory_bytes(divisor) or 1
    except QuantityError as err:
        raise SpecError(f"bad quantity in resourceFieldRef: {err}") from None
    return str(-(-value // div))


@dataclass
class Backoff:
    """CrashLoopBackOff for one container: 10 s doubling to 5 min, reset after 10 min running."""

    delay: float = 0.0
    last_restart: float = 0.0

    def remaining(self, now: float) -> float:
        """Seconds to wait before the next restart may happen (0: restart now)."""
        if self.delay == 0:
            return 0.0
        return max(0.0, self.last_restart + self.delay - now)

    def restarted(self, now: float) -> None:
        self.delay = BACKOFF_INITIAL if self.delay == 0 else min(self.delay * 2, BACKOFF_MAX)
        self.last_restart = now

    def ran_for(self, seconds: float) -> None:
        if seconds >= BACKOFF_RESET_AFTER:
            self.delay = 0.0


def should_restart(restart_policy: str, exit_code: int) -> bool:
    if restart_policy == "Always":
        return True
    if restart_policy == "OnFailure":
        return exit_code != 0
    return False


def effective_pull_policy(container: Obj) -> str:
    policy = container.get("imagePullPolicy")
    if policy in ("Always", "IfNotPresent", "Never"):
        return str(policy)
    from kubelite.api.defaults import image_pull_policy

    return image_pull_policy(str(container.get("image", "")))


def grace_period(pod: Obj) -> int:
    """deletionGracePeriodSeconds when deleting, else the spec's (default 30)."""
    meta = pod.get("metadata") or {}
    value = meta.get("deletionGracePeriodSeconds")
    if value is None:
        value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    try:
        return max(0, int(value)) if value is not None else 30
    except (TypeError, ValueError):
        return 30


def named_port(container: Obj, port: Any) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        for p in container.get("ports") or []:
            if p.get("name") == port:
                return int(p.get("containerPort", 0))
    raise SpecError(f"container {container.get('name')}: unknown port {port!r}")
