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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kubelite.api.resources import PODS
from kubelite.client.events import EventRecorder
from kubelite.client.informer import Informer
from kubelite.client.rest import ApiClient, ApiError, is_conflict, is_not_found
from kubelite.kubelet import spec as S
from kubelite.kubelet.probes import LIVENESS, READINESS, STARTUP, run_probe
from kubelite.kubelet.static import StaticPodSource, is_mirror, mirror_pod
from kubelite.kubelet.status import (
    ContainerView,
    container_status,
    now_ts,
    pod_conditions,
    pod_phase,
    qos_class,
)
from kubelite.kubelet.volumes import VolumeManager, mounts_for
from kubelite.kubelet.workers import PodWorkers, StatusWriter
from kubelite.runtime.images import REGISTRY
from kubelite.runtime.types import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    DNSConfig,
    LinuxSandboxOptions,
    NotFoundError,
    PodSandboxConfig,
    PodSandboxStatus,
    PortMapping,
    Protocol_,
    Runtime,
    RuntimeError_,
    SandboxState,
    SecurityContext,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]
T = TypeVar("T")
VANISHED_GRACE = 2
CONFIG_RETRY = 5.0
#: seconds between relists that list the runtime even when its change token says nothing changed
FULL_RELIST_PERIOD = 10.0
#: pods/status PATCHes of one node in flight at once (the real kubelet's status manager: one)
STATUS_CONCURRENCY = 4
#: seconds between syncs of every pod (the real kubelet's syncFrequency)
RESYNC_PERIOD = 60.0
#: pod conditions the kubelet owns (others, such as PodScheduled or DisruptionTarget, are other writers')
KUBELET_CONDITIONS = frozenset(("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady"))
PROBE_KEYS = ((LIVENESS, "livenessProbe"), (READINESS, "readinessProbe"), (STARTUP, "startupProbe"))


class ImagePullError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)
class PodState:
    """What a worker remembers about one pod between syncs (all of it can be rebuilt)."""

    uid: str
    pod: Obj
    backoff: dict[str, S.Backoff] = field(default_factory=dict)
    #: container name -> (waiting reason, message) decided by the worker
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: container name -> container id whose exit was already counted for backoff / events
    seen_exit: dict[str, str] = field(default_factory=dict)
    probes: dict[tuple[str, str], tuple[str, asyncio.Task[None]]] = field(default_factory=dict)
    #: (container name, probe kind) -> (container id, result)
    probe_result: dict[tuple[str, str], tuple[str, bool]] = field(default_factory=dict)
    pod_ip: tuple[str, str] = ("", "")  # (sandbox id, ip)
    start_time: str | None = None
    last_posted: Obj | None = None
    #: resourceVersion the API gave the pod for the write of `last_posted` (0: unknown)
    posted_rv: int = 0
    #: the latest status not yet written (the status manager writes it, skipping any it replaced)
    pending: Obj | None = None
    phase: str = "Pending"
    image_failures: dict[str, int] = field(default_factory=dict)
    #: for the kubelet server: current sandbox, current and previous container id per name
    sandbox_id: str = ""
    container_ids: dict[str, str] = field(default_factory=dict)
    previous_ids: dict[str, str] = field(default_factory=dict)
    #: (the spec it was computed from, QoS class)
    qos: tuple[Obj | None, str] = (None, "")


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


def _signatures(sandboxes: list[PodSandboxStatus], containers: list[ContainerStatus]) -> dict[str, tuple[Any, ...]]:
    """Pod uid -> what a relist compares: the (id, state) of its sandboxes and containers."""
    sigs: dict[str, list[Any]] = {}
    for sb in sandboxes:
        sigs.setdefault(sb.labels.get(S.LABEL_POD_UID, sb.uid), []).append((sb.id, sb.state.value))
    for c in containers:
        uid = c.labels.get(S.LABEL_POD_UID)
        if uid:
            sigs.setdefault(uid, []).append((c.id, c.state.value))
    return {uid: tuple(sorted(items)) for uid, items in sigs.items()}


def _pod_signature(sandboxes: list[PodSandboxStatus], containers: list[ContainerStatus]) -> tuple[Any, ...] | None:
    """`_signatures` for the listing of ONE pod (all of it carries that pod's uid): its tuple, or None
    when the pod has nothing in the runtime."""
    items = [(sb.id, sb.state.value) for sb in sandboxes] + [(c.id, c.state.value) for c in containers]
    return tuple(sorted(items)) if items else None


def _latest(containers: list[ContainerStatus]) -> list[ContainerStatus]:
    return sorted(containers, key=lambda c: (c.attempt, c.created_at), reverse=True)


