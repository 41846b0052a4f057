"""The scheduler: informers feed the cache and the queue; one loop pops a pod, runs the
algorithm, assumes the result and hands the Binding to a background task.

Reading order: event reasons; the Scheduler (its fields); informer handlers (they only touch the
cache and the queue); the scheduling loop (`schedule_one`, synchronous and CPU-bound, a
millisecond or two); the binding cycle (async, many in flight, bounded by a semaphore so a slow
apiserver pushes back on the loop); failure handling (event + PodScheduled condition).

Only pods with `spec.schedulerName` equal to ours are scheduled. A pod stays "in flight" in the
queue until its bind is answered, so a failed bind can put it back with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from kubelite.api.resources import NODES, PODS
from kubelite.client.compact import Transform, process_compactor
from kubelite.client.informer import InformerFactory
from kubelite.client.rest import ApiClient, ApiError
from kubelite.scheduler.algorithm import Algorithm, FitError, SchedulingError
from kubelite.scheduler.cache import Cache
from kubelite.scheduler.nodeinfo import PodInfo, ResourceError
from kubelite.scheduler.queue import QueueClosed, QueuedPod, SchedulingQueue

log = logging.getLogger(__name__)

DEFAULT_SCHEDULER_NAME = "default-scheduler"

REASON_SCHEDULED = "Scheduled"
REASON_FAILED_SCHEDULING = "FailedScheduling"
REASON_UNSUPPORTED = "UnsupportedSchedulingConstraint"
#: PodScheduled condition reasons
REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULER_ERROR = "SchedulerError"

#: one pod informer, as kube-scheduler's: pending and bound pods are told apart by the handlers (a
#: binding is one MODIFIED event, where two filtered watches would send a DELETED and an ADDED)
NOT_FINISHED_PODS = "status.phase!=Succeeded,status.phase!=Failed"

BACKOFF_FLUSH_INTERVAL = 1.0
UNSCHEDULABLE_FLUSH_INTERVAL = 30.0
DEFAULT_BINDS_IN_FLIGHT = 256
#: spec objects whose parse _pod_info remembers (cleared when full)
SPEC_TWINS_MAX = 1024
#: the default recorder's queue and concurrent Event writes (see _default_recorder)
EVENT_QUEUE = 20000
EVENT_WRITERS = 8


class Recorder(Protocol):
    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None: ...


def _strip_for_compare(pod: Mapping[str, Any]) -> tuple[Any, Any]:
    """What makes a pending pod's update worth a retry: metadata and spec, not status/RV."""
    meta = {k: v for k, v in (pod.get("metadata") or {}).items()
            if k not in ("resourceVersion", "generation", "managedFields", "finalizers")}
    return meta, pod.get("spec")


def _node_relevant(node: Mapping[str, Any]) -> tuple[Any, ...]:
    """The parts of a node that can change scheduling results (not heartbeats)."""
    meta = node.get("metadata") or {}
    status = node.get("status") or {}
    ready = [c.get("status") for c in status.get("conditions") or () if c.get("type") == "Ready"]
    return (meta.get("labels"), node.get("spec"), status.get("allocatable"), status.get("capacity"), ready)


