"""The runtime's vocabulary: a CRI-shaped async `Runtime` protocol and its plain dataclasses.

The kubelet speaks only this. Two implementations ship with kubelite: `kubelite.runtime.cri`
(gRPC to a real containerd, which drives runc) and `kubelite.runtime.sim` (containers in memory,
for thousands of simulated nodes). The shapes follow the Kubernetes CRI v1 API so that the
kubelet reads like the real one, but they are Python dataclasses: no protobuf leaks out.

Times are nanoseconds since the epoch (as in the CRI); 0 means "not set".
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

#: The reason a runtime gives for a container killed by the cgroup OOM killer.
REASON_OOM_KILLED = "OOMKilled"


class RuntimeError_(Exception):
    """Base of every runtime failure the kubelet may handle (the name avoids the builtin)."""


class NotFoundError(RuntimeError_):
    """The sandbox, container or image does not exist (any more)."""


class UnavailableError(RuntimeError_):
    """The runtime cannot be reached right now (containerd down or restarting): retry later."""


class UnsupportedError(RuntimeError_):
    """The runtime does not implement this call (e.g. port-forward in the sim runtime)."""


class ContainerState(enum.Enum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    EXITED = "EXITED"
    UNKNOWN = "UNKNOWN"


class SandboxState(enum.Enum):
    READY = "READY"
    NOTREADY = "NOTREADY"


class Protocol_(enum.Enum):
    """A port mapping's protocol (the trailing underscore avoids typing.Protocol)."""

    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


@dataclass(slots=True)
class DNSConfig:
    servers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PortMapping:
    container_port: int
    host_port: int = 0
    protocol: Protocol_ = Protocol_.TCP
    host_ip: str = ""


@dataclass(slots=True)
class LinuxSandboxOptions:
    """Linux options of a sandbox. `cgroup_parent` is cgroupfs style, e.g. /kubelite/pod<uid>."""

    cgroup_parent: str = ""
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    privileged: bool = False
    run_as_user: int | None = None
    sysctls: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class PodSandboxConfig:
    name: str
    uid: str
    namespace: str
    attempt: int = 0
    hostname: str = ""
    #: directory on the host under which container log files are written
    log_directory: str = ""
    dns: DNSConfig | None = None
    port_mappings: list[PortMapping] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    linux: LinuxSandboxOptions = field(default_factory=LinuxSandboxOptions)


@dataclass(slots=True)
class Mount:
    container_path: str
    host_path: str
    readonly: bool = False


@dataclass(slots=True)
class LinuxResources:
    """cgroup limits; 0 means unset. The kubelet converts pod quantities into these."""

    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    memory_limit_bytes: int = 0
    oom_score_adj: int = 0


@dataclass(slots=True)
class SecurityContext:
    run_as_user: int | None = None
    run_as_group: int | None = None
    privileged: bool = False
    readonly_rootfs: bool = False
    add_capabilities: list[str] = field(default_factory=list)
    drop_capabilities: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ContainerConfig:
    name: str
    image: str
    command: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    working_dir: str = ""
    envs: dict[str, str] = field(default_factory=dict)
    mounts: list[Mount] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    #: relative to the sandbox's log_directory, e.g. "<container>/<attempt>.log"
    log_path: str = ""
    attempt: int = 0
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    resources: LinuxResources = field(default_factory=LinuxResources)
    security: SecurityContext = field(default_factory=SecurityContext)


@dataclass(slots=True)
class PodSandboxStatus:
    id: str
    name: str
    uid: str
    namespace: str
    attempt: int
    state: SandboxState
    created_at: int
    ip: str = ""
    additional_ips: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    #: pid of the pause process when the runtime knows it (0 otherwise)
    pid: int = 0


@dataclass(slots=True)
class ContainerStatus:
    id: str
    sandbox_id: str
    name: str
    attempt: int
    state: ContainerState
    image: str
    image_ref: str = ""
    created_at: int = 0
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    #: CamelCase reason: "OOMKilled", "Error", "Completed"...
    reason: str = ""
    message: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    #: absolute path of the CRI-format log file ("" if none)
    log_path: str = ""
    #: pid of the container's init process when running and known (0 otherwise)
    pid: int = 0


@dataclass(slots=True, frozen=True)
class ExecResult:
    stdout: bytes
    stderr: bytes
    exit_code: int


@dataclass(slots=True, frozen=True)
class Image:
    id: str
    repo_tags: list[str]
    repo_digests: list[str]
    size: int


