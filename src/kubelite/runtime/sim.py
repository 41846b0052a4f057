"""An in-memory `Runtime`: simulated containers for thousands of simulated nodes in one process.

Nothing runs. A container is a small record of timestamps, and its state is computed when asked:
it is CREATED until `start_latency` after StartContainer, then RUNNING, then EXITED when a stop
came or when its configured lifetime ends. So a node costs no task, timer or thread per
container, and a status read is a few comparisons (the KWOK idea).

A test (or a demo) steers a container through its annotations or environment (the kubelet passes
pod annotations down to the container config):

- ``kubelite.io/sim-exit-code: "1"`` (env ``KUBELITE_SIM_EXIT_CODE``): exit with that code,
- ``kubelite.io/sim-exit-after: "2s"`` (env ``KUBELITE_SIM_EXIT_AFTER``): after running that long
  (default 0 once an exit code is given; units ms, s, m, h),
- ``kubelite.io/sim-oom: "true"``: exit 137 with reason OOMKilled (after sim-exit-after).

An image whose name contains ``sim-pull-fail`` cannot be pulled (for ImagePullBackOff tests).

Cost per call: sandboxes and containers are indexed by the pod-uid label and containers by
sandbox, so the kubelet's per-pod calls (`list_containers(labels={uid})`) cost O(that pod), not
O(node). `change_token()` changes whenever a listing could look different (a write, or a
container reaching its start or exit instant), so the kubelet's periodic relist can skip a node
where nothing happened; `pod_changes(cursor)` says which pods changed since a cursor, so a relist
of a node where something happened lists those pods only (the idea of Kubernetes' evented PLEG,
where the runtime reports container events instead of the kubelet listing everything).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import heapq
import ipaddress
import itertools
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

from kubelite.runtime.types import (
    REASON_OOM_KILLED,
    ContainerConfig,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    ExecResult,
    Image,
    LogOptions,
    NodeStats,
    NotFoundError,
    PodSandboxConfig,
    PodSandboxStatus,
    Runtime,
    RuntimeError_,
    RuntimeVersion,
    SandboxState,
    UnsupportedError,
)

ANNOTATION_EXIT_CODE = "kubelite.io/sim-exit-code"
ANNOTATION_EXIT_AFTER = "kubelite.io/sim-exit-after"
ANNOTATION_OOM = "kubelite.io/sim-oom"
ENV_EXIT_CODE = "KUBELITE_SIM_EXIT_CODE"
ENV_EXIT_AFTER = "KUBELITE_SIM_EXIT_AFTER"
PULL_FAIL_MARKER = "sim-pull-fail"
#: CPU a running simulated container is said to use, in core-nanoseconds per second
SIM_CPU_NS_PER_S = 1_000_000
SIM_MEMORY_BYTES = 1 << 20
#: the label the kubelet puts on every sandbox and container (indexed: per-pod calls are O(pod))
LABEL_POD_UID = "io.kubernetes.pod.uid"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_NS = {"ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_FOREVER = 1 << 127
#: pods the change journal holds at most when nobody reads it (older changes: "unknown, list all")
JOURNAL_MAX = 1024


def parse_duration_ns(text: str) -> int:
    """"2s", "500ms", "1.5m", "3" (seconds) -> nanoseconds; ValueError otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r} (want e.g. 500ms, 2s, 1m)")
    return int(float(match.group(1)) * _UNIT_NS[match.group(2) or "s"])


@functools.lru_cache(maxsize=1024)
def _image_id(image: str) -> str:
    """The image's simulated digest (cached: every container status carries it, and a fleet runs few images)."""
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def _sim_id(prefix: str, counter: int) -> str:
    return hashlib.sha256(f"{prefix}-{counter}".encode()).hexdigest()


@dataclass(slots=True)
class _Sandbox:
    id: str
    name: str
    uid: str
    namespace: str
    attempt: int
    labels: dict[str, str]
    annotations: dict[str, str]
    created_at: int
    ip: str
    ready: bool = True
    #: the status last built (None: build it again; cleared by every write to the record)
    status: PodSandboxStatus | None = None


@dataclass(slots=True)
class _Container:
    id: str
    sandbox_id: str
    name: str
    attempt: int
    image: str
    labels: dict[str, str]
    annotations: dict[str, str]
    created_at: int
    log_path: str
    #: when StartContainer was called (0: not yet)
    start_called: int = 0
    #: when StopContainer was called (0: not yet)
    stopped_at: int = 0
    #: exit after running this long (None: run until stopped)
    exit_after: int | None = None
    exit_code: int = 0
    oom: bool = False
    #: the status last built and the instant (ns) until which it holds (its next timed
    #: transition); cleared by every write to the record
    status: ContainerStatus | None = None
    status_until: int = 0


