"""Node and pod resource usage in the shape of the kubelet's Summary API (`/stats/summary`).

The runtime reports cumulative CPU time (core-nanoseconds) and memory working sets; `kubectl top`
(through metrics.k8s.io) wants CPU *rates*. A rate needs two samples, so the collector keeps the
previous sample of the node and of every container and reports the rate over the interval since
then (at least `MIN_WINDOW_NS` apart, so that two quick requests do not measure noise). When it has
no earlier sample (the first request) it takes two, `FIRST_WINDOW_SECONDS` apart.

Only what `kubectl top` and metrics-server read is filled in: node cpu/memory, and per pod and
container cpu/memory, plus names, uids and start times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubelite.runtime.types import ContainerState, ContainerStats, NodeStats, Runtime, SandboxState

MIN_WINDOW_NS = 1_000_000_000
FIRST_WINDOW_SECONDS = 0.25


def rfc3339(ns: int) -> str:
    """Nanoseconds since the epoch as `2006-01-02T15:04:05Z` (what Kubernetes' Time prints)."""
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True, frozen=True)
class _Sample:
    timestamp: int
    cpu_core_ns: int


def _rate(prev: _Sample | None, now: _Sample) -> int | None:
    """CPU use in nanocores between two samples (None when it cannot be known)."""
    if prev is None or now.timestamp <= prev.timestamp or now.cpu_core_ns < prev.cpu_core_ns:
        return None
    return (now.cpu_core_ns - prev.cpu_core_ns) * 1_000_000_000 // (now.timestamp - prev.timestamp)


class StatsCollector:
    """Builds the summary from runtime readings (see the module docstring)."""

    def __init__(self, runtime: Runtime, node_name: str, clock: Callable[[], int] = time.time_ns) -> None:
        self.runtime = runtime
        self.node_name = node_name
        self._clock = clock
        self._node_prev: _Sample | None = None
        self._containers_prev: dict[str, _Sample] = {}
        self._lock = asyncio.Lock()

    async def _read(self) -> tuple[NodeStats, list[ContainerStats]]:
        node, containers = await asyncio.gather(self.runtime.node_stats(), self.runtime.list_container_stats())
        return node, containers

    async def summary(self) -> dict[str, Any]:
        """The Summary API document (kubelet `stats/v1alpha1` Summary, the fields we know)."""
        async with self._lock:  # one sampler at a time, or the "previous" samples race
            node, containers = await self._read()
            if self._node_prev is None:
                self._remember(node, containers, replace=True)
                await asyncio.sleep(FIRST_WINDOW_SECONDS)
                node, containers = await self._read()
            node_rate = _rate(self._node_prev, _Sample(node.timestamp, node.cpu_usage_core_ns))
            rates = {c.id: _rate(self._containers_prev.get(c.id), _Sample(c.timestamp, c.cpu_usage_core_ns))
                     for c in containers}
            prev = self._node_prev
            self._remember(node, containers, replace=prev is None or node.timestamp - prev.timestamp >= MIN_WINDOW_NS)
            sandboxes = await self.runtime.list_pod_sandboxes()
            running = await self.runtime.list_containers()
        return self._document(node, node_rate, containers, rates, sandboxes, running)

    def _remember(self, node: NodeStats, containers: list[ContainerStats], replace: bool) -> None:
        if not replace:
            # keep the older samples as the base, but learn containers seen for the first time
            for c in containers:
                self._containers_prev.setdefault(c.id, _Sample(c.timestamp, c.cpu_usage_core_ns))
            return
        self._node_prev = _Sample(node.timestamp, node.cpu_usage_core_ns)
        self._containers_prev = {c.id: _Sample(c.timestamp, c.cpu_usage_core_ns) for c in containers}

    def _document(self, node: NodeStats, node_rate: int | None, containers: list[ContainerStats],
                  rates: dict[str, int | None], sandboxes: list[Any], statuses: list[Any]) -> dict[str, Any]:
        started = {s.id: s.started_at or s.created_at for s in statuses}
        live = {s.id for s in statuses if s.state == ContainerState.RUNNING}
        by_sandbox: dict[str, list[ContainerStats]] = {}
        for c in containers:
            if c.id in live:
                by_sandbox.setdefault(c.sandbox_id, []).append(c)
        pods = []
        for sb in sandboxes:
            if sb.state != SandboxState.READY:
                continue
            ctrs = []
            pod_cpu, pod_core_ns, pod_ws, pod_usage, pod_rate_known = 0, 0, 0, 0, True
            for c in sorted(by_sandbox.get(sb.id, []), key=lambda c: c.name):
                rate = rates.get(c.id)
                ctrs.append({
                    "name": c.name,
                    "startTime": rfc3339(started.get(c.id) or c.timestamp),
                    "cpu": _cpu(c.timestamp, rate, c.cpu_usage_core_ns),
                    "memory": _memory(c.timestamp, c.memory_working_set_bytes, c.memory_usage_bytes),
                })
                pod_rate_known = pod_rate_known and rate is not None
                pod_cpu += rate or 0
                pod_core_ns += c.cpu_usage_core_ns
                pod_ws += c.memory_working_set_bytes
                pod_usage += c.memory_usage_bytes
            pods.append({
                "podRef": {"name": sb.name, "namespace": sb.namespace, "uid": sb.uid},
                "startTime": rfc3339(sb.created_at),
                "containers": ctrs,
                "cpu": _cpu(node.timestamp, pod_cpu if pod_rate_known else None, pod_core_ns),
                "memory": _memory(node.timestamp, pod_ws, pod_usage),
            })
        used = node.memory_total_bytes - node.memory_available_bytes
        return {
            "node": {
                "nodeName": self.node_name,
                "startTime": rfc3339(_boot_time_ns()),
                "cpu": _cpu(node.timestamp, node_rate, node.cpu_usage_core_ns),
                "memory": {**_memory(node.timestamp, node.memory_working_set_bytes, used),
                           "availableBytes": node.memory_available_bytes},
            },
            "pods": pods,
        }


