"""Pod status from what the runtime reports (pure functions).

The pod worker gathers, per container of the spec, the newest runtime container and the one
before it, plus the worker's own notes (a waiting reason such as CrashLoopBackOff or
ErrImagePull, probe results), and these functions turn that into the `status` that
`kubectl get/describe pod` shows: phase, conditions, containerStatuses with state/lastState,
restart counts and exit reasons, QoS class.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubelite.api.quantity import QuantityError, cpu_millis, memory_bytes
from kubelite.runtime.types import ContainerState, ContainerStatus

Obj = dict[str, Any]


@functools.lru_cache(maxsize=256)
def _rfc3339(second: int) -> str:
    """RFC 3339 of a whole second (cached: a status carries the same few seconds again and again,
    and formatting a date costs more than the rest of a condition)."""
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ts(ns: int) -> str | None:
    """RFC 3339 (seconds) from nanoseconds since the epoch; None for 0."""
    if not ns:
        return None
    return _rfc3339(ns // 1_000_000_000)


def now_ts() -> str:
    return _rfc3339(int(time.time()))


@dataclass(slots=True)
class ContainerView:
    """What the worker knows about one container of the spec."""

    name: str
    image: str
    current: ContainerStatus | None = None
    previous: ContainerStatus | None = None
    #: a reason for waiting the worker decided (ContainerCreating, CrashLoopBackOff, ErrImagePull...)
    waiting: tuple[str, str] | None = None
    ready: bool = False
    started: bool = False
    #: the runtime's attempt counter (CRI metadata) of the current container
    restart_count: int = 0


def _terminated(c: ContainerStatus) -> Obj:
    reason = c.reason or ("Completed" if c.exit_code == 0 else "Error")
    out: Obj = {"exitCode": c.exit_code, "reason": reason, "containerID": f"containerd://{c.id}"}
    if c.message:
        out["message"] = c.message
    if ts(c.started_at):
        out["startedAt"] = ts(c.started_at)
    if ts(c.finished_at):
        out["finishedAt"] = ts(c.finished_at)
    return out


def container_status(view: ContainerView) -> Obj:
    cur = view.current
    out: Obj = {"name": view.name, "image": view.image, "imageID": "", "ready": view.ready,
                "restartCount": view.restart_count, "started": view.started, "state": {}, "lastState": {}}
    if cur is not None:
        out["containerID"] = f"containerd://{cur.id}"
        out["imageID"] = cur.image_ref or ""
    if view.waiting is not None:
        reason, message = view.waiting
        out["state"] = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        if cur is not None and cur.state == ContainerState.EXITED:
            out["lastState"] = {"terminated": _terminated(cur)}
        elif view.previous is not None and view.previous.state == ContainerState.EXITED:
            out["lastState"] = {"terminated": _terminated(view.previous)}
        return out
    if cur is None:
        out["state"] = {"waiting": {"reason": "ContainerCreating"}}
        return out
    if cur.state == ContainerState.RUNNING:
        out["state"] = {"running": {"startedAt": ts(cur.started_at) or now_ts()}}
    elif cur.state == ContainerState.EXITED:
        out["state"] = {"terminated": _terminated(cur)}
        out["started"] = False
    else:
        out["state"] = {"waiting": {"reason": "ContainerCreating"}}
    if view.previous is not None and view.previous.state == ContainerState.EXITED:
        out["lastState"] = {"terminated": _terminated(view.previous)}
    return out


def pod_phase(restart_policy: str, init_done: bool, init_failed: bool, app: list[Obj]) -> str:
    """Kubernetes' getPhase, from the container statuses built above."""
    if init_failed and restart_policy == "Never":
        return "Failed"
    if not init_done:
        return "Pending"
    waiting = running = stopped = succeeded = failed = 0
    for s in app:
        state, last = s["state"], s.get("lastState") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"]["exitCode"] == 0:
                succeeded += 1
            else:
                failed += 1
        elif "terminated" in last:
            stopped += 1
            if last["terminated"]["exitCode"] == 0:
                succeeded += 1
            else:
                failed += 1
        else:
            waiting += 1
    if waiting > 0:
        return "Pending"
    if running > 0:
        return "Running"
    if stopped > 0:
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _condition(type_: str, ok: bool, previous: dict[str, Obj], reason: str = "") -> Obj:
    status = "True" if ok else "False"
    prev = previous.get(type_)
    stamp = prev["lastTransitionTime"] if prev and prev.get("status") == status and prev.get(
        "lastTransitionTime") else now_ts()
    out: Obj = {"type": type_, "status": status, "lastProbeTime": None, "lastTransitionTime": stamp}
    if reason and not ok:
        out["reason"] = reason
    return out


def pod_conditions(previous: list[Obj] | None, *, sandbox_ready: bool, init_done: bool, containers_ready: bool,
                   phase: str) -> list[Obj]:
    prev = {str(c.get("type")): c for c in previous or [] if isinstance(c, dict)}
    terminal = phase in ("Succeeded", "Failed")
    reason_ready = "PodCompleted" if terminal else "ContainersNotReady"
    scheduled = prev.get("PodScheduled") or {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                            "lastTransitionTime": now_ts()}
    return [
        _condition("PodReadyToStartContainers", sandbox_ready, prev),
        _condition("Initialized", init_done, prev, "PodCompleted" if terminal else "ContainersNotInitialized"),
        _condition("Ready", containers_ready, prev, reason_ready),
        _condition("ContainersReady", containers_ready, prev, reason_ready),
        scheduled,
    ]


def qos_class(spec: Obj) -> str:
    """Guaranteed (limits = requests for cpu and memory everywhere), BestEffort (none), else Burstable."""
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for name, conv in (("cpu", cpu_millis), ("memory", memory_bytes)):
            try:
                lv = conv(lim[name]) if name in lim else None
                rv = conv(req[name]) if name in req else lv
            except QuantityError:
                return "Burstable"
            if lv is None or rv != lv:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