@dataclass(slots=True)
class _View:
    """A container's state at one instant, derived from its timestamps."""

    state: ContainerState
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""


@dataclass
class SimExecSession:
    """The output of a simulated command, already complete."""

    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader | None
    exit_code: int
    stdin: asyncio.StreamWriter | None = None
    closed: bool = field(default=False)

    async def wait(self) -> int:
        return self.exit_code

    def resize(self, width: int, height: int) -> None:
        return None

    async def close(self) -> None:
        self.closed = True


class SimRuntime:
    """The in-memory runtime of one simulated node (see the module docstring)."""

    def __init__(
        self,
        pod_cidr: str = "10.42.0.0/24",
        *,
        start_latency: float = 0.2,
        clock: Callable[[], int] = time.time_ns,
        cpu_count: int = 4,
        memory_bytes: int = 16 << 30,
        node_name: str = "sim",
        images_present: bool = False,
    ) -> None:
        try:
            network = ipaddress.ip_network(pod_cidr, strict=False)
        except ValueError as err:
            raise ValueError(f"invalid pod CIDR {pod_cidr!r}: {err}") from err
        self._network = network
        self._num_addresses = network.num_addresses  # (a property that computes it on each read)
        self._next_host = 2  # .1 is the bridge/gateway, as with the CNI bridge plugin
        self._free_ips: list[str] = []
        self._latency_ns = int(start_latency * 1e9)
        self._clock = clock
        self._counter = itertools.count(1)
        self._node = node_name
        self._sandboxes: dict[str, _Sandbox] = {}
        self._containers: dict[str, _Container] = {}
        # indexes (dicts used as insertion-ordered sets): pod uid -> ids, sandbox id -> container ids
        self._sandboxes_by_uid: dict[str, dict[str, None]] = {}
        self._containers_by_uid: dict[str, dict[str, None]] = {}
        self._containers_by_sandbox: dict[str, dict[str, None]] = {}
        # change tracking: bumped on every write and when a timed transition (start, exit) passes
        self._generation = 0
        self._transitions: list[tuple[int, str]] = []  # a heap of (instant ns, pod uid) when a state flips
        # the change journal: pod uid -> generation of its last change, oldest change first; changes
        # at or before `_journal_floor` are no longer in it (a cursor that old gets "unknown")
        self._journal: dict[str, int] = {}
        self._journal_floor = 0
        self._images: dict[str, Image] = {}
        #: the images `images_present` says are there without a pull (not listed, as before)
        self._assumed: dict[str, Image] = {}
        #: every image (but a ``sim-pull-fail`` one) is already on the machine, as on a node whose
        #: images were imported ahead (the kubelet then says "already present", as the real one does)
        self.images_present = images_present
        #: called with the instant (ns, this runtime's clock; 0: now) from which a listing may differ:
        #: lets one driver of many nodes relist only the nodes whose runtime changed
        self.on_change: Callable[[int], None] | None = None
        self.cpu_count = cpu_count
        self.memory_bytes = memory_bytes

    # -- helpers

    def _allocate_ip(self) -> str:
        if self._free_ips:
            return self._free_ips.pop()
        if self._next_host >= self._num_addresses - 1:
            raise RuntimeError_(f"no free IP address left in pod CIDR {self._network}")
        ip = str(self._network.network_address + self._next_host)
        self._next_host += 1
        return ip

    def _sandbox(self, sandbox_id: str) -> _Sandbox:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            raise NotFoundError(f"pod sandbox {sandbox_id} not found")
        return sandbox

    def _container(self, container_id: str) -> _Container:
        container = self._containers.get(container_id)
        if container is None:
            raise NotFoundError(f"container {container_id} not found")
        return container

    def _changed(self, uid: str | None) -> None:
        """A write changed what pod `uid` lists as (None: a record with no pod-uid label)."""
        self._generation += 1
        self._journal_note(uid)
        if self.on_change is not None:
            self.on_change(0)

    def _journal_note(self, uid: str | None) -> None:
        journal = self._journal
        if uid is None:  # not attributable to a pod: every cursor before it must list everything
            self._journal_floor = self._generation
            return
        journal.pop(uid, None)
        journal[uid] = self._generation
        if len(journal) > JOURNAL_MAX:  # nobody reads it: forget the oldest change
            oldest = next(iter(journal))
            self._journal_floor = max(self._journal_floor, journal.pop(oldest))

    def _transition_at(self, instant: int, uid: str | None) -> None:
        heapq.heappush(self._transitions, (instant, uid or ""))
        if self.on_change is not None:
            self.on_change(instant)

    def _flush_transitions(self) -> None:
        """Count the timed transitions that have passed as changes of their pods."""
        now = self._clock()
        heap = self._transitions
        if heap and heap[0][0] <= now:
            self._generation += 1
            while heap and heap[0][0] <= now:
                self._journal_note(heapq.heappop(heap)[1] or None)

    async def close(self) -> None:
        """Nothing to release: the simulated containers live in this object."""

    def change_token(self) -> int:
        """A number that changes whenever a listing could differ from the last one (see module doc)."""
        self._flush_transitions()
        return self._generation

    def pod_changes(self, since: int | None) -> tuple[int, list[str] | None]:
        """(cursor now, uids of the pods whose listing may have changed after cursor `since`).

        The uids are None when that is not known (`since` None, or older than what the journal
        still holds): the caller then lists everything. A pod in the list may list as before (a
        container started but is still starting) or no longer exist. Changes up to `since` are
        dropped from the journal: it holds what the kubelet has not seen, not the node's history."""
        self._flush_transitions()
        now = self._generation
        if since is None or since < self._journal_floor or since > now:
            return now, None
        journal = self._journal
        uids: list[str] = []
        for uid in reversed(journal):
            if journal[uid] <= since:
                break
            uids.append(uid)
        if len(uids) < len(journal):
            self._journal = {uid: journal[uid] for uid in reversed(uids)}
            self._journal_floor = max(self._journal_floor, since)
        return now, uids

    @staticmethod
    def _index_add(index: dict[str, dict[str, None]], key: str, value: str) -> None:
        index.setdefault(key, {})[value] = None

    @staticmethod
    def _index_remove(index: dict[str, dict[str, None]], key: str, value: str) -> None:
        bucket = index.get(key)
        if bucket is not None:
            bucket.pop(value, None)
            if not bucket:
                del index[key]

    def _view(self, c: _Container, now: int) -> _View:
        if not c.start_called:
            if c.stopped_at:
                return _View(ContainerState.EXITED, finished_at=c.stopped_at, exit_code=0, reason="Completed")
            return _View(ContainerState.CREATED)
        started = c.start_called + self._latency_ns
        natural_end = started + c.exit_after if c.exit_after is not None else None
        if c.stopped_at and c.stopped_at < started:
            return _View(ContainerState.EXITED, finished_at=c.stopped_at, reason="Completed")
        if c.stopped_at and (natural_end is None or c.stopped_at < natural_end):
            return _View(ContainerState.EXITED, started, c.stopped_at, 0, "Completed")
        if natural_end is not None and now >= natural_end:
            if c.oom:
                return _View(ContainerState.EXITED, started, natural_end, 137, REASON_OOM_KILLED)
            reason = "Completed" if c.exit_code == 0 else "Error"
            return _View(ContainerState.EXITED, started, natural_end, c.exit_code, reason)
        if now < started:
            return _View(ContainerState.CREATED)
        return _View(ContainerState.RUNNING, started_at=started)

    def _status(self, c: _Container, now: int) -> ContainerStatus:
        """The container's status at `now`, built once per state: between two writes a status only
        changes at the container's start and exit instants, and the kubelet asks for it several
        times per pod sync and relist. Callers share the returned object: they read it, never
        change it (as they would not change a CRI response)."""
        cached = c.status
        if cached is not None and now < c.status_until:
            return cached
        status = self._build_status(c, now)
        c.status = status
        c.status_until = self._next_transition(c, now)
        return status

    def _next_transition(self, c: _Container, now: int) -> int:
        """The first instant after `now` at which `_view(c)` may differ (no write in between)."""
        if not c.start_called:
            return _FOREVER
        started = c.start_called + self._latency_ns
        if now < started:
            return started
        if c.exit_after is not None and not c.stopped_at and now < started + c.exit_after:
            return started + c.exit_after
        return _FOREVER

    def _build_status(self, c: _Container, now: int) -> ContainerStatus:
        v = self._view(c, now)
        return ContainerStatus(
            id=c.id,
            sandbox_id=c.sandbox_id,
            name=c.name,
            attempt=c.attempt,
            state=v.state,
            image=c.image,
            image_ref=self._image_id(c.image),
            created_at=c.created_at,
            started_at=v.started_at,
            finished_at=v.finished_at,
            exit_code=v.exit_code,
            reason=v.reason,
            labels=dict(c.labels),
            annotations=dict(c.annotations),
            log_path=c.log_path,
        )

    def _sandbox_status(self, s: _Sandbox) -> PodSandboxStatus:
        if s.status is None:
            s.status = self._build_sandbox_status(s)
        return s.status

    def _build_sandbox_status(self, s: _Sandbox) -> PodSandboxStatus:
        return PodSandboxStatus(
            id=s.id,
            name=s.name,
            uid=s.uid,
            namespace=s.namespace,
            attempt=s.attempt,
            state=SandboxState.READY if s.ready else SandboxState.NOTREADY,
            created_at=s.created_at,
            ip=s.ip,
            labels=dict(s.labels),
            annotations=dict(s.annotations),
        )

    @staticmethod
    def _image_id(image: str) -> str:
        return _image_id(image)

    # -- runtime

    async def version(self) -> RuntimeVersion:
        return RuntimeVersion("kubelite-sim", "0.1.0", "v1")

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        sandbox_id = _sim_id(f"{self._node}-sandbox", next(self._counter))
        uid = config.labels.get(LABEL_POD_UID)
        if uid is not None:
            self._index_add(self._sandboxes_by_uid, uid, sandbox_id)
        self._changed(uid)
        self._sandboxes[sandbox_id] = _Sandbox(
            id=sandbox_id,
            name=config.name,
            uid=config.uid,
            namespace=config.namespace,
            attempt=config.attempt,
            labels=dict(config.labels),
            annotations=dict(config.annotations),
            created_at=self._clock(),
            ip="" if config.linux.host_network else self._allocate_ip(),
        )
        return sandbox_id

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None or not sandbox.ready:
            return
        now = self._clock()
        for cid in self._containers_by_sandbox.get(sandbox_id, ()):
            c = self._containers[cid]
            if not c.stopped_at:
                c.stopped_at = now
                c.status = None
        sandbox.ready = False
        sandbox.status = None
        self._changed(sandbox.labels.get(LABEL_POD_UID))
        if sandbox.ip:
            self._free_ips.append(sandbox.ip)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        if sandbox_id not in self._sandboxes:
            return
        await self.stop_pod_sandbox(sandbox_id)
        for cid in list(self._containers_by_sandbox.get(sandbox_id, ())):
            await self.remove_container(cid)
        self._containers_by_sandbox.pop(sandbox_id, None)
        sandbox = self._sandboxes.pop(sandbox_id)
        uid = sandbox.labels.get(LABEL_POD_UID)
        if uid is not None:
            self._index_remove(self._sandboxes_by_uid, uid, sandbox_id)
        self._changed(uid)

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        return self._sandbox_status(self._sandbox(sandbox_id))

    async def list_pod_sandboxes(self, labels: dict[str, str] | None = None) -> list[PodSandboxStatus]:
        want = (labels or {}).items()
        uid = (labels or {}).get(LABEL_POD_UID)
        if uid is not None:
            candidates = [self._sandboxes[i] for i in self._sandboxes_by_uid.get(uid, ())]
            if len(want) == 1:  # the kubelet's per-pod call: the index already matched the only label
                return [self._sandbox_status(s) for s in candidates]
        else:
            candidates = list(self._sandboxes.values())
        return [self._sandbox_status(s) for s in candidates if want <= s.labels.items()]

    # -- containers

    async def create_container(self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig) -> str:
        sandbox = self._sandbox(sandbox_id)
        if not sandbox.ready:
            raise RuntimeError_(f"pod sandbox {sandbox.namespace}/{sandbox.name} is not ready")
        if (await self.image_status(config.image)) is None \
                and not any(config.image in i.repo_tags for i in self._images.values()):
            raise NotFoundError(f"image {config.image} not present: pull it first")
        exit_code_text = config.annotations.get(ANNOTATION_EXIT_CODE, config.envs.get(ENV_EXIT_CODE))
        exit_after_text = config.annotations.get(ANNOTATION_EXIT_AFTER, config.envs.get(ENV_EXIT_AFTER))
        oom = config.annotations.get(ANNOTATION_OOM, "").lower() == "true"
        try:
            exit_code = int(exit_code_text) if exit_code_text is not None else 0
            exit_after = parse_duration_ns(exit_after_text) if exit_after_text is not None else None
        except ValueError as err:
            raise RuntimeError_(f"container {config.name}: bad simulation setting: {err}") from err
        if exit_after is None and (exit_code_text is not None or oom):
            exit_after = 0
        container_id = _sim_id(f"{self._node}-container", next(self._counter))
        self._index_add(self._containers_by_sandbox, sandbox_id, container_id)
        uid = config.labels.get(LABEL_POD_UID)
        if uid is not None:
            self._index_add(self._containers_by_uid, uid, container_id)
        self._changed(uid)
        log_path = f"{sandbox_id}/{config.log_path}" if config.log_path else ""
        self._containers[container_id] = _Container(
            id=container_id,
            sandbox_id=sandbox_id,
            name=config.name,
            attempt=config.attempt,
            image=config.image,
            labels=dict(config.labels),
            annotations=dict(config.annotations),
            created_at=self._clock(),
            log_path=log_path,
            exit_after=exit_after,
            exit_code=exit_code,
            oom=oom,
        )
        return container_id

    async def start_container(self, container_id: str) -> None:
        c = self._container(container_id)
        if c.start_called:
            raise RuntimeError_(f"container {c.name} was already started")
        c.start_called = self._clock()
        c.status = None
        started = c.start_called + self._latency_ns
        uid = c.labels.get(LABEL_POD_UID)
        self._transition_at(started, uid)
        if c.exit_after is not None:
            self._transition_at(started + c.exit_after, uid)
        self._changed(uid)

    async def stop_container(self, container_id: str, grace_period: int) -> None:
        c = self._containers.get(container_id)
        if c is None:
            return
        if self._view(c, self._clock()).state in (ContainerState.CREATED, ContainerState.RUNNING):
            c.stopped_at = self._clock()
            c.status = None
            self._changed(c.labels.get(LABEL_POD_UID))

    async def remove_container(self, container_id: str) -> None:
        c = self._containers.pop(container_id, None)
        if c is None:
            return
        self._index_remove(self._containers_by_sandbox, c.sandbox_id, container_id)
        uid = c.labels.get(LABEL_POD_UID)
        if uid is not None:
            self._index_remove(self._containers_by_uid, uid, container_id)
        self._changed(uid)

    async def container_status(self, container_id: str) -> ContainerStatus:
        return self._status(self._container(container_id), self._clock())

    async def list_containers(
        self, sandbox_id: str | None = None, labels: dict[str, str] | None = None
    ) -> list[ContainerStatus]:
        now = self._clock()
        want = (labels or {}).items()
        uid = (labels or {}).get(LABEL_POD_UID)
        containers = self._containers
        if sandbox_id is not None:
            ids: Iterable[str] = self._containers_by_sandbox.get(sandbox_id, ())
        elif uid is not None:
            ids = self._containers_by_uid.get(uid, ())
            if len(want) == 1:  # the kubelet's per-pod call: the index already matched the only label
                return [self._status(containers[i], now) for i in ids]
        else:
            ids = self._containers
        return [
            self._status(c, now)
            for c in (containers[i] for i in ids)
            if (sandbox_id is None or c.sandbox_id == sandbox_id) and want <= c.labels.items()
        ]

    # -- exec, port-forward, logs

    def _run(self, container_id: str, cmd: list[str]) -> ExecResult:
        c = self._container(container_id)
        if self._view(c, self._clock()).state != ContainerState.RUNNING:
            raise RuntimeError_(f"container {c.name} is not running")
        if not cmd:
            raise RuntimeError_("exec needs a command")
        name, args = cmd[0].rsplit("/", 1)[-1], cmd[1:]
        if name == "echo":
            return ExecResult((" ".join(args) + "\n").encode(), b"", 0)
        if name == "false":
            return ExecResult(b"", b"", 1)
        if name == "hostname":
            return ExecResult((self._sandboxes[c.sandbox_id].name + "\n").encode(), b"", 0)
        return ExecResult(b"", b"", 0)

    async def exec_sync(self, container_id: str, cmd: list[str], timeout_seconds: int = 0) -> ExecResult:
        return self._run(container_id, cmd)

    async def exec_stream(
        self, container_id: str, cmd: list[str], *, tty: bool = False, stdin: bool = False
    ) -> SimExecSession:
        result = self._run(container_id, cmd)
        out = asyncio.StreamReader()
        out.feed_data(result.stdout)
        out.feed_eof()
        err: asyncio.StreamReader | None = None
        if not tty:
            err = asyncio.StreamReader()
            err.feed_data(result.stderr)
            err.feed_eof()
        return SimExecSession(stdout=out, stderr=err, exit_code=result.exit_code)

    async def port_forward(self, sandbox_id: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self._sandbox(sandbox_id)
        raise UnsupportedError("port-forward is not supported by the sim runtime (nothing listens)")

    def _log_lines(self, c: _Container) -> list[tuple[int, bytes]]:
        v = self._view(c, self._clock())
        lines = []
        if v.started_at:
            lines.append((v.started_at, f"sim: container {c.name} started\n".encode()))
        if v.finished_at and v.started_at:
            lines.append((v.finished_at, f"sim: container {c.name} exited with code {v.exit_code}\n".encode()))
        return lines

    async def read_logs(self, container_id: str, options: LogOptions) -> AsyncIterator[bytes]:
        c = self._container(container_id)
        sent = 0
        while True:
            lines = self._log_lines(c)
            if options.since_ns is not None:
                lines = [(t, line) for t, line in lines if t >= options.since_ns]
            if sent == 0 and options.tail is not None:
                skip = max(0, len(lines) - options.tail)
                lines, sent = lines[skip:], skip
            else:
                lines = lines[sent:]
            for t, line in lines:
                sent += 1
                if options.timestamps:
                    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 1_000_000_000))
                    line = f"{stamp}.{t % 1_000_000_000:09d}Z ".encode() + line
                yield line
            state = self._view(c, self._clock()).state
            if not options.follow or state == ContainerState.EXITED or container_id not in self._containers:
                return
            await asyncio.sleep(0.1)

    # -- images

    async def pull_image(self, image: str) -> str:
        if not image or PULL_FAIL_MARKER in image:
            raise RuntimeError_(f"failed to pull image {image!r}: not found (simulated)")
        image_id = self._image_id(image)
        existing = self._images.get(image_id)
        if existing is None:
            self._images[image_id] = Image(id=image_id, repo_tags=[image], repo_digests=[], size=1 << 20)
        return image_id

    async def list_images(self) -> list[Image]:
        return list(self._images.values())

    async def image_status(self, image: str) -> Image | None:
        found = self._images.get(image) or self._images.get(self._image_id(image))
        if found is None and self.images_present and image and PULL_FAIL_MARKER not in image:
            found = self._assumed.get(image)
            if found is None:  # built once per image: the kubelet asks for every container it creates
                found = self._assumed[image] = Image(id=self._image_id(image), repo_tags=[image], repo_digests=[],
                                                     size=1 << 20)
        return found

    async def remove_image(self, image: str) -> None:
        self._images.pop(image, None)
        self._images.pop(self._image_id(image), None)

    # -- stats

    def _stats(self, c: _Container, now: int) -> ContainerStats:
        v = self._view(c, now)
        running_ns = 0
        if v.started_at:
            running_ns = (v.finished_at or now) - v.started_at
        return ContainerStats(
            id=c.id,
            name=c.name,
            sandbox_id=c.sandbox_id,
            timestamp=now,
            cpu_usage_core_ns=running_ns * SIM_CPU_NS_PER_S // 1_000_000_000,
            memory_working_set_bytes=SIM_MEMORY_BYTES if v.state == ContainerState.RUNNING else 0,
            memory_usage_bytes=SIM_MEMORY_BYTES if v.state == ContainerState.RUNNING else 0,
        )

    async def container_stats(self, container_id: str) -> ContainerStats:
        return self._stats(self._container(container_id), self._clock())

    async def list_container_stats(self) -> list[ContainerStats]:
        now = self._clock()
        return [self._stats(c, now) for c in self._containers.values()]

    async def node_stats(self) -> NodeStats:
        stats = await self.list_container_stats()
        used = sum(s.memory_working_set_bytes for s in stats)
        return NodeStats(
            timestamp=self._clock(),
            cpu_usage_core_ns=sum(s.cpu_usage_core_ns for s in stats),
            cpu_count=self.cpu_count,
            memory_total_bytes=self.memory_bytes,
            memory_available_bytes=max(0, self.memory_bytes - used),
            memory_working_set_bytes=used,
        )


def _conforms(rt: SimRuntime) -> Runtime:
    """Static check (mypy) that SimRuntime implements the Runtime protocol."""
    return rt