@dataclass(slots=True, frozen=True)
class ContainerStats:
    id: str
    name: str
    sandbox_id: str
    timestamp: int
    #: cumulative CPU time in core-nanoseconds since the container started
    cpu_usage_core_ns: int
    #: working set in bytes (what Kubernetes counts against memory limits)
    memory_working_set_bytes: int
    memory_usage_bytes: int = 0


@dataclass(slots=True, frozen=True)
class NodeStats:
    timestamp: int
    cpu_usage_core_ns: int
    cpu_count: int
    memory_total_bytes: int
    memory_available_bytes: int
    memory_working_set_bytes: int


@dataclass(slots=True, frozen=True)
class RuntimeVersion:
    runtime_name: str
    runtime_version: str
    runtime_api_version: str


@dataclass(slots=True, frozen=True)
class LogLine:
    """One line of a container log: `line` keeps its trailing newline (if any)."""

    timestamp: str
    stream: str
    line: bytes


@dataclass(slots=True, frozen=True)
class LogOptions:
    follow: bool = False
    #: last N lines only (None: all)
    tail: int | None = None
    #: RFC 3339 timestamps in front of each line, as `kubectl logs --timestamps`
    timestamps: bool = False
    #: only lines at or after this time, nanoseconds since the epoch (None: all)
    since_ns: int | None = None
    #: stop after this many bytes of output (None: no limit)
    limit_bytes: int | None = None


class ExecSession(Protocol):
    """A running interactive command: the kubelet's server bridges it to kubectl's stream.

    With `tty` the process's stdout and stderr are one stream (stderr is None).
    """

    stdin: asyncio.StreamWriter | None
    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader | None

    async def wait(self) -> int:
        """Wait for the command to end; its exit code."""
        ...

    def resize(self, width: int, height: int) -> None:
        """Resize the terminal (tty sessions only; ignored otherwise)."""
        ...

    async def close(self) -> None:
        """Kill the command if it still runs and release its pipes."""
        ...


@runtime_checkable
class Runtime(Protocol):
    """What the kubelet needs from a container runtime (CRI-shaped).

    Every method raises NotFoundError for unknown ids and UnavailableError when the runtime
    cannot be reached; stop/remove calls are idempotent (no error when already gone).
    """

    async def version(self) -> RuntimeVersion: ...
    async def close(self) -> None:
        """Release the connection to the runtime (the runtime itself goes on)."""
        ...

    # -- what changed since the kubelet's last relist (its PLEG)
    def change_token(self) -> int | None:
        """A value that changes whenever a listing could differ from the last one; None: unknown
        (the kubelet then lists at every relist)."""
        ...

    def pod_changes(self, since: int | None) -> tuple[int, list[str] | None]:
        """(cursor now, uids of the pods whose listing may have changed after cursor `since`); the
        uids are None when that is not known (the kubelet then lists everything), as Kubernetes'
        evented PLEG would be told by the runtime's container events."""
        ...

    # -- sandboxes
    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str: ...
    async def stop_pod_sandbox(self, sandbox_id: str) -> None: ...
    async def remove_pod_sandbox(self, sandbox_id: str) -> None: ...
    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus: ...
    async def list_pod_sandboxes(self, labels: dict[str, str] | None = None) -> list[PodSandboxStatus]: ...

    # -- containers
    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str: ...
    async def start_container(self, container_id: str) -> None: ...
    async def stop_container(self, container_id: str, grace_period: int) -> None: ...
    async def remove_container(self, container_id: str) -> None: ...
    async def container_status(self, container_id: str) -> ContainerStatus: ...
    async def list_containers(
        self, sandbox_id: str | None = None, labels: dict[str, str] | None = None
    ) -> list[ContainerStatus]: ...

    # -- exec, attach, port-forward, logs
    async def exec_sync(self, container_id: str, cmd: list[str], timeout_seconds: int = 0) -> ExecResult: ...
    async def exec_stream(
        self, container_id: str, cmd: list[str], *, tty: bool = False, stdin: bool = False
    ) -> ExecSession: ...
    async def port_forward(
        self, sandbox_id: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]: ...
    def read_logs(self, container_id: str, options: LogOptions) -> AsyncIterator[bytes]: ...

    # -- images
    async def pull_image(self, image: str) -> str: ...
    async def list_images(self) -> list[Image]: ...
    async def image_status(self, image: str) -> Image | None: ...
    async def remove_image(self, image: str) -> None: ...

    # -- stats
    async def container_stats(self, container_id: str) -> ContainerStats: ...
    async def list_container_stats(self) -> list[ContainerStats]: ...
    async def node_stats(self) -> NodeStats: ...
