"""The status manager: the pod status the kubelet generates, and its writes to ``pods/status``.

Kubernetes' counterparts: `generateAPIPodStatus` (pkg/kubelet/kubelet_pods.go) builds the status
from the runtime's containers; pkg/kubelet/status/status_manager.go writes it (`SetPodStatus`:
the latest status only, at most `status_concurrency` PATCHes per node in flight, see
`workers.StatusWriter`) and writes it again when another writer replaced it (`needsReconcile`).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from kubelite.api.resources import PODS
from kubelite.client.rest import ApiError, is_not_found
from kubelite.kubelet.probes import READINESS, STARTUP, Prober
from kubelite.kubelet.state import KUBELET_CONDITIONS, PodState
from kubelite.kubelet.status import (
    ContainerView,
    container_status,
    pod_conditions,
    pod_phase,
    qos_class,
)
from kubelite.runtime.types import (
    ContainerState,
    ContainerStatus,
    NotFoundError,
    PodSandboxStatus,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def _resource_version(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


def _kubelet_view(status: Obj) -> tuple[Any, ...]:
    """The parts of a pod status the kubelet writes and nobody else should change."""
    return (status.get("phase"), status.get("containerStatuses"), status.get("initContainerStatuses"),
            status.get("podIP"), sorted((str(c.get("type")), str(c.get("status")))
                                        for c in status.get("conditions") or () if c.get("type") in KUBELET_CONDITIONS))


class StatusManager(Prober):
    """The kubelet's status generation and status writes (see the module docstring)."""

    def _reconcile_status(self, uid: str, pod: Obj) -> None:
        """Write the kubelet's latest status again when a later write replaced it in the API.

        The real status manager does this (needsReconcile): the kubelet owns the pod's phase,
        container statuses and its own conditions. Under a heavy load (docs/scale.md), a status
        PATCH whose client had given up (time limit) was still run by the server, after the newer
        one its client had sent since: the pod showed ContainerCreating for good, as nothing ever
        wrote again. Only an update newer than our own last write counts (our write's echo, or an
        older one, is not a change), and never while a write of ours is pending or in flight."""
        st = self._states.get(uid)
        if st is None or st.last_posted is None or st.pending is not None or not st.posted_rv:
            return
        rv = _resource_version(pod)
        if rv <= st.posted_rv:
            return
        if _kubelet_view(pod.get("status") or {}) == _kubelet_view(st.last_posted):
            return
        meta = pod["metadata"]
        log.info("pod %s/%s: its status in the API (resourceVersion %d) is not the kubelet's latest; "
                 "writing it again", meta.get("namespace"), meta.get("name"), rv)
        st.pending = st.last_posted
        self.status_writer.mark(uid)

    async def _view(self, pod: Obj, st: PodState, c: Obj, history: list[ContainerStatus],
                    sandbox: PodSandboxStatus | None, init: bool, running_ids: set[str]) -> ContainerView:
        """What `_report` knows about one container of the spec (its runtime history newest first)."""
        name = str(c["name"])
        v = ContainerView(name=name, image=str(c.get("image") or ""))
        if history:
            try:
                v.current = await self.runtime.container_status(history[0].id)
            except NotFoundError:
                v.current = None
            if len(history) > 1:
                with contextlib.suppress(NotFoundError):
                    v.previous = await self.runtime.container_status(history[1].id)
            v.restart_count = history[0].attempt
            st.container_ids[name] = history[0].id
            if len(history) > 1:
                st.previous_ids[name] = history[1].id
        cur = v.current
        if cur is not None and cur.state == ContainerState.RUNNING:
            if sandbox is not None and not init:
                running_ids.add(cur.id)
                self._ensure_probes(pod, st, c, cur, sandbox.id)
            v.started = self._probe_ok(st, name, STARTUP, cur.id, c.get("startupProbe") is None)
            v.ready = v.started and self._probe_ok(st, name, READINESS, cur.id, c.get("readinessProbe") is None)
            if init:
                v.ready = False
            st.waiting.pop(name, None)
        waiting = st.waiting.get(name)
        if waiting is not None and not (cur is not None and cur.state == ContainerState.RUNNING):
            v.waiting = waiting
        return v

    async def _report(self, pod: Obj, st: PodState, policy: str, sandbox: PodSandboxStatus | None, pod_ip: str,
                      histories: dict[str, list[ContainerStatus]]) -> None:
        spec = pod.get("spec") or {}
        running_ids: set[str] = set()
        st.sandbox_id = sandbox.id if sandbox is not None else ""
        init_views: list[ContainerView] = []
        for c in spec.get("initContainers") or []:
            init_views.append(await self._view(pod, st, c, histories.get(str(c["name"]), []), sandbox, True,
                                               running_ids))
        init_done = all(v.current is not None and v.current.state == ContainerState.EXITED
                        and v.current.exit_code == 0 for v in init_views)
        init_failed = any(v.current is not None and v.current.state == ContainerState.EXITED
                          and v.current.exit_code != 0 for v in init_views)
        app_views: list[ContainerView] = []
        for c in spec.get("containers") or []:
            app_views.append(await self._view(pod, st, c, histories.get(str(c["name"]), []), sandbox, False,
                                              running_ids))
        self._stop_probes(st, running_ids)
        if not init_done:
            for v in app_views:
                if v.current is None and v.waiting is None:
                    v.waiting = ("PodInitializing", "")
        init_statuses = [container_status(v) for v in init_views]
        for s, v in zip(init_statuses, init_views, strict=True):
            if v.current is not None and v.current.state == ContainerState.EXITED and v.current.exit_code == 0:
                s["ready"] = True
        app_statuses = [container_status(v) for v in app_views]
        phase = pod_phase(policy, init_done, init_failed, app_statuses)
        if st.phase in ("Succeeded", "Failed"):
            phase = st.phase
        st.phase = phase
        containers_ready = bool(app_views) and all(v.ready for v in app_views) and phase == "Running"
        previous = (st.pending or st.last_posted or pod.get("status") or {}).get("conditions")
        status: Obj = {
            "phase": phase,
            "conditions": pod_conditions(previous, sandbox_ready=sandbox is not None, init_done=init_done,
                                         containers_ready=containers_ready, phase=phase),
            "hostIP": self.node_ip,
            "hostIPs": [{"ip": self.node_ip}] if self.node_ip else [],
            "startTime": st.start_time,
            "containerStatuses": app_statuses,
            "qosClass": self._qos(st, spec),
        }
        if pod_ip:
            status["podIP"] = pod_ip
            status["podIPs"] = [{"ip": pod_ip}]
        if init_statuses:
            status["initContainerStatuses"] = init_statuses
        if phase in ("Succeeded", "Failed") and sandbox is not None:
            self.workers.enqueue(st.uid)  # stop the sandbox of a finished pod on the next pass
        await self._post_status(pod, st, status)

    @staticmethod
    def _qos(st: PodState, spec: Obj) -> str:
        """The pod's QoS class, computed again only when its spec object is another one (a pod's
        resources do not change, and the sim's informer shares an unchanged spec between versions)."""
        if st.qos[0] is not spec:
            st.qos = (spec, qos_class(spec))
        return st.qos[1]

    async def _post_status(self, pod: Obj, st: PodState, status: Obj) -> None:
        """Hand the pod's latest status to the status manager (the real kubelet's `SetPodStatus`).

        The write happens in the background, at most `status_concurrency` per node at once; a
        status that a newer one replaces before its turn is never written (the real status
        manager, too, writes the latest status, not each one it was given). So a pod that starts
        while the API server is busy goes Pending -> Running in one PATCH instead of two."""
        if self.client is None or status == (st.pending if st.pending is not None else st.last_posted):
            return
        meta = pod["metadata"]
        if st.uid in self._static_pods:
            ns, name = str(meta.get("namespace") or "default"), str(meta["name"])
            if self.informer is None or self.informer.store.get_by(ns, name) is None:
                return
        st.pending = None if status == st.last_posted else status
        if st.pending is not None:
            self.status_writer.mark(st.uid)

    async def _write_status(self, uid: str) -> None:
        """Write the pending status of one pod (called by the status writer; raises to be retried)."""
        st = self._states.get(uid)
        if self.client is None or st is None or st.pending is None:
            return
        status = st.pending
        meta = st.pod["metadata"]
        ns, name = str(meta.get("namespace") or "default"), str(meta["name"])
        try:
            written = await self.client.patch(PODS, name, {"status": status}, ns, subresource="status")
        except ApiError as err:
            if is_not_found(err):
                if st.pending is status:
                    st.pending = None
                return
            raise OSError(f"posting status of {ns}/{name}: {err}") from None
        st.last_posted = status  # never changed after it is built: no copy needed
        st.posted_rv = _resource_version(written) if isinstance(written, dict) else 0
        if st.pending is status:
            st.pending = None
