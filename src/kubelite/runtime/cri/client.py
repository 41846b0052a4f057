"""The `Runtime` protocol over CRI v1 gRPC to containerd (grpc.aio over its unix socket).

Only this package speaks to containerd. Conversions between the protobuf messages and
kubelite's dataclasses live here and nowhere else. What the CRI cannot give a Python kubelet
(byte-stream exec and port-forward) is done in `nsexec` from the process ids that containerd
reports in its verbose status.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import psutil

from kubelite.runtime.cri.nsexec import NsExecSession, connect_in_pod, exec_in_container
from kubelite.runtime.cri.pb import api_pb2 as pb
from kubelite.runtime.cri.pb import api_pb2_grpc as pb_grpc
from kubelite.runtime.logs import read_log_file
from kubelite.runtime.types import (
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
    UnavailableError,
)

log = logging.getLogger(__name__)

CRI_API_VERSION = "v1"
#: containerd namespace used by the CRI plugin (images must be imported there)
CRI_NAMESPACE = "k8s.io"
#: cgroup parent for pods whose config names none
DEFAULT_CGROUP_ROOT = "/kubelite"
_DEFAULT_TIMEOUT = 60.0
_MAX_MESSAGE = 16 * 1024 * 1024

_T = TypeVar("_T")

_CONTAINER_STATES = {
    pb.CONTAINER_CREATED: ContainerState.CREATED,
    pb.CONTAINER_RUNNING: ContainerState.RUNNING,
    pb.CONTAINER_EXITED: ContainerState.EXITED,
    pb.CONTAINER_UNKNOWN: ContainerState.UNKNOWN,
}


def _translate(err: grpc.aio.AioRpcError, what: str) -> RuntimeError_:
    code = err.code()
    detail = err.details() or str(code)
    if code == grpc.StatusCode.NOT_FOUND or "not found" in detail:
        return NotFoundError(f"{what}: {detail}")
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return UnavailableError(f"{what}: containerd unavailable: {detail}")
    return RuntimeError_(f"{what}: {detail}")


def _sandbox_config_pb(c: PodSandboxConfig) -> pb.PodSandboxConfig:
    linux = c.linux
    ns = pb.NamespaceOption(
        network=pb.NODE if linux.host_network else pb.POD,
        pid=pb.NODE if linux.host_pid else pb.CONTAINER,
        ipc=pb.NODE if linux.host_ipc else pb.POD,
    )
    sec = pb.LinuxSandboxSecurityContext(namespace_options=ns, privileged=linux.privileged)
    if linux.run_as_user is not None:
        sec.run_as_user.value = linux.run_as_user
    cgroup_parent = linux.cgroup_parent or f"{DEFAULT_CGROUP_ROOT}/pod{c.uid}"
    msg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=c.name, uid=c.uid, namespace=c.namespace, attempt=c.attempt),
        hostname=c.hostname,
        log_directory=c.log_directory,
        port_mappings=[
            pb.PortMapping(
                protocol=pb.Protocol.Value(p.protocol.value),
                container_port=p.container_port,
                host_port=p.host_port,
                host_ip=p.host_ip,
            )
            for p in c.port_mappings
        ],
        labels=c.labels,
        annotations=c.annotations,
        linux=pb.LinuxPodSandboxConfig(cgroup_parent=cgroup_parent, security_context=sec, sysctls=linux.sysctls),
    )
    if c.dns is not None:
        msg.dns_config.CopyFrom(pb.DNSConfig(servers=c.dns.servers, searches=c.dns.searches, options=c.dns.options))
    return msg


def _container_config_pb(c: ContainerConfig, sandbox: PodSandboxConfig) -> pb.ContainerConfig:
    r, s = c.resources, c.security
    sec = pb.LinuxContainerSecurityContext(
        privileged=s.privileged,
        readonly_rootfs=s.readonly_rootfs,
        namespace_options=pb.NamespaceOption(
            network=pb.NODE if sandbox.linux.host_network else pb.POD,
            pid=pb.NODE if sandbox.linux.host_pid else pb.CONTAINER,
            ipc=pb.NODE if sandbox.linux.host_ipc else pb.POD,
        ),
        capabilities=pb.Capability(add_capabilities=s.add_capabilities, drop_capabilities=s.drop_capabilities),
    )
    if s.run_as_user is not None:
        sec.run_as_user.value = s.run_as_user
    if s.run_as_group is not None:
        sec.run_as_group.value = s.run_as_group
    return pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=c.name, attempt=c.attempt),
        image=pb.ImageSpec(image=c.image),
        command=c.command,
        args=c.args,
        working_dir=c.working_dir,
        envs=[pb.KeyValue(key=k, value=v) for k, v in c.envs.items()],
        mounts=[
            pb.Mount(container_path=m.container_path, host_path=m.host_path, readonly=m.readonly) for m in c.mounts
        ],
        labels=c.labels,
        annotations=c.annotations,
        log_path=c.log_path,
        stdin=c.stdin,
        stdin_once=c.stdin_once,
        tty=c.tty,
        linux=pb.LinuxContainerConfig(
            resources=pb.LinuxContainerResources(
                cpu_period=r.cpu_period,
                cpu_quota=r.cpu_quota,
                cpu_shares=r.cpu_shares,
                memory_limit_in_bytes=r.memory_limit_bytes,
                oom_score_adj=r.oom_score_adj,
            ),
            security_context=sec,
        ),
    )


def _verbose_info(info: Any) -> dict[str, Any]:
    raw = info.get("info")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _image(msg: pb.Image) -> Image:
    return Image(id=msg.id, repo_tags=list(msg.repo_tags), repo_digests=list(msg.repo_digests), size=msg.size)


def _stats(msg: pb.ContainerStats, sandbox_ids: dict[str, str]) -> ContainerStats:
    return ContainerStats(
        id=msg.attributes.id,
        name=msg.attributes.metadata.name,
        sandbox_id=sandbox_ids.get(msg.attributes.id, ""),
        timestamp=msg.cpu.timestamp or time.time_ns(),
        cpu_usage_core_ns=msg.cpu.usage_core_nano_seconds.value,
        memory_working_set_bytes=msg.memory.working_set_bytes.value,
        memory_usage_bytes=msg.memory.usage_bytes.value,
    )


class CriRuntime:
    """kubelite's `Runtime` backed by containerd's CRI plugin at unix socket `address`."""

    def __init__(self, address: str | Path, timeout: float = _DEFAULT_TIMEOUT) -> None:
        self.address = str(address)
        self.timeout = timeout
        self._channel = grpc.aio.insecure_channel(
            f"unix://{self.address}",
            options=[
                ("grpc.max_receive_message_length", _MAX_MESSAGE),
                ("grpc.max_send_message_length", _MAX_MESSAGE),
            ],
        )
        self._rt = pb_grpc.RuntimeServiceStub(self._channel)
        self._img = pb_grpc.ImageServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    def change_token(self) -> int | None:
        """Unknown: containerd's CRI has no change counter, so every relist lists."""
        return None

    def pod_changes(self, since: int | None) -> tuple[int, list[str] | None]:
        """Unknown (CRI's GetContainerEvents stream is not used): every relist lists every pod."""
        return 0, None

    async def __aenter__(self) -> CriRuntime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, what: str, call: Callable[..., Awaitable[_T]], request: Any, rpc_timeout: float | None = None) -> _T:
        try:
            return await call(request, timeout=rpc_timeout or self.timeout)
        except grpc.aio.AioRpcError as err:
            raise _translate(err, what) from None

    # -- runtime

    async def version(self, rpc_timeout: float | None = None) -> RuntimeVersion:
        resp = await self._call("version", self._rt.Version, pb.VersionRequest(version=CRI_API_VERSION), rpc_timeout)
        return RuntimeVersion(resp.runtime_name, resp.runtime_version, resp.runtime_api_version)

    async def status(self) -> dict[str, bool]:
        """Runtime conditions (RuntimeReady, NetworkReady) as the node status reports them."""
        resp = await self._call("status", self._rt.Status, pb.StatusRequest())
        return {c.type: c.status for c in resp.status.conditions}

    # -- sandboxes

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        req = pb.RunPodSandboxRequest(config=_sandbox_config_pb(config))
        resp = await self._call(f"run sandbox {config.namespace}/{config.name}", self._rt.RunPodSandbox, req)
        return str(resp.pod_sandbox_id)

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        with contextlib.suppress(NotFoundError):
            await self._call(
                f"stop sandbox {sandbox_id}", self._rt.StopPodSandbox, pb.StopPodSandboxRequest(pod_sandbox_id=sandbox_id)
            )

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        cgroup_parent = ""
        with contextlib.suppress(NotFoundError):
            resp = await self._call(
                f"sandbox {sandbox_id}",
                self._rt.PodSandboxStatus,
                pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=True),
            )
            config = _verbose_info(resp.info).get("config", {})
            cgroup_parent = (config.get("linux") or {}).get("cgroup_parent", "")
        with contextlib.suppress(NotFoundError):
            await self._call(
                f"remove sandbox {sandbox_id}",
                self._rt.RemovePodSandbox,
                pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id),
            )
        if cgroup_parent.startswith(DEFAULT_CGROUP_ROOT + "/"):
            await asyncio.to_thread(remove_cgroup, cgroup_parent)

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        resp = await self._call(
            f"sandbox {sandbox_id}",
            self._rt.PodSandboxStatus,
            pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=True),
        )
        s = resp.status
        return PodSandboxStatus(
            id=s.id,
            name=s.metadata.name,
            uid=s.metadata.uid,
            namespace=s.metadata.namespace,
            attempt=s.metadata.attempt,
            state=SandboxState.READY if s.state == pb.SANDBOX_READY else SandboxState.NOTREADY,
            created_at=s.created_at,
            ip=s.network.ip,
            additional_ips=[ip.ip for ip in s.network.additional_ips],
            labels=dict(s.labels),
            annotations=dict(s.annotations),
            pid=int(_verbose_info(resp.info).get("pid") or 0),
        )

    async def list_pod_sandboxes(self, labels: dict[str, str] | None = None) -> list[PodSandboxStatus]:
        req = pb.ListPodSandboxRequest(filter=pb.PodSandboxFilter(label_selector=labels or {}))
        resp = await self._call("list sandboxes", self._rt.ListPodSandbox, req)
        return [
            PodSandboxStatus(
                id=s.id,
                name=s.metadata.name,
                uid=s.metadata.uid,
                namespace=s.metadata.namespace,
                attempt=s.metadata.attempt,
                state=SandboxState.READY if s.state == pb.SANDBOX_READY else SandboxState.NOTREADY,
                created_at=s.created_at,
                labels=dict(s.labels),
                annotations=dict(s.annotations),
            )
            for s in resp.items
        ]

    # -- containers

    async def create_container(self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig) -> str:
        req = pb.CreateContainerRequest(
            pod_sandbox_id=sandbox_id,
            config=_container_config_pb(config, sandbox_config),
            sandbox_config=_sandbox_config_pb(sandbox_config),
        )
        resp = await self._call(f"create container {config.name}", self._rt.CreateContainer, req)
        return str(resp.container_id)

    async def start_container(self, container_id: str) -> None:
        await self._call(
            f"start container {container_id}", self._rt.StartContainer, pb.StartContainerRequest(container_id=container_id)
        )

    async def stop_container(self, container_id: str, grace_period: int) -> None:
        """SIGTERM, then SIGKILL after `grace_period` seconds (containerd does both)."""
        req = pb.StopContainerRequest(container_id=container_id, timeout=grace_period)
        with contextlib.suppress(NotFoundError):
            await self._call(f"stop container {container_id}", self._rt.StopContainer, req, self.timeout + grace_period)

    async def remove_container(self, container_id: str) -> None:
        with contextlib.suppress(NotFoundError):
            await self._call(
                f"remove container {container_id}",
                self._rt.RemoveContainer,
                pb.RemoveContainerRequest(container_id=container_id),
            )

    async def container_status(self, container_id: str) -> ContainerStatus:
        resp = await self._call(
            f"container {container_id}",
            self._rt.ContainerStatus,
            pb.ContainerStatusRequest(container_id=container_id, verbose=True),
        )
        s = resp.status
        info = _verbose_info(resp.info)
        return ContainerStatus(
            id=s.id,
            sandbox_id=str(info.get("sandboxID", "")),
            name=s.metadata.name,
            attempt=s.metadata.attempt,
            state=_CONTAINER_STATES.get(s.state, ContainerState.UNKNOWN),
            image=s.image.image,
            image_ref=s.image_ref,
            created_at=s.created_at,
            started_at=s.started_at,
            finished_at=s.finished_at,
            exit_code=s.exit_code,
            reason=s.reason,
            message=s.message,
            labels=dict(s.labels),
            annotations=dict(s.annotations),
            log_path=s.log_path,
            pid=int(info.get("pid") or 0),
        )

    async def list_containers(
        self, sandbox_id: str | None = None, labels: dict[str, str] | None = None
    ) -> list[ContainerStatus]:
        req = pb.ListContainersRequest(
            filter=pb.ContainerFilter(pod_sandbox_id=sandbox_id or "", label_selector=labels or {})
        )
        resp = await self._call("list containers", self._rt.ListContainers, req)
        return [
            ContainerStatus(
                id=c.id,
                sandbox_id=c.pod_sandbox_id,
                name=c.metadata.name,
                attempt=c.metadata.attempt,
                state=_CONTAINER_STATES.get(c.state, ContainerState.UNKNOWN),
                image=c.image.image,
                image_ref=c.image_ref,
                created_at=c.created_at,
                labels=dict(c.labels),
                annotations=dict(c.annotations),
            )
            for c in resp.containers
        ]

    # -- exec, port-forward, logs

    async def exec_sync(self, container_id: str, cmd: list[str], timeout_seconds: int = 0) -> ExecResult:
        req = pb.ExecSyncRequest(container_id=container_id, cmd=cmd, timeout=timeout_seconds)
        rpc_timeout = self.timeout + timeout_seconds if timeout_seconds else None
        try:
            resp = await self._rt.ExecSync(req, timeout=rpc_timeout)
        except grpc.aio.AioRpcError as err:
            raise _translate(err, f"exec in {container_id}") from None
        return ExecResult(stdout=resp.stdout, stderr=resp.stderr, exit_code=resp.exit_code)

    async def exec_stream(
        self, container_id: str, cmd: list[str], *, tty: bool = False, stdin: bool = False
    ) -> NsExecSession:
        status = await self.container_status(container_id)
        if status.state != ContainerState.RUNNING or not status.pid:
            raise RuntimeError_(f"container {status.name} is not running")
        return await exec_in_container(status.pid, cmd, tty=tty, stdin=stdin)

    async def port_forward(self, sandbox_id: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        status = await self.pod_sandbox_status(sandbox_id)
        if status.state != SandboxState.READY or not status.pid:
            raise RuntimeError_(f"pod sandbox {status.namespace}/{status.name} is not ready")
        return await connect_in_pod(status.pid, port)

    async def read_logs(self, container_id: str, options: LogOptions) -> AsyncIterator[bytes]:
        status = await self.container_status(container_id)
        if not status.log_path:
            return

        async def exited() -> bool:
            try:
                return (await self.container_status(container_id)).state != ContainerState.RUNNING
            except NotFoundError:
                return True

        async for chunk in read_log_file(status.log_path, options, exited):
            yield chunk

    # -- images

    async def pull_image(self, image: str) -> str:
        resp = await self._call(
            f"pull {image}", self._img.PullImage, pb.PullImageRequest(image=pb.ImageSpec(image=image)), 600
        )
        return str(resp.image_ref)

    async def list_images(self) -> list[Image]:
        resp = await self._call("list images", self._img.ListImages, pb.ListImagesRequest())
        return [_image(i) for i in resp.images]

    async def image_status(self, image: str) -> Image | None:
        resp = await self._call(
            f"image {image}", self._img.ImageStatus, pb.ImageStatusRequest(image=pb.ImageSpec(image=image))
        )
        return _image(resp.image) if resp.HasField("image") and resp.image.id else None

    async def remove_image(self, image: str) -> None:
        with contextlib.suppress(NotFoundError):
            await self._call(
                f"remove image {image}", self._img.RemoveImage, pb.RemoveImageRequest(image=pb.ImageSpec(image=image))
            )

    # -- stats

    async def container_stats(self, container_id: str) -> ContainerStats:
        resp = await self._call(
            f"stats {container_id}", self._rt.ContainerStats, pb.ContainerStatsRequest(container_id=container_id)
        )
        status = await self.container_status(container_id)
        return _stats(resp.stats, {container_id: status.sandbox_id})

    async def list_container_stats(self) -> list[ContainerStats]:
        resp = await self._call("list stats", self._rt.ListContainerStats, pb.ListContainerStatsRequest())
        sandboxes = {c.id: c.sandbox_id for c in await self.list_containers()}
        return [_stats(s, sandboxes) for s in resp.stats]

    async def node_stats(self) -> NodeStats:
        return await asyncio.to_thread(host_node_stats)


def host_node_stats() -> NodeStats:
    """The node's own CPU time and memory, read from the host (as the kubelet's summary API)."""
    cpu = psutil.cpu_times()
    busy = cpu.user + cpu.nice + cpu.system + getattr(cpu, "irq", 0.0) + getattr(cpu, "softirq", 0.0) + getattr(cpu, "steal", 0.0)
    mem = psutil.virtual_memory()
    return NodeStats(
        timestamp=time.time_ns(),
        cpu_usage_core_ns=int(busy * 1e9),
        cpu_count=psutil.cpu_count() or 1,
        memory_total_bytes=mem.total,
        memory_available_bytes=mem.available,
        memory_working_set_bytes=mem.total - mem.available,
    )


def _cgroup_mounts() -> list[str]:
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[:1] in (["cgroup"], ["cgroup2"]):
                mounts.append(left.split()[4])
    return mounts


def remove_cgroup(path: str) -> None:
    """rmdir a (now empty) cgroup in every hierarchy; runc leaves pod-level parents behind."""
    for mount in _cgroup_mounts():
        target = os.path.join(mount, path.lstrip("/"))
        with contextlib.suppress(FileNotFoundError, OSError):
            os.rmdir(target)


async def import_image_tar(tar: str | Path, address: str | Path, namespace: str = CRI_NAMESPACE) -> list[str]:
    """Import an OCI/docker image tar into containerd (``ctr images import``); the image names."""
    tar = Path(tar)
    if not tar.is_file():
        raise RuntimeError_(f"image tar {tar} not found")
    try:
        proc = await asyncio.create_subprocess_exec(
            "ctr", "-a", str(address), "-n", namespace, "images", "import", str(tar),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError as err:
        raise RuntimeError_("ctr (containerd's client) is not installed") from err
    out, stderr = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError_(f"importing {tar} failed: {stderr.decode(errors='replace').strip()}")
    names = []
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("unpacking "):
            names.append(line.split()[1])
    return names


def _conforms(rt: CriRuntime) -> Runtime:
    """Static check (mypy) that CriRuntime implements the Runtime protocol."""
    return rt