def _cpu(ts: int, rate: int | None, core_ns: int) -> dict[str, Any]:
    out: dict[str, Any] = {"time": rfc3339(ts), "usageCoreNanoSeconds": core_ns}
    if rate is not None:
        out["usageNanoCores"] = rate
    return out


def _memory(ts: int, working_set: int, usage: int) -> dict[str, Any]:
    return {"time": rfc3339(ts), "workingSetBytes": working_set, "usageBytes": usage}


def _boot_time_ns() -> int:
    try:
        import psutil

        return int(psutil.boot_time() * 1e9)
    except Exception:  # pragma: no cover - psutil is a dependency; be safe anyway
        return time.time_ns()


def to_resource_metrics(summary: dict[str, Any]) -> str:
    """The same readings in the Prometheus text format of the kubelet's `/metrics/resource`
    (what metrics-server scrapes): cumulative CPU seconds and working sets, with timestamps."""
    lines = [
        "# HELP node_cpu_usage_seconds_total Cumulative cpu time consumed by the node in core-seconds",
        "# TYPE node_cpu_usage_seconds_total counter",
    ]
    node = summary["node"]

    def ms(stamp: str) -> int:
        return int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() * 1000)

    lines.append(f"node_cpu_usage_seconds_total {node['cpu']['usageCoreNanoSeconds'] / 1e9} {ms(node['cpu']['time'])}")
    lines += ["# HELP node_memory_working_set_bytes Current working set of the node in bytes",
              "# TYPE node_memory_working_set_bytes gauge",
              f"node_memory_working_set_bytes {node['memory']['workingSetBytes']} {ms(node['memory']['time'])}"]
    cpu_lines, mem_lines = [], []
    for pod in summary["pods"]:
        ref = pod["podRef"]
        for c in pod["containers"]:
            labels = f'container="{c["name"]}",namespace="{ref["namespace"]}",pod="{ref["name"]}"'
            cpu_lines.append(f"container_cpu_usage_seconds_total{{{labels}}} "
                             f"{c['cpu']['usageCoreNanoSeconds'] / 1e9} {ms(c['cpu']['time'])}")
            mem_lines.append(f"container_memory_working_set_bytes{{{labels}}} "
                             f"{c['memory']['workingSetBytes']} {ms(c['memory']['time'])}")
    lines += ["# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed by the container in core-seconds",
              "# TYPE container_cpu_usage_seconds_total counter", *cpu_lines,
              "# HELP container_memory_working_set_bytes Current working set of the container in bytes",
              "# TYPE container_memory_working_set_bytes gauge", *mem_lines]
    return "\n".join(lines) + "\n"