def _histories(containers: list[ContainerStatus]) -> dict[str, list[ContainerStatus]]:
    """Container name -> its runtime containers, newest first: grouped once per sync for what
    `_act`, `_gc_containers` and `_report` read (history[0] current, history[1] previous)."""
    by_name: dict[str, list[ContainerStatus]] = {}
    for c in containers:
        by_name.setdefault(c.name, []).append(c)
    for name, history in by_name.items():
        if len(history) > 1:
            by_name[name] = _latest(history)
    return by_name


class PodManager:
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
        #: the runtime's change-journal cursor at the last relist (runtimes with `pod_changes`)
        self._journal_cursor: int | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -----------------------------------------------------------------------------

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

    async def _wait_api_synced(self) -> None:
        assert self.informer is not None
        while not await self.informer.wait_synced(timeout=5):
            pass
        self._api_synced = True
        self._sources_changed()

    @property
    def sources_ready(self) -> bool:
        return self._api_synced and self._static_scanned

    def resync_all(self) -> None:
        """Sync every known pod now (e.g. once the node's network became ready)."""
        for uid in set(self._signatures) | set(self._api_pods) | set(self._static_pods):
            self.workers.enqueue(uid)

    def _sources_changed(self) -> None:
        if self.sources_ready:
            log.debug("pod sources loaded: %d API pods, %d static pods, %d pods in the runtime",
                     len(self._api_pods), len(self._static_pods), len(self._signatures))
            for uid in set(self._signatures) | set(self._api_pods) | set(self._static_pods):
                self.workers.enqueue(uid)

    # -- desired state -------------------------------------------------------------------------

    def _on_add(self, pod: Obj) -> None:
        if is_mirror(pod):
            self._mirror_changed(pod)
            return
        uid = str(pod["metadata"]["uid"])
        self._api_pods[uid] = pod
        self.workers.enqueue(uid)

    def _on_update(self, old: Obj, new: Obj) -> None:
        # Our own status writes come back as updates: they change nothing the sync reads.
        if not is_mirror(new) and str(new["metadata"].get("uid")) in self._api_pods:
            om, nm = old.get("metadata") or {}, new.get("metadata") or {}
            old_spec, new_spec = old.get("spec"), new.get("spec")
            if (old_spec is new_spec or old_spec == new_spec) and all(
                    om.get(k) == nm.get(k) for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "labels",
                                                      "annotations")):
                self._api_pods[str(nm["uid"])] = new
                self._reconcile_status(str(nm["uid"]), new)
                return
        self._on_add(new)

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

    def _on_delete(self, pod: Obj) -> None:
        if is_mirror(pod):
            self._mirror_changed(pod)
            return
        uid = str(pod["metadata"]["uid"])
        self._api_pods.pop(uid, None)
        self.workers.enqueue(uid)

    def _mirror_changed(self, mirror: Obj) -> None:
        meta = mirror.get("metadata") or {}
        for uid, pod in self._static_pods.items():
            if pod["metadata"]["name"] == meta.get("name") and pod["metadata"]["namespace"] == meta.get("namespace"):
                self.workers.enqueue(uid)

    def _on_static(self, pods: dict[str, Obj]) -> None:
        changed = set(pods) ^ set(self._static_pods)
        self._static_pods = pods
        first = not self._static_scanned
        self._static_scanned = True
        for uid in changed:
            self.workers.enqueue(uid)
        if first:
            self._sources_changed()

    def desired(self, uid: str) -> Obj | None:
        return self._static_pods.get(uid) or self._api_pods.get(uid)

    def pods(self) -> list[Obj]:
        """Every pod this node should run (API pods and static pods)."""
        return list(self._api_pods.values()) + list(self._static_pods.values())

    def pod_by_name(self, namespace: str, name: str) -> Obj | None:
        """The pod (API or static) with this name on this node, as the kubelet server needs it."""
        for pod in self.pods():
            meta = pod["metadata"]
            if meta.get("name") == name and meta.get("namespace", "default") == namespace:
                return pod
        return None

    def pod_ref(self, namespace: str, name: str) -> tuple[str, str, dict[str, str], dict[str, str]] | None:
        """(uid, sandbox id, current container ids, previous container ids) of a pod, for the kubelet server."""
        pod = self.pod_by_name(namespace, name)
        if pod is None:
            return None
        st = self._states.get(str(pod["metadata"]["uid"]))
        if st is None:
            return None
        return st.uid, st.sandbox_id, dict(st.container_ids), dict(st.previous_ids)

    # -- PLEG -----------------------------------------------------------------------------------

    def _set_health(self, healthy: bool, message: str) -> None:
        if healthy != self.runtime_healthy:
            self.runtime_healthy = healthy
            self.runtime_message = message
            if not healthy:
                log.warning("container runtime unhealthy: %s", message)
            if self.on_runtime_health is not None:
                self.on_runtime_health(healthy, message)

    async def relist(self, force: bool = False) -> None:
        """One PLEG pass: enqueue every pod whose sandboxes or containers changed.

        A runtime with a `change_token()` (the simulated one) is not listed when the token is the
        one of the last pass: thousands of idle simulated nodes then cost nothing per period."""
        token_of = getattr(self.runtime, "change_token", None)
        token = token_of() if callable(token_of) else None
        healthy = self.runtime_healthy is True
        if not force and token is not None and token == self._relist_token and healthy:
            return
        changes_of = getattr(self.runtime, "pod_changes", None)
        cursor: int | None = None
        if callable(changes_of):
            cursor, changed = changes_of(self._journal_cursor if healthy and not force else None)
            # Only the pods the runtime says changed are listed; a change it cannot attribute to a
            # pod (nothing in the journal, yet the token moved) means: list everything.
            if changed:
                await self._relist_pods(changed, token, cursor)
                return
        async def everything() -> tuple[list[PodSandboxStatus], list[ContainerStatus]]:
            return (await self.runtime.list_pod_sandboxes({S.LABEL_MANAGED: "true"}),
                    await self.runtime.list_containers(labels={S.LABEL_MANAGED: "true"}))

        listed = await self._ask_runtime(everything)
        if listed is None:
            return
        new = _signatures(*listed)
        for uid in set(new) | set(self._signatures):
            if new.get(uid) != self._signatures.get(uid):
                self.workers.enqueue(uid)
        self._signatures = new
        self._relist_token = token
        self._journal_cursor = cursor

    async def _ask_runtime(self, query: Callable[[], Awaitable[T]]) -> T | None:
        """A relist's runtime query within `runtime_timeout`, and the runtime's health from how it
        went: None when the runtime is down or silent (the node then reports it)."""
        try:
            async with asyncio.timeout(self.runtime_timeout):
                answer = await query()
        except RuntimeError_ as err:
            self._set_health(False, f"container runtime is down: {err}")
            return None
        except TimeoutError:
            self._set_health(False, f"container runtime is not responding (no answer within {self.runtime_timeout:g}s)")
            return None
        self._set_health(True, "")
        return answer

    async def _relist_pods(self, uids: list[str], token: object, cursor: int) -> None:
        """The relist of a runtime that reported which pods changed: list those pods only (O(changes),
        not O(pods on the node)); enqueue each whose sandboxes or containers now differ."""
        managed = {S.LABEL_MANAGED: "true"}

        async def those() -> list[tuple[str, list[PodSandboxStatus], list[ContainerStatus]]]:
            return [(uid, await self.runtime.list_pod_sandboxes({S.LABEL_POD_UID: uid, **managed}),
                     await self.runtime.list_containers(labels={S.LABEL_POD_UID: uid, **managed}))
                    for uid in uids]

        listed = await self._ask_runtime(those)
        if listed is None:
            return
        signatures = self._signatures
        for uid, sandboxes, containers in listed:
            new = _pod_signature(sandboxes, containers)
            if new != signatures.get(uid):
                self.workers.enqueue(uid)
                if new is None:
                    del signatures[uid]
                else:
                    signatures[uid] = new
        self._relist_token = token
        self._journal_cursor = cursor

    async def _relist_loop(self) -> None:
        while True:
            await self.pleg_tick()
            await asyncio.sleep(self.relist_period)

    async def pleg_tick(self, *, full: bool | None = None, resync: bool | None = None) -> None:
        """One PLEG period (what `_relist_loop` runs every `relist_period`; `kubelite sim`'s fleet-wide
        tick calls it for the nodes whose runtime changed, and for every node now and then): a relist,
        a full one at least every `full_relist_period` (it doubles as the runtime health check), and
        every `resync_period` a sync of every pod (level-triggered safety net). `full` / `resync`
        given: the caller decides instead of the clock."""
        now = asyncio.get_running_loop().time()
        force = now - self._last_full_relist >= self.full_relist_period if full is None else full
        if force:
            self._last_full_relist = now
        try:
            await self.relist(force=force)
        except Exception:
            log.exception("relisting the runtime failed")
        if now - self._last_resync >= self.resync_period if resync is None else resync:
            self._last_resync = now
            for uid in list(self._api_pods) + list(self._static_pods):
                self.workers.enqueue(uid)

    # -- helpers ---------------------------------------------------------------------------------

    def _event(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        if self.recorder is None:
            return
        target = pod
        if pod["metadata"].get("uid") in self._static_pods and self.informer is not None:
            mirror = self.informer.store.get_by(pod["metadata"]["namespace"], pod["metadata"]["name"])
            if mirror is None:
                return
            target = mirror
        self.recorder.event(target, type_, reason, message)

    def _sandbox_config(self, pod: Obj, attempt: int) -> PodSandboxConfig:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        uid, ns, name = str(meta["uid"]), str(meta.get("namespace") or "default"), str(meta["name"])
        host_network = bool(spec.get("hostNetwork"))
        policy = spec.get("dnsPolicy") or "ClusterFirst"
        if host_network and policy == "ClusterFirst":
            policy = "Default"
        dns: DNSConfig | None = None
        if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and self.cluster_dns:
            d = self.cluster_domain
            dns = DNSConfig([self.cluster_dns], [f"{ns}.svc.{d}", f"svc.{d}", d], ["ndots:5"])
        custom = spec.get("dnsConfig") or {}
        if custom or policy == "None":
            dns = dns or DNSConfig()
            dns.servers += [str(s) for s in custom.get("nameservers") or []]
            dns.searches += [str(s) for s in custom.get("searches") or []]
            dns.options += [f"{o['name']}:{o['value']}" if o.get("value") else str(o.get("name"))
                            for o in custom.get("options") or []]
        ports = [
            PortMapping(container_port=int(p["containerPort"]), host_port=int(p.get("hostPort") or 0),
                        protocol=Protocol_(p.get("protocol") or "TCP"), host_ip=str(p.get("hostIP") or ""))
            for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("hostPort")
        ]
        psc = spec.get("securityContext") or {}
        return PodSandboxConfig(
            name=name, uid=uid, namespace=ns, attempt=attempt,
            hostname="" if host_network else str(spec.get("hostname") or name)[:63],
            log_directory=f"{self._logs_dir}/{ns}_{name}_{uid}",
            dns=dns, port_mappings=ports,
            labels={S.LABEL_POD_UID: uid, S.LABEL_POD_NAME: name, S.LABEL_POD_NAMESPACE: ns, S.LABEL_MANAGED: "true"},
            annotations=dict(meta.get("annotations") or {}),
            linux=LinuxSandboxOptions(host_network=host_network, host_pid=bool(spec.get("hostPID")),
                                      host_ipc=bool(spec.get("hostIPC")), run_as_user=psc.get("runAsUser")),
        )

    def _status_pod(self, pod: Obj, pod_ip: str) -> Obj:
        """The pod as the downward API sees it (status.podIP and hostIP filled in)."""
        view = dict(pod)
        view["status"] = {**(pod.get("status") or {}), "podIP": pod_ip, "hostIP": self.node_ip,
                          "podIPs": [{"ip": pod_ip}] if pod_ip else []}
        return view

    async def _env(self, pod: Obj, c: Obj, pod_ip: str) -> dict[str, str]:
        ns = str(pod["metadata"].get("namespace") or "default")
        env: dict[str, str] = {}
        for src in c.get("envFrom") or []:
            prefix = str(src.get("prefix") or "")
            for kind, key in (("configmap", "configMapRef"), ("secret", "secretRef")):
                ref = src.get(key)
                if ref:
                    data = await self.volumes.config_data(kind, ns, str(ref.get("name")), bool(ref.get("optional")))
                    for k, v in (data or {}).items():
                        env[prefix + k] = v.decode(errors="replace")
        for e in c.get("env") or []:
            name = str(e.get("name"))
            vf = e.get("valueFrom")
            if not vf:
                env[name] = S.expand(str(e.get("value") or ""), env)
            elif vf.get("fieldRef"):
                env[name] = S.field_ref_value(self._status_pod(pod, pod_ip), vf["fieldRef"])
            elif vf.get("resourceFieldRef"):
                env[name] = S.resource_field_value(pod, str(c.get("name")), vf["resourceFieldRef"],
                                                   self.node_allocatable)
            else:
                for kind, key in (("configmap", "configMapKeyRef"), ("secret", "secretKeyRef")):
                    ref = vf.get(key)
                    if not ref:
                        continue
                    optional = bool(ref.get("optional"))
                    data = await self.volumes.config_data(kind, ns, str(ref.get("name")), optional)
                    if data is None:
                        break
                    if ref.get("key") not in data:
                        if optional:
                            break
                        raise S.SpecError(f"couldn't find key {ref.get('key')} in {kind} {ns}/{ref.get('name')}")
                    env[name] = data[str(ref["key"])].decode(errors="replace")
        return env

    async def _ensure_image(self, pod: Obj, st: PodState, c: Obj) -> None:
        image = str(c.get("image") or "")
        if not image:
            raise S.SpecError(f"container {c.get('name')} has no image")
        policy = S.effective_pull_policy(c)
        present = await self.runtime.image_status(image)
        local_only = image.startswith(REGISTRY + "/")
        if present is not None and (policy == "IfNotPresent" or policy == "Never" or local_only):
            self._event(pod, "Normal", "Pulled", f'Container image "{image}" already present on machine')
            return
        if policy == "Never":
            raise ImagePullError("ErrImageNeverPull",
                                 f'Container image "{image}" is not present with pull policy of Never')
        self._event(pod, "Normal", "Pulling", f'Pulling image "{image}"')
        t0 = time.monotonic()
        try:
            await self.runtime.pull_image(image)
        except RuntimeError_ as err:
            self._event(pod, "Warning", "Failed", f'Failed to pull image "{image}": {err}')
            raise ImagePullError("ErrImagePull", str(err)) from None
        self._event(pod, "Normal", "Pulled", f'Successfully pulled image "{image}" in {time.monotonic() - t0:.3f}s')

    def _security(self, pod: Obj, c: Obj) -> SecurityContext:
        psc = (pod.get("spec") or {}).get("securityContext") or {}
        csc = c.get("securityContext") or {}
        privileged = bool(csc.get("privileged"))
        if privileged and not self.allow_privileged:
            raise S.SpecError(f"container {c.get('name')}: privileged containers are not allowed on node "
                              f"{self.node_name} (start the agent with --allow-privileged)")
        caps = csc.get("capabilities") or {}
        run_as_user = csc.get("runAsUser", psc.get("runAsUser"))
        run_as_group = csc.get("runAsGroup", psc.get("runAsGroup"))
        return SecurityContext(
            run_as_user=int(run_as_user) if run_as_user is not None else None,
            run_as_group=int(run_as_group) if run_as_group is not None else None,
            privileged=privileged, readonly_rootfs=bool(csc.get("readOnlyRootFilesystem")),
            add_capabilities=[str(x) for x in caps.get("add") or []],
            drop_capabilities=[str(x) for x in caps.get("drop") or []],
        )

    async def _start_container(self, pod: Obj, st: PodState, c: Obj, sandbox_id: str,
                               sandbox_config: Callable[[], PodSandboxConfig],
                               pod_ip: str, attempt: int, init: bool) -> bool:
        """Pull, create and start one container; on failure note a waiting reason and retry later."""
        name = str(c.get("name"))
        uid = st.uid
        meta = pod["metadata"]
        sb_config = sandbox_config()
        try:
            security = self._security(pod, c)
            await self._ensure_image(pod, st, c)
            st.image_failures.pop(name, None)
            volume_paths: dict[str, str] = {}
            etc_hosts: str | None = None
            if self.manage_files:
                volume_paths = await self.volumes.prepare(pod, self.node_allocatable)
                if not (pod.get("spec") or {}).get("hostNetwork"):
                    etc_hosts = await self.volumes.etc_hosts(pod, pod_ip)
            else:
                volume_paths = {str(v.get("name")): "" for v in (pod.get("spec") or {}).get("volumes") or []}
            env = await self._env(pod, c, pod_ip)
            config = ContainerConfig(
                name=name, image=str(c["image"]),
                command=[S.expand(str(a), env) for a in c.get("command") or []],
                args=[S.expand(str(a), env) for a in c.get("args") or []],
                working_dir=str(c.get("workingDir") or ""), envs=env,
                mounts=mounts_for(c, volume_paths, pod, etc_hosts) if self.manage_files else [],
                labels={S.LABEL_POD_UID: uid, S.LABEL_POD_NAME: str(meta["name"]),
                        S.LABEL_POD_NAMESPACE: sb_config.namespace, S.LABEL_CONTAINER_NAME: name,
                        S.LABEL_MANAGED: "true"},
                annotations={**(meta.get("annotations") or {}), S.ANNOTATION_CONTAINER_HASH: S.container_hash(c),
                             **({S.ANNOTATION_INIT: "true"} if init else {})},
                log_path=f"{name}/{attempt}.log", attempt=attempt,
                stdin=bool(c.get("stdin")), stdin_once=bool(c.get("stdinOnce")), tty=bool(c.get("tty")),
                resources=S.linux_resources(c), security=security,
            )
        except S.SpecError as err:
            st.waiting[name] = ("CreateContainerConfigError", str(err))
            self._event(pod, "Warning", "Failed", f"Error: {err}")
            self.workers.enqueue_after(uid, CONFIG_RETRY)
            return False
        except ImagePullError as err:
            n = st.image_failures.get(name, 0) + 1
            st.image_failures[name] = n
            st.waiting[name] = (err.reason, str(err))
            delay = min(S.BACKOFF_MAX, S.BACKOFF_INITIAL * 2 ** (n - 1))
            if n > 1:
                st.waiting[name] = ("ImagePullBackOff", f'Back-off pulling image "{c.get("image")}"')
                self._event(pod, "Normal", "BackOff", f'Back-off pulling image "{c.get("image")}"')
            self.workers.enqueue_after(uid, delay)
            return False
        try:
            cid = await self.runtime.create_container(sandbox_id, config, sb_config)
        except RuntimeError_ as err:
            st.waiting[name] = ("CreateContainerError", str(err))
            self._event(pod, "Warning", "Failed", f"Error: {err}")
            self.workers.enqueue_after(uid, CONFIG_RETRY)
            return False
        self._event(pod, "Normal", "Created", f"Created container {name}")
        try:
            await self.runtime.start_container(cid)
        except RuntimeError_ as err:
            st.waiting.pop(name, None)
            self._event(pod, "Warning", "Failed", f"Error: failed to start container {name}: {err}")
            return False
        st.waiting.pop(name, None)
        self._event(pod, "Normal", "Started", f"Started container {name}")
        hook = (c.get("lifecycle") or {}).get("postStart") or {}
        if hook.get("exec"):
            cmd = [str(a) for a in hook["exec"].get("command") or []]
            try:
                result = await self.runtime.exec_sync(cid, cmd, 30)
                failed = f"exit code {result.exit_code}" if result.exit_code != 0 else ""
            except RuntimeError_ as err:
                failed = str(err)
            if failed:
                self._event(pod, "Warning", "FailedPostStartHook", f"PostStartHook failed: {failed}")
                await self.runtime.stop_container(cid, S.grace_period(pod))
        return True

    async def _stop_containers(self, pod: Obj, items: list[tuple[Obj | None, ContainerStatus]], grace: int,
                               reason: str = "") -> None:
        """preStop hooks, then SIGTERM and SIGKILL after what is left of the grace period."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace

        async def one(c: Obj | None, cs: ContainerStatus) -> None:
            self._event(pod, "Normal", "Killing", reason or f"Stopping container {cs.name}")
            hook = ((c or {}).get("lifecycle") or {}).get("preStop") or {}
            try:
                if hook.get("exec"):
                    cmd = [str(a) for a in hook["exec"].get("command") or []]
                    result = await asyncio.wait_for(self.runtime.exec_sync(cs.id, cmd, max(1, grace)), grace or 1)
                    if result.exit_code != 0:
                        self._event(pod, "Warning", "FailedPreStopHook",
                                    f"PreStopHook failed: exit code {result.exit_code}")
                elif hook.get("sleep"):
                    await asyncio.sleep(min(float(hook["sleep"].get("seconds") or 0), grace))
            except (TimeoutError, RuntimeError_) as err:
                self._event(pod, "Warning", "FailedPreStopHook", f"PreStopHook failed: {err}")
            remaining = max(0, int(round(deadline - loop.time())))
            await self.runtime.stop_container(cs.id, remaining)

        await asyncio.gather(*(one(c, cs) for c, cs in items))

    def _stop_probes(self, st: PodState, keep: set[str] | None = None) -> None:
        for key, (cid, task) in list(st.probes.items()):
            if keep is None or cid not in keep:
                task.cancel()
                del st.probes[key]

    def _ensure_probes(self, pod: Obj, st: PodState, c: Obj, running: ContainerStatus, sandbox_id: str) -> None:
        for kind, key in PROBE_KEYS:
            probe = c.get(key)
            if not probe:
                continue
            current = st.probes.get((str(c["name"]), kind))
            if current is not None and current[0] == running.id:
                continue
            if current is not None:
                current[1].cancel()
            task = asyncio.create_task(self._probe_loop(pod, st, c, kind, probe, running.id, sandbox_id),
                                       name=f"probe:{st.uid}:{c['name']}:{kind}")
            st.probes[(str(c["name"]), kind)] = (running.id, task)

    def _probe_ok(self, st: PodState, name: str, kind: str, cid: str, default: bool) -> bool:
        result = st.probe_result.get((name, kind))
        if result is None or result[0] != cid:
            return default
        return result[1]

    async def _probe_loop(self, pod: Obj, st: PodState, c: Obj, kind: str, probe: Obj, cid: str,
                          sandbox_id: str) -> None:
        name = str(c["name"])
        period = max(1.0, float(probe.get("periodSeconds") or 10))
        success_threshold = int(probe.get("successThreshold") or 1)
        failure_threshold = int(probe.get("failureThreshold") or 3)
        await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
        successes = failures = 0
        while True:
            if kind != STARTUP and c.get("startupProbe") and not self._probe_ok(st, name, STARTUP, cid, False):
                await asyncio.sleep(min(period, 1.0))
                continue
            result = await run_probe(self.runtime, probe, c, cid, sandbox_id)
            if result.ok:
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
                self._event(pod, "Warning", "Unhealthy", f"{kind} probe failed: {result.message}")
            current = st.probe_result.get((name, kind))
            value = current[1] if current is not None and current[0] == cid else None
            if result.ok and successes >= success_threshold:
                value_new: bool | None = True
            elif not result.ok and failures >= failure_threshold:
                value_new = False
            else:
                value_new = value
            if value_new is not None and value_new != value:
                st.probe_result[(name, kind)] = (cid, value_new)
                self.workers.enqueue(st.uid)
            if kind == STARTUP and value_new is True:
                return
            if kind in (LIVENESS, STARTUP) and value_new is False:
                return
            await asyncio.sleep(period)

    # -- the sync of one pod ---------------------------------------------------------------------

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

    # -- mirror pods -----------------------------------------------------------------------------

    async def _sync_mirror(self, pod: Obj) -> None:
        if self.client is None or self.informer is None or not self._api_synced:
            return
        meta = pod["metadata"]
        ns, name, uid = str(meta["namespace"]), str(meta["name"]), str(meta["uid"])
        current = self.informer.store.get_by(ns, name)
        if current is not None:
            cmeta = current.get("metadata") or {}
            if (cmeta.get("annotations") or {}).get("kubernetes.io/config.mirror") == uid \
                    and not cmeta.get("deletionTimestamp"):
                return
            with contextlib.suppress(ApiError):
                await self.client.delete(PODS, name, ns, grace_period_seconds=0,
                                         preconditions={"uid": cmeta.get("uid")})
        try:
            await self.client.create(PODS, mirror_pod(pod, self.node_uid), ns)
        except ApiError as err:
            # 409: the old mirror is still being removed; anything else: the server is unwell. Retry.
            raise OSError(f"creating mirror pod {ns}/{name}: {err}") from None

    async def _delete_mirror(self, pod: Obj) -> None:
        if self.client is None or self.informer is None:
            return
        meta = pod["metadata"]
        current = self.informer.store.get_by(str(meta["namespace"]), str(meta["name"]))
        if current is None:
            return
        if ((current.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/config.mirror") \
                != meta["uid"]:
            return
        with contextlib.suppress(ApiError):
            await self.client.delete(PODS, str(meta["name"]), str(meta["namespace"]), grace_period_seconds=0,
                                     preconditions={"uid": current["metadata"]["uid"]})

    # -- a running pod ---------------------------------------------------------------------------

    async def _sync_running(self, pod: Obj, st: PodState, sandboxes: list[PodSandboxStatus],
                            containers: list[ContainerStatus]) -> None:
        spec = pod.get("spec") or {}
        uid = st.uid
        policy = str(spec.get("restartPolicy") or "Always")
        host_network = bool(spec.get("hostNetwork"))
        ready = [s for s in sandboxes if s.state == SandboxState.READY]
        if len(ready) > 1:
            ready.sort(key=lambda s: s.created_at)
        terminal = st.phase in ("Succeeded", "Failed")
        if terminal:
            self._stop_probes(st)
            for sb in ready:
                await self.runtime.stop_pod_sandbox(sb.id)
            sandbox = None
        elif ready:
            sandbox = ready[-1]
            for extra in ready[:-1]:  # a second ready sandbox (e.g. an interrupted run): drop it
                await self.runtime.stop_pod_sandbox(extra.id)
        else:
            sandbox = None
        # the sandbox config is needed only to create a sandbox or a container: most syncs do neither
        built: list[PodSandboxConfig] = []

        def sb_config() -> PodSandboxConfig:
            if not built:
                built.append(self._sandbox_config(pod, len(sandboxes)))
            return built[0]

        if sandbox is None and not terminal:
            # (Re)create the sandbox; containers of an old sandbox are stopped and start again.
            old = [(None, c) for c in containers if c.state in (ContainerState.RUNNING, ContainerState.CREATED)]
            if old:
                await asyncio.gather(*(self.runtime.stop_container(c.id, 0) for _, c in old))
            for sb in sandboxes:
                await self.runtime.stop_pod_sandbox(sb.id)
            try:
                sid = await self.runtime.run_pod_sandbox(sb_config())
            except RuntimeError_ as err:
                self._event(pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {err}")
                raise OSError(f"creating the sandbox of {uid} failed: {err}") from None
            sandbox = await self.runtime.pod_sandbox_status(sid)
            if sandboxes:  # old sandboxes and their containers are history now
                containers = await self.runtime.list_containers(labels={S.LABEL_POD_UID: uid})
                for sb in sandboxes:
                    for c in containers:
                        if c.sandbox_id == sb.id:
                            await self.runtime.remove_container(c.id)
                    await self.runtime.remove_pod_sandbox(sb.id)
            containers = []  # a new sandbox has no containers yet
        if st.start_time is None:
            st.start_time = (pod.get("status") or {}).get("startTime") or now_ts()
        pod_ip = ""
        if sandbox is not None:
            if host_network:
                pod_ip = self.node_ip
            elif st.pod_ip[0] == sandbox.id:
                pod_ip = st.pod_ip[1]
            else:
                pod_ip = sandbox.ip or (await self.runtime.pod_sandbox_status(sandbox.id)).ip
                st.pod_ip = (sandbox.id, pod_ip)
        else:
            pod_ip = st.pod_ip[1]
        current = [c for c in containers if sandbox is not None and c.sandbox_id == sandbox.id] \
            if sandbox is not None else containers
        histories = _histories(current)
        acted = False
        if sandbox is not None:
            acted = await self._act(pod, st, policy, sandbox.id, sb_config, pod_ip, histories)
        if acted:
            containers = await self.runtime.list_containers(labels={S.LABEL_POD_UID: uid})
            histories = _histories([c for c in containers if sandbox is not None and c.sandbox_id == sandbox.id])
        await self._gc_containers(histories)
        await self._report(pod, st, policy, sandbox, pod_ip, histories)

    async def _act(self, pod: Obj, st: PodState, policy: str, sandbox_id: str, sb_config: Callable[[], PodSandboxConfig],
                   pod_ip: str, histories: dict[str, list[ContainerStatus]]) -> bool:
        """Start, restart or kill containers; True when something was started or stopped."""
        spec = pod.get("spec") or {}
        acted = False
        loop = asyncio.get_running_loop()
        for c in spec.get("initContainers") or []:
            name = str(c["name"])
            history = histories.get(name, [])
            if not history:
                return await self._start_container(pod, st, c, sandbox_id, sb_config, pod_ip, 0, True) or True
            latest = history[0]
            if latest.state in (ContainerState.RUNNING, ContainerState.UNKNOWN):
                return acted
            if latest.state == ContainerState.CREATED:
                with contextlib.suppress(RuntimeError_):
                    await self.runtime.start_container(latest.id)
                return True
            full = await self.runtime.container_status(latest.id)
            if full.exit_code == 0:
                continue
            if policy == "Never":
                return acted
            return await self._restart(pod, st, c, full, sandbox_id, sb_config, pod_ip, True, loop.time())
        for c in spec.get("containers") or []:
            name = str(c["name"])
            history = histories.get(name, [])
            if not history:
                acted = await self._start_container(pod, st, c, sandbox_id, sb_config, pod_ip, 0, False) or acted
                continue
            latest = history[0]
            if latest.state == ContainerState.CREATED:
                with contextlib.suppress(RuntimeError_):
                    await self.runtime.start_container(latest.id)
                acted = True
                continue
            if latest.state == ContainerState.RUNNING:
                live = self._probe_ok(st, name, LIVENESS, latest.id, True)
                started = self._probe_ok(st, name, STARTUP, latest.id, True)
                if live and started:
                    continue
                kind = "liveness" if not live else "startup"
                await self._stop_containers(pod, [(c, latest)], S.grace_period(pod),
                                            f"Container {name} failed {kind} probe, will be restarted")
                acted = True
            if latest.state == ContainerState.UNKNOWN:
                continue
            full = await self.runtime.container_status(latest.id)
            if full.state != ContainerState.EXITED:
                continue
            if st.seen_exit.get(name) != full.id and full.reason == "OOMKilled":
                self._event(pod, "Warning", "OOMKilling", f"Container {name} was killed: out of memory")
            if not S.should_restart(policy, full.exit_code):
                st.seen_exit[name] = full.id
                continue
            acted = await self._restart(pod, st, c, full, sandbox_id, sb_config, pod_ip, False, loop.time()) or acted
        return acted

    async def _restart(self, pod: Obj, st: PodState, c: Obj, exited: ContainerStatus, sandbox_id: str,
                       sb_config: Callable[[], PodSandboxConfig], pod_ip: str, init: bool, now: float) -> bool:
        name = str(c["name"])
        backoff = st.backoff.setdefault(name, S.Backoff())
        if st.seen_exit.get(name) != exited.id:
            st.seen_exit[name] = exited.id
            if exited.started_at and exited.finished_at:
                backoff.ran_for((exited.finished_at - exited.started_at) / 1e9)
        wait = backoff.remaining(now)
        if wait > 0:
            meta = pod["metadata"]
            message = (f"back-off {int(backoff.delay)}s restarting failed container={name} "
                       f"pod={meta['name']}_{meta.get('namespace')}({st.uid})")
            if st.waiting.get(name, ("", ""))[0] != "CrashLoopBackOff":
                self._event(pod, "Warning", "BackOff", f"Back-off restarting failed container {name} in pod "
                                                       f"{meta['name']}_{meta.get('namespace')}({st.uid})")
            st.waiting[name] = ("CrashLoopBackOff", message)
            self.workers.enqueue_after(st.uid, wait)
            return False
        backoff.restarted(now)
        return await self._start_container(pod, st, c, sandbox_id, sb_config, pod_ip, exited.attempt + 1, init)

    async def _gc_containers(self, histories: dict[str, list[ContainerStatus]]) -> None:
        """Keep the newest two containers per name (current and previous); remove older exited ones."""
        for history in histories.values():
            for old in history[2:]:
                if old.state == ContainerState.EXITED:
                    with contextlib.suppress(RuntimeError_):
                        await self.runtime.remove_container(old.id)

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
