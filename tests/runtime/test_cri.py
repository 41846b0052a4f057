"""The CRI client against a real containerd (in a network namespace this module creates).

One containerd serves the whole module; each test makes its own pods and removes them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kubelite.runtime.containerd import Containerd
from kubelite.runtime.cri import CriRuntime
from kubelite.runtime.images import BUSYBOX_IMAGE, PAUSE_IMAGE, BuiltImage
from kubelite.runtime.types import (
    REASON_OOM_KILLED,
    ContainerConfig,
    ContainerState,
    LinuxResources,
    LogOptions,
    PodSandboxConfig,
    SandboxState,
)

from .conftest import POD_CIDR

pytestmark = pytest.mark.asyncio(loop_scope="module")

WEB_CMD = ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"]


def _read(path: str) -> str:
    """Small procfs/cgroupfs/log reads: instant, fine inside a test coroutine."""
    return Path(path).read_text().strip()


def _exists(path: str) -> bool:
    return Path(path).exists()


def _sandbox(tmp_path: Path, name: str) -> PodSandboxConfig:
    uid = uuid.uuid4().hex
    return PodSandboxConfig(name=name, uid=uid, namespace="default", hostname=name, log_directory=str(tmp_path / name))


async def _run(rt: CriRuntime, sandbox_id: str, sandbox: PodSandboxConfig, name: str, command: list[str], **kw: object) -> str:
    config = ContainerConfig(name=name, image=BUSYBOX_IMAGE, command=command, log_path=f"{name}/0.log", **kw)  # type: ignore[arg-type]
    container_id = await rt.create_container(sandbox_id, config, sandbox)
    await rt.start_container(container_id)
    return container_id


async def _wait_state(rt: CriRuntime, container_id: str, state: ContainerState, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.05)):
        if (await rt.container_status(container_id)).state == state:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"container never reached {state}")


async def _wait_http(rt: CriRuntime, container_id: str, url: str) -> bytes:
    """httpd needs a moment after start: retry the fetch a few times."""
    result = None
    for _ in range(50):
        result = await rt.exec_sync(container_id, ["timeout", "5", "wget", "-qO-", url], timeout_seconds=10)
        if result.exit_code == 0:
            return result.stdout
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} not reachable: {result}")


async def _cleanup(rt: CriRuntime, *sandbox_ids: str) -> None:
    for sandbox_id in sandbox_ids:
        await rt.stop_pod_sandbox(sandbox_id)
        await rt.remove_pod_sandbox(sandbox_id)


async def test_version_and_images_imported_at_start(rt: CriRuntime) -> None:
    version = await rt.version()
    assert version.runtime_name == "containerd" and version.runtime_api_version == "v1"
    tags = {tag for image in await rt.list_images() for tag in image.repo_tags}
    assert {BUSYBOX_IMAGE, "kubelite.local/busybox:latest", PAUSE_IMAGE} <= tags
    status = await rt.image_status(BUSYBOX_IMAGE)
    assert status is not None and status.size > 0
    assert await rt.image_status("kubelite.local/nothing:1") is None


async def test_cli_imports_an_image_tar(containerd: Containerd, rt: CriRuntime, built_images: list[BuiltImage]) -> None:
    busybox = next(i for i in built_images if i.path.name == "busybox.tar")
    await rt.remove_image("kubelite.local/busybox:latest")
    assert await rt.image_status("kubelite.local/busybox:latest") is None
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kubelite", "images", "import", str(busybox.path), "--address", str(containerd.address),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err
    assert b"imported kubelite.local/busybox:latest" in out
    assert await rt.image_status("kubelite.local/busybox:latest") is not None


async def test_pods_reach_each_other_and_share_localhost(rt: CriRuntime, tmp_path: Path) -> None:
    web_cfg, client_cfg = _sandbox(tmp_path, "web"), _sandbox(tmp_path, "client")
    web = await rt.run_pod_sandbox(web_cfg)
    client = await rt.run_pod_sandbox(client_cfg)
    try:
        web_status = await rt.pod_sandbox_status(web)
        client_status = await rt.pod_sandbox_status(client)
        assert web_status.state == SandboxState.READY
        import ipaddress

        network = ipaddress.ip_network(POD_CIDR)
        assert ipaddress.ip_address(web_status.ip) in network
        assert ipaddress.ip_address(client_status.ip) in network
        assert web_status.ip != client_status.ip

        await _run(rt, web, web_cfg, "httpd", WEB_CMD)
        sidecar = await _run(rt, web, web_cfg, "sidecar", ["sleep", "3600"])
        curl = await _run(rt, client, client_cfg, "curl", ["sleep", "3600"])
        # another pod, over the node's bridge
        assert await _wait_http(rt, curl, f"http://{web_status.ip}:8080/") == b"hello-from-web\n"
        # a second container of the same pod, over localhost
        assert await _wait_http(rt, sidecar, "http://127.0.0.1:8080/") == b"hello-from-web\n"
        # and the containers see the pod's hostname
        assert (await rt.exec_sync(sidecar, ["hostname"])).stdout == b"web\n"

        # port-forward: a byte stream to the pod's port 8080
        reader, writer = await rt.port_forward(web, 8080)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        await writer.drain()
        response = await reader.read()
        writer.close()
        assert response.startswith(b"HTTP/1.") and response.endswith(b"hello-from-web\n")
    finally:
        await _cleanup(rt, web, client)


async def test_exec_stream_with_stdin_and_with_tty(rt: CriRuntime, tmp_path: Path) -> None:
    cfg = _sandbox(tmp_path, "shell")
    sandbox = await rt.run_pod_sandbox(cfg)
    try:
        box = await _run(rt, sandbox, cfg, "box", ["sleep", "3600"], envs={"GREETING": "hi"})
        session = await rt.exec_stream(box, ["sh", "-c", 'cat; echo "$GREETING $(hostname)"; echo oops >&2; exit 3'], stdin=True)
        assert session.stdin is not None and session.stderr is not None
        session.stdin.write(b"from-stdin\n")
        await session.stdin.drain()
        session.stdin.close()
        out, err = await asyncio.gather(session.stdout.read(), session.stderr.read())
        assert await session.wait() == 3
        assert out == b"from-stdin\nhi shell\n" and err == b"oops\n"
        await session.close()

        tty = await rt.exec_stream(box, ["sh"], tty=True, stdin=True)
        assert tty.stdin is not None and tty.stderr is None
        tty.resize(100, 40)
        tty.stdin.write(b"stty size; echo done-$((6*7)); exit 5\n")
        await tty.stdin.drain()
        output = await tty.stdout.read()
        assert await tty.wait() == 5
        assert b"40 100" in output and b"done-42" in output
        await tty.close()
    finally:
        await _cleanup(rt, sandbox)


async def test_logs_in_cri_format_with_tail_timestamps_and_follow(rt: CriRuntime, tmp_path: Path) -> None:
    cfg = _sandbox(tmp_path, "logger")
    sandbox = await rt.run_pod_sandbox(cfg)
    try:
        done = await _run(rt, sandbox, cfg, "done", ["sh", "-c", "for i in 1 2 3; do echo line-$i; done; echo to-stderr >&2"])
        await _wait_state(rt, done, ContainerState.EXITED)
        status = await rt.container_status(done)
        assert status.exit_code == 0 and status.log_path == str(tmp_path / "logger" / "done" / "0.log")
        raw = _read(status.log_path).splitlines()
        assert "stdout F line-1" in [line.split(" ", 1)[1] for line in raw]
        assert "stderr F to-stderr" in [line.split(" ", 1)[1] for line in raw]

        async def collect(container_id: str, options: LogOptions) -> bytes:
            return b"".join([chunk async for chunk in rt.read_logs(container_id, options)])

        everything = await collect(done, LogOptions())
        assert sorted(everything.splitlines()) == [b"line-1", b"line-2", b"line-3", b"to-stderr"]
        assert (await collect(done, LogOptions(tail=1))).endswith(b"\n")
        stamped = await collect(done, LogOptions(timestamps=True, tail=2))
        assert all(line[:4].isdigit() and b"Z " in line for line in stamped.splitlines())

        slow = await _run(rt, sandbox, cfg, "slow", ["sh", "-c", "for i in 1 2 3 4; do echo tick-$i; sleep 0.2; done"])
        followed = await asyncio.wait_for(collect(slow, LogOptions(follow=True)), 30)
        assert followed == b"tick-1\ntick-2\ntick-3\ntick-4\n"
    finally:
        await _cleanup(rt, sandbox)


async def test_memory_hog_is_oom_killed_and_limits_are_cgroup_files(rt: CriRuntime, tmp_path: Path) -> None:
    cfg = _sandbox(tmp_path, "limits")
    sandbox = await rt.run_pod_sandbox(cfg)
    try:
        limited = await _run(
            rt, sandbox, cfg, "limited", ["sleep", "3600"],
            resources=LinuxResources(cpu_quota=20000, cpu_period=100000, cpu_shares=512, memory_limit_bytes=32 << 20),
        )
        cgroup = f"kubelite/pod{cfg.uid}/{limited}"
        assert _read(f"/sys/fs/cgroup/cpu/{cgroup}/cpu.cfs_quota_us") == "20000"
        assert _read(f"/sys/fs/cgroup/cpu/{cgroup}/cpu.cfs_period_us") == "100000"
        assert _read(f"/sys/fs/cgroup/cpu/{cgroup}/cpu.shares") == "512"
        assert _read(f"/sys/fs/cgroup/memory/{cgroup}/memory.limit_in_bytes") == str(32 << 20)

        stats = await rt.container_stats(limited)
        assert stats.memory_working_set_bytes > 0 and stats.sandbox_id == sandbox
        assert any(s.id == limited for s in await rt.list_container_stats())
        node = await rt.node_stats()
        assert node.cpu_count >= 1 and node.memory_total_bytes > node.memory_working_set_bytes > 0

        # busybox dd allocates (and fills) one bs-sized buffer: 128 MiB against a 16 MiB limit
        hog = await _run(
            rt, sandbox, cfg, "hog", ["dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"],
            resources=LinuxResources(memory_limit_bytes=16 << 20),
        )
        await _wait_state(rt, hog, ContainerState.EXITED)
        status = await rt.container_status(hog)
        assert status.reason == REASON_OOM_KILLED
        assert status.exit_code == 137
    finally:
        await _cleanup(rt, sandbox)


async def test_stop_and_remove_leave_nothing_behind(rt: CriRuntime, containerd: Containerd, tmp_path: Path) -> None:
    cfg = _sandbox(tmp_path, "gone")
    sandbox = await rt.run_pod_sandbox(cfg)
    box = await _run(rt, sandbox, cfg, "box", ["sleep", "3600"])
    await _wait_state(rt, box, ContainerState.RUNNING)
    pause_pid = (await rt.pod_sandbox_status(sandbox)).pid
    box_pid = (await rt.container_status(box)).pid
    assert pause_pid and box_pid
    netns_files = set(containerd.state.rglob("netns/*"))
    assert netns_files

    # a PID-1 sleep ignores SIGTERM: containerd kills it after the grace period
    await rt.stop_container(box, grace_period=1)
    status = await rt.container_status(box)
    assert status.state == ContainerState.EXITED and status.exit_code == 137
    await rt.remove_container(box)
    await rt.stop_pod_sandbox(sandbox)
    assert (await rt.pod_sandbox_status(sandbox)).state == SandboxState.NOTREADY
    await rt.remove_pod_sandbox(sandbox)
    await rt.remove_pod_sandbox(sandbox)  # idempotent

    assert sandbox not in {s.id for s in await rt.list_pod_sandboxes()}
    assert not _exists(f"/proc/{pause_pid}") and not _exists(f"/proc/{box_pid}")
    for hierarchy in ("memory", "cpu", "pids", "unified"):
        assert not _exists(f"/sys/fs/cgroup/{hierarchy}/kubelite/pod{cfg.uid}")
    assert not set(containerd.state.rglob("netns/*"))


async def test_killed_containerd_is_restarted_and_pods_survive(rt: CriRuntime, containerd: Containerd, tmp_path: Path) -> None:
    cfg = _sandbox(tmp_path, "survivor")
    sandbox = await rt.run_pod_sandbox(cfg)
    try:
        box = await _run(rt, sandbox, cfg, "box", ["sleep", "3600"])
        old_pid = containerd.pid
        assert old_pid is not None
        restarts = containerd.restarts
        os.kill(old_pid, signal.SIGKILL)
        for _ in range(400):
            if containerd.restarts > restarts:
                break
            await asyncio.sleep(0.05)
        await containerd.wait_ready()
        assert containerd.pid not in (None, old_pid)
        assert (await rt.container_status(box)).state == ContainerState.RUNNING
        assert (await rt.exec_sync(box, ["echo", "still-here"])).stdout == b"still-here\n"
    finally:
        await _cleanup(rt, sandbox)