class Scheduler:
    """Schedules pending pods of `scheduler_name` onto nodes. `start()` then `stop()`."""

    def __init__(
        self,
        client: ApiClient,
        *,
        scheduler_name: str = DEFAULT_SCHEDULER_NAME,
        recorder: Recorder | None = None,
        informers: InformerFactory | None = None,
        now: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        binds_in_flight: int = DEFAULT_BINDS_IN_FLIGHT,
    ) -> None:
        self.client = client
        self.scheduler_name = scheduler_name
        #: nodes + bound/assumed pods
        self.cache = Cache()
        #: pending pods: active / backoff / unschedulable
        self.queue = SchedulingQueue(now)
        self.algorithm = Algorithm(self.cache, rng=rng)
        self._own_recorder = recorder is None
        self.recorder: Recorder = recorder if recorder is not None else _default_recorder(client, scheduler_name)
        self._own_informers = informers is None
        # pods cached compactly (parts shared between pods, managedFields dropped: compact.py)
        self.informers = informers or InformerFactory(client, transform=process_compactor())
        self.pods = self.informers.informer(PODS, field_selector=NOT_FINISHED_PODS)
        if self._own_informers and self.informers.transform is not None:
            self.pods.transform = _without_status(self.informers.transform)
        self.nodes = self.informers.informer(NODES)
        self._now = now
        self._bind_slots = asyncio.Semaphore(binds_in_flight)
        self._binds: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        #: id(spec) -> the last PodInfo parsed from that spec object (see _pod_info)
        self._spec_twins: dict[int, PodInfo] = {}
        #: counters (also read by the benchmark)
        self.scheduled = 0
        self.failed_attempts = 0
        self.bind_errors = 0
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.nodes.add_handler(self._node_added, self._node_updated, self._node_deleted)

    # lifecycle ---------------------------------------------------------------------------
    async def start(self, sync_timeout: float | None = None) -> None:
        """Start informers, wait for their caches, then start scheduling."""
        if self._own_recorder:
            await _maybe_await(getattr(self.recorder, "start", None))
        if self._own_informers:
            await self.informers.start()
        else:
            for inf in (self.pods, self.nodes):
                await inf.start()
        for inf in (self.pods, self.nodes):
            if not await inf.wait_synced(sync_timeout):
                raise TimeoutError(f"scheduler: {inf!r} did not sync")
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._schedule_loop(), name="scheduler loop"),
            loop.create_task(self._flush_loop(), name="scheduler queue flush"),
        ]

    async def stop(self) -> None:
        self.queue.close()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        if self._binds:
            await asyncio.gather(*self._binds, return_exceptions=True)
        if self._own_informers:
            await self.informers.stop()
        if self._own_recorder:
            await _maybe_await(getattr(self.recorder, "stop", None))

    # informer handlers (enqueue / count only) ----------------------------------------------
    def _responsible(self, pod: Mapping[str, Any]) -> bool:
        spec = pod.get("spec") or {}
        meta = pod.get("metadata") or {}
        return (
            (spec.get("schedulerName") or DEFAULT_SCHEDULER_NAME) == self.scheduler_name
            and not spec.get("nodeName")
            and not meta.get("deletionTimestamp")
        )

    def _pod_info(self, pod: dict[str, Any]) -> PodInfo | None:
        """The pod parsed; a pod whose spec is the same object as a recent pod's (the informer's
        compaction shares one spec among the pending pods of a ReplicaSet) reuses that parse."""
        spec = pod.get("spec")
        twin = self._spec_twins.get(id(spec))
        if twin is not None and twin.pod.get("spec") is spec:
            return PodInfo.with_spec_of(twin, pod)
        try:
            info = PodInfo(pod)
        except ResourceError as e:
            self.recorder.event(pod, "Warning", REASON_FAILED_SCHEDULING, str(e))
            return None
        if isinstance(spec, dict):
            if len(self._spec_twins) >= SPEC_TWINS_MAX:
                self._spec_twins.clear()
            self._spec_twins[id(spec)] = info  # (info.pod holds the spec: its id stays its own)
        return info

    def _pod_added(self, pod: dict[str, Any]) -> None:
        if _bound(pod):
            self._assigned_added(pod)
        else:
            self._pending_added(pod)

    def _pod_updated(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if not _bound(new):
            self._pending_updated(old, new)
        elif _bound(old):
            self._assigned_updated(old, new)
        else:  # bound now: it leaves the queue's side for the cache's
            self._pending_deleted(old)
            self._assigned_added(new)

    def _pod_deleted(self, pod: dict[str, Any]) -> None:
        if _bound(pod):
            self._assigned_deleted(pod)
        else:
            self._pending_deleted(pod)

    def _pending_added(self, pod: dict[str, Any]) -> None:
        if not self._responsible(pod):
            return
        info = self._pod_info(pod)
        if info is None or info.gated or self.cache.node_of(info.key) is not None:
            return
        if info.unsupported:
            self.recorder.event(pod, "Warning", REASON_UNSUPPORTED,
                                f"kubelite's scheduler does not enforce {', '.join(info.unsupported)}; "
                                "scheduling without them")
        self.queue.add(info)

    def _pending_updated(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if not self._responsible(new):
            key = _key(new)
            if self.cache.node_of(key) is None:
                self.queue.delete(key)
            return
        info = self._pod_info(new)
        if info is None or self.cache.node_of(info.key) is not None:
            return
        if info.gated:
            self.queue.delete(info.key)
            return
        if info.key in self.queue and _strip_for_compare(old) == _strip_for_compare(new):
            self.queue.refresh(info)  # only status moved (e.g. our own condition): no retry
            return
        self.queue.add(info)

    def _pending_deleted(self, pod: dict[str, Any]) -> None:
        self.queue.delete(_key(pod))

    def _assigned_added(self, pod: dict[str, Any]) -> None:
        key = _key(pod)
        node = (pod.get("spec") or {}).get("nodeName")
        if self.cache.is_assumed(key) and self.cache.node_of(key) == node:
            self.cache.confirm(key)  # our own binding: already counted, no need to parse again
        else:
            info = self._pod_info(pod)
            if info is not None:
                self.cache.add_pod(info)
        self.queue.delete(key)

    def _assigned_updated(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        key = _key(new)
        if old.get("spec") == new.get("spec") and self.cache.node_of(key) is not None \
                and not self.cache.is_assumed(key):
            return  # only status or metadata changed (the kubelet's updates): the totals stay
        self._assigned_added(new)

    def _assigned_deleted(self, pod: dict[str, Any]) -> None:
        self.cache.remove_pod(_key(pod))
        self.queue.move_all_to_active_or_backoff()

    def _node_added(self, node: dict[str, Any]) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff()

    def _node_updated(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.cache.update_node(new)
        if _node_relevant(old) != _node_relevant(new):
            self.queue.move_all_to_active_or_backoff()

    def _node_deleted(self, node: dict[str, Any]) -> None:
        self.cache.remove_node((node.get("metadata") or {}).get("name") or "")

    # the scheduling loop -----------------------------------------------------------------
    async def _schedule_loop(self) -> None:
        while True:
            await self._bind_slots.acquire()
            try:
                qp = await self.queue.pop()
            except QueueClosed:
                self._bind_slots.release()
                return
            if not self.schedule_one(qp):
                self._bind_slots.release()
            await asyncio.sleep(0)  # let binds and informers run between pods

    def schedule_one(self, qp: QueuedPod) -> bool:
        """One scheduling cycle. True if a bind was started (it then owns a bind slot)."""
        info = qp.info
        if self.cache.node_of(info.key) is not None:
            self.queue.done(info.key)  # already assumed or bound
            return False
        try:
            result = self.algorithm.schedule(info)
        except FitError as e:
            self.failed_attempts += 1
            self._record_failure(info, e.message, REASON_UNSCHEDULABLE)
            self.queue.requeue_unschedulable(qp)
            return False
        except SchedulingError as e:
            self.failed_attempts += 1
            self._record_failure(info, str(e), REASON_SCHEDULER_ERROR)
            self.queue.requeue_backoff(qp)
            return False
        self.cache.assume(info, result.node)
        task = asyncio.get_running_loop().create_task(self._bind(qp, result.node))
        self._binds.add(task)
        task.add_done_callback(self._binds.discard)
        return True

    # the binding cycle -------------------------------------------------------------------
    async def _bind(self, qp: QueuedPod, node: str) -> None:
        info = qp.info
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": info.name, "namespace": info.namespace, "uid": info.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        try:
            await self.client.create(PODS, binding, info.namespace, subresource="binding", name=info.name)
        except Exception as e:  # any failure: undo the assumption
            self.bind_errors += 1
            self.cache.forget(info.key)
            gone = isinstance(e, ApiError) and e.code == 404
            taken = isinstance(e, ApiError) and e.code == 409
            if gone or taken:
                self.queue.done(info.key)  # deleted meanwhile, or someone else bound it
            else:
                log.warning("binding %s to %s failed: %s", info.key, node, e)
                self.recorder.event(info.pod, "Warning", REASON_FAILED_SCHEDULING, f"Binding rejected: {e}")
                self.queue.requeue_backoff(qp)
            self.queue.move_all_to_active_or_backoff()  # the resources it held are free again
        else:
            self.scheduled += 1
            self.queue.done(info.key)
            self.recorder.event(
                info.pod, "Normal", REASON_SCHEDULED, f"Successfully assigned {info.key} to {node}"
            )
        finally:
            self._bind_slots.release()

    # failures ----------------------------------------------------------------------------
    def _record_failure(self, info: PodInfo, message: str, reason: str) -> None:
        self.recorder.event(info.pod, "Warning", REASON_FAILED_SCHEDULING, message)
        patch = _unschedulable_condition_patch(info.pod, reason, message)
        if patch is not None:
            task = asyncio.get_running_loop().create_task(self._patch_status(info, patch))
            self._binds.add(task)
            task.add_done_callback(self._binds.discard)

    async def _patch_status(self, info: PodInfo, patch: dict[str, Any]) -> None:
        try:
            await self.client.patch(PODS, info.name, patch, info.namespace, subresource="status")
        except Exception as e:
            log.info("could not set PodScheduled=False on %s: %s", info.key, e)

    async def _flush_loop(self) -> None:
        last_unschedulable_flush = self._now()
        while True:
            await asyncio.sleep(BACKOFF_FLUSH_INTERVAL)
            self.queue.flush_backoff_completed()
            if self._now() - last_unschedulable_flush >= UNSCHEDULABLE_FLUSH_INTERVAL:
                last_unschedulable_flush = self._now()
                self.queue.flush_unschedulable_leftover()


def _unschedulable_condition_patch(pod: Mapping[str, Any], reason: str, message: str) -> dict[str, Any] | None:
    """A merge patch setting PodScheduled=False (the whole conditions list, since merge patches
    replace lists); None if the pod already says exactly that."""
    conditions = list((pod.get("status") or {}).get("conditions") or [])
    found = [j for j, c in enumerate(conditions) if c.get("type") == "PodScheduled"]
    if found:
        i = found[0]
        c = conditions[i]
        if c.get("status") == "False" and c.get("reason") == reason and c.get("message") == message:
            return None
    else:
        i = len(conditions)
        conditions.append({})
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    previous = conditions[i]
    conditions[i] = {
        "type": "PodScheduled",
        "status": "False",
        "reason": reason,
        "message": message,
        "lastProbeTime": None,
        "lastTransitionTime": previous.get("lastTransitionTime") if previous.get("status") == "False" else now,
    }
    return {"status": {"conditions": conditions}}


def _without_status(transform: Transform) -> Transform:
    """For the pod cache: a bound pod's status reduced to status.phase, then `transform` (a pending
    pod is cached whole).

    The scheduler reads a bound pod's metadata and spec (PodInfo: requests, ports, owner) and
    nothing of its status (the field selector filters finished pods on the server), while a
    running pod's status (IPs, conditions, container statuses) is most of what stays unique per
    pod once compacted, and most of its updates."""

    def slim(new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        status = new.get("status")
        if _bound(new) and isinstance(status, dict) and status and status.keys() != {"phase"}:
            new["status"] = {"phase": status["phase"]} if "phase" in status else {}
        return transform(new, old)

    return slim


def _bound(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or ''}"


async def _maybe_await(fn: Callable[[], Any] | None) -> None:
    if fn is not None:
        result = fn()
        if asyncio.iscoroutine(result):
            await result


def _default_recorder(client: ApiClient, component: str) -> Recorder:
    from kubelite.client.events import EventRecorder

    # One "Scheduled" Event per pod, as kube-scheduler. In bursts the default queue (1000) filled
    # and events were dropped; a longer queue keeps them. The writers stay few: Events trail the
    # binds rather than compete with them for the apiserver (more writers bound fewer pods/s).
    recorder: Recorder = EventRecorder(client, component, max_queue=EVENT_QUEUE, writers=EVENT_WRITERS)
    return recorder


async def run_scheduler(client: ApiClient, *, stop_event: asyncio.Event, **kw: Any) -> None:
    """Schedule until `stop_event` is set (what `kubelite server` embeds)."""
    scheduler = Scheduler(client, **kw)
    await scheduler.start()
    try:
        await stop_event.wait()
    finally:
        await scheduler.stop()


async def run_from_kubeconfig(kubeconfig: str | os.PathLike[str], **kw: Any) -> None:
    """Schedule until cancelled, as a `post_start` hook of the embedding server."""
    client = ApiClient.from_kubeconfig(str(kubeconfig))
    scheduler = Scheduler(client, **kw)
    try:
        await scheduler.start()
        await asyncio.Event().wait()
    finally:
        await scheduler.stop()
        await client.close()
