"""The kubelet's sync loop: desired pods (API + static manifests) against the runtime's pods.

Desired state comes from an informer on pods with ``spec.nodeName=<node>`` and from the
static pod source. Actual state comes from the runtime, relisted every `relist_period`
(Kubernetes' PLEG): when a pod's sandboxes or containers change state, its uid is enqueued.
`PodWorkers` syncs one pod at a time per uid and many pods at once.

One sync of a pod (level-triggered, so it may run any number of times):
1. gone from every source -> stop and remove its containers and sandbox (orphans are only
   removed once both sources have loaded, so a restarted agent adopts what it finds first);
2. `deletionTimestamp` set -> preStop hooks, SIGTERM, grace period, SIGKILL, then the final
   DELETE of the API object (gracePeriodSeconds=0, uid precondition);
3. otherwise: a ready sandbox (the pause container: netns and IP), init containers in order,
   then the containers, each restarted per restartPolicy with CrashLoopBackOff; probe loops
   for running containers; then the pod's status, PATCHed only when it changed.

Sandboxes and containers carry the pod's uid as a label; a container's CRI `attempt` is its
restart count, so nothing the worker needs lives only in memory.

Kubernetes' counterpart: pkg/kubelet/kubelet.go (`SyncPod`, `SyncTerminatingPod`, the removal of
orphaned pods). This module holds the lifecycle and the sync of one pod; the other parts are the
classes it stacks on (see `kubelet.state`): `pleg`, `sources`, `containers`, `containerconfig`,
`statusmanager`, `probes`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubelite.api.resources import PODS
from kubelite.client.events import EventRecorder
from kubelite.client.informer import Informer
from kubelite.client.rest import ApiClient, ApiError, is_conflict, is_not_found
from kubelite.kubelet import spec as S
from kubelite.kubelet.pleg import Pleg
from kubelite.kubelet.state import (  # noqa: F401  (re-exported: agent.py and tests import them from here)
    FULL_RELIST_PERIOD,
    RESYNC_PERIOD,
    STATUS_CONCURRENCY,
    VANISHED_GRACE,
    PodState,
)
from kubelite.kubelet.static import StaticPodSource
from kubelite.kubelet.volumes import VolumeManager
from kubelite.kubelet.workers import PodWorkers, StatusWriter
from kubelite.runtime.types import (
    ContainerState,
    ContainerStatus,
    PodSandboxStatus,
    Runtime,
    RuntimeError_,
    SandboxState,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class PodManager(Pleg):
    """Runs the pods bound to one node (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        node_name: str,
        data_dir: Path,
        client: ApiClient | None = None,
        recorder: EventRecorder | None = None,
        node_ip: str = "",
        manifest_path: Path | None = None,
        relist_period: float = 1.0,
        resync_period: float = RESYNC_PERIOD,
        allow_privileged: bool = False,
        cluster_dns: str | None = "10.43.0.10",
        cluster_domain: str = "cluster.local",
        manage_files: bool = True,
        runtime_timeout: float = 5.0,
        on_runtime_health: Callable[[bool, str], None] | None = None,
        full_relist_period: float = FULL_RELIST_PERIOD,
        own_pleg_loop: bool = True,
        status_concurrency: int = STATUS_CONCURRENCY,
    ) -> None:
        self.runtime = runtime
        self.node_name = node_name
        self.data_dir = data_dir
        #: where sandboxes keep their logs (a string: joining Paths per pod cost more than the rest of its config)
        self._logs_dir = str(data_dir / "logs")
        self.client = client
        self.recorder = recorder
        self.node_ip = node_ip
        self.relist_period = relist_period
        self.resync_period = resync_period
        self.allow_privileged = allow_privileged
        self.cluster_dns = cluster_dns
        self.cluster_domain = cluster_domain
        self.manage_files = manage_files
        self.runtime_timeout = runtime_timeout
        self.on_runtime_health = on_runtime_health
        self.full_relist_period = full_relist_period
        #: False: something else (`kubelite sim`'s fleet-wide tick) calls `pleg_tick()` instead of a timer here
        self.own_pleg_loop = own_pleg_loop
        self._last_full_relist = self._last_resync = 0.0
        self.node_uid: str | None = None
        self.node_allocatable: Obj = {}
        self.volumes = VolumeManager(client, data_dir / "pods")
        self.workers = PodWorkers(self._sync)
        self.status_writer = StatusWriter(self._write_status, concurrency=status_concurrency)
        self.informer: Informer | None = None
        if client is not None:
            self.informer = Informer(client, PODS, field_selector=f"spec.nodeName={node_name}")
            self.informer.add_handler(self._on_add, self._on_update, self._on_delete)
        self.static: StaticPodSource | None = None
        if manifest_path is not None:
            self.static = StaticPodSource(manifest_path, node_name, self._on_static)
        self._api_pods: dict[str, Obj] = {}
        self._static_pods: dict[str, Obj] = {}
        self._states: dict[str, PodState] = {}
        self._static_seen: set[str] = set()
        self._signatures: dict[str, tuple[Any, ...]] = {}
        self._api_synced = client is None
        self._static_scanned = manifest_path is None
        self.runtime_healthy: bool | None = None
        self.runtime_message = ""
        self._relist_token: object = None
        #: the runtime's change-journal cursor at the last relist (`Runtime.pod_changes`)
        self._journal_cursor: int | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if self.informer is not None:
            self.informer.start_soon()
            self._tasks.append(asyncio.create_task(self._wait_api_synced(), name=f"pods-synced:{self.node_name}"))
        if self.static is not None:
            self.static.start()
        loop = asyncio.get_running_loop()
        self._last_full_relist = self._last_resync = loop.time()
        if self.own_pleg_loop:
            self._tasks.append(asyncio.create_task(self._relist_loop(), name=f"pleg:{self.node_name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.informer is not None:
            await self.informer.stop()
        if self.static is not None:
            await self.static.stop()
        await self.workers.stop()
        await self.status_writer.stop()
        for st in self._states.values():
            self._stop_probes(st)

    async def _sync(self, uid: str) -> None:
        try:
            sandboxes = await self.runtime.list_pod_sandboxes({S.LABEL_POD_UID: uid})
            containers = await self.runtime.list_containers(labels={S.LABEL_POD_UID: uid})
        except RuntimeError_ as err:
            raise OSError(f"runtime unavailable: {err}") from None
        # The desired pod and "have the sources loaded?" are read together, after the awaits: read
        # before them, a restarted agent whose informer synced during the listing would take every
        # pod it runs for an orphan (no pod, yet sources ready) and kill it.
        pod = self.desired(uid)
        st = self._states.get(uid)
        if pod is None:
            if not self.sources_ready and st is None:
                return  # unknown pod before the sources loaded: adopt or remove it later
            if sandboxes or containers:
                labels = sandboxes[0].labels if sandboxes else containers[0].labels
                name = labels.get(S.LABEL_POD_NAME, "")
                log.info("removing pod %s (uid %s): no source wants it", name, uid)
            grace = S.grace_period(st.pod) if st is not None and uid in self._static_seen else VANISHED_GRACE
            await self._kill_pod(st.pod if st else None, sandboxes, containers, min(grace, 30))
            await self._remove_pod(uid, sandboxes, containers)
            if st is not None:
                self._stop_probes(st)
                if st.pod["metadata"].get("annotations", {}).get("kubernetes.io/config.source") == "file":
                    await self._delete_mirror(st.pod)
            self._states.pop(uid, None)
            return
        if st is None:
            st = self._states[uid] = PodState(uid=uid, pod=pod)
            reported = str((pod.get("status") or {}).get("phase") or "")
            if reported in ("Succeeded", "Failed"):
                st.phase = reported  # a restarted agent must not run a finished pod again
            if uid in self._static_pods:
                self._static_seen.add(uid)
        st.pod = pod
        static = uid in self._static_pods
        if static:
            await self._sync_mirror(pod)
        if (pod.get("metadata") or {}).get("deletionTimestamp") and not static:
            await self._terminate(pod, st, sandboxes, containers)
            return
        await self._sync_running(pod, st, sandboxes, containers)

    async def _kill_pod(self, pod: Obj | None, sandboxes: list[PodSandboxStatus],
                        containers: list[ContainerStatus], grace: int) -> None:
        specs = {str(c.get("name")): c for c in ((pod or {}).get("spec") or {}).get("containers") or []}
        running = [(specs.get(c.name), c) for c in containers if c.state in (ContainerState.RUNNING,
                                                                               ContainerState.CREATED)]
        if running:
            if pod is not None:
                await self._stop_containers(pod, running, grace)
            else:
                await asyncio.gather(*(self.runtime.stop_container(c.id, grace) for _, c in running))
        for sb in sandboxes:
            if sb.state == SandboxState.READY:
                await self.runtime.stop_pod_sandbox(sb.id)

    async def _remove_pod(self, uid: str, sandboxes: list[PodSandboxStatus], containers: list[ContainerStatus]) -> None:
        for c in containers:
            await self.runtime.remove_container(c.id)
        for sb in sandboxes:
            await self.runtime.stop_pod_sandbox(sb.id)
            await self.runtime.remove_pod_sandbox(sb.id)
        if self.manage_files:
            await self.volumes.remove(uid)

    async def _terminate(self, pod: Obj, st: PodState, sandboxes: list[PodSandboxStatus],
                         containers: list[ContainerStatus]) -> None:
        """Graceful deletion: stop everything within the grace period, then delete the API object."""
        self._stop_probes(st)
        await self._kill_pod(pod, sandboxes, containers, S.grace_period(pod))
        meta = pod["metadata"]
        if self.client is not None:
            try:
                await self.client.delete(PODS, str(meta["name"]), str(meta.get("namespace") or "default"),
                                         grace_period_seconds=0, preconditions={"uid": st.uid})
            except ApiError as err:
                if not (is_not_found(err) or is_conflict(err)):
                    raise
        await self._remove_pod(st.uid, sandboxes, containers)
