"""What the parts of the kubelet share: the state of one pod and the node's pod-level fields.

Kubernetes' counterpart: the `Kubelet` struct of pkg/kubelet/kubelet.go, whose methods are spread
over kubelet_pods.go, kuberuntime/, pleg/, status/... Here each part is a class in its own module,
stacked on this one (`probes.Prober` < `statusmanager.StatusManager` < `containerconfig.ContainerConfigs`
< `containers.ContainerManager` < `sources.PodSources` < `pleg.Pleg` < `podmanager.PodManager`),
so that each module names the fields it uses and a call costs no extra hop on the hot path.
The fields are set by `PodManager.__init__`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelite.client.events import EventRecorder
from kubelite.client.informer import Informer
from kubelite.client.rest import ApiClient
from kubelite.kubelet import spec as S
from kubelite.kubelet.static import StaticPodSource
from kubelite.kubelet.volumes import VolumeManager
from kubelite.kubelet.workers import PodWorkers, StatusWriter
from kubelite.runtime.types import Runtime

log = logging.getLogger(__name__)

Obj = dict[str, Any]
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


class KubeletBase:
    """The fields every part of the kubelet reads (see the module docstring)."""

    runtime: Runtime
    node_name: str
    data_dir: Path
    #: where sandboxes keep their logs (a string: joining Paths per pod cost more than the rest of its config)
    _logs_dir: str
    client: ApiClient | None
    recorder: EventRecorder | None
    node_ip: str
    relist_period: float
    resync_period: float
    allow_privileged: bool
    cluster_dns: str | None
    cluster_domain: str
    manage_files: bool
    runtime_timeout: float
    on_runtime_health: Callable[[bool, str], None] | None
    full_relist_period: float
    #: False: something else (`kubelite sim`'s fleet-wide tick) calls `pleg_tick()` instead of a timer here
    own_pleg_loop: bool
    _last_full_relist: float
    _last_resync: float
    node_uid: str | None
    node_allocatable: Obj
    volumes: VolumeManager
    workers: PodWorkers
    status_writer: StatusWriter
    informer: Informer | None
    static: StaticPodSource | None
    _api_pods: dict[str, Obj]
    _static_pods: dict[str, Obj]
    _states: dict[str, PodState]
    _static_seen: set[str]
    _signatures: dict[str, tuple[Any, ...]]
    _api_synced: bool
    _static_scanned: bool
    runtime_healthy: bool | None
    runtime_message: str
    _relist_token: object
    #: the runtime's change-journal cursor at the last relist (`Runtime.pod_changes`)
    _journal_cursor: int | None
    _tasks: list[asyncio.Task[None]]

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
