"""Supervise one containerd child process per node.

Each node gets a private containerd: its own root, state, gRPC socket, CNI configuration and
IP-allocation store, all under `data_dir`, so that several nodes (and tests) share one machine
without sharing anything. When `netns` names a network namespace, containerd is started inside
it with ``nsenter --net=...``: the CNI bridge, the pod network namespaces and the pod IPs then
live in that namespace, and the host's network is untouched. (``ip netns exec`` would also
unshare the mount namespace and remount /sys, which would hide containerd's mounts from the
host; nsenter switches the network namespace only.) The gRPC socket is a unix socket, reachable
from any network namespace.

The supervisor restarts containerd when it dies (its shims, and so the running containers,
survive that, as with a real node), and on `stop` removes every pod it ran, stops containerd
by PID and leaves no shim, mount or cgroup behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import ipaddress
import json
import logging
import os
import signal
import time
from pathlib import Path

from kubelite.runtime.images import PAUSE_IMAGE

log = logging.getLogger(__name__)

CNI_BIN_DIR = "/usr/lib/cni"
_PR_SET_PDEATHSIG = 1


class ContainerdError(Exception):
    """containerd could not be started or did not become ready."""


def _die_with_parent() -> None:
    """In the child before exec: containerd gets SIGTERM if the agent process dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _children_of(parents: set[int]) -> list[int]:
    """PIDs whose parent is in `parents` (from /proc/<pid>/stat)."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) in parents:
            children.append(int(entry))
    return children


def bridge_name(data_dir: Path) -> str:
    """A Linux bridge name unique per node (15 characters at most)."""
    return "kl" + hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:10]


def cni_conflist(pod_cidr: str, bridge: str, ipam_dir: Path) -> dict[str, object]:
    """bridge + host-local for the node's podCIDR, portmap for hostPorts.

    containerd's CRI adds the loopback network itself (with /usr/lib/cni/loopback).
    """
    net = ipaddress.ip_network(pod_cidr, strict=False)
    return {
        "cniVersion": "1.0.0",
        "name": "kubelite",
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": str(net)}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(ipam_dir),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def _toml_str(value: str) -> str:
    return json.dumps(value)


def containerd_config(
    root: Path, state: Path, address: Path, cni_conf_dir: Path, pause_image: str, log_level: str
) -> str:
    """containerd 1.6 config (version 2) for a private instance: cgroupfs, overlayfs, our CNI."""
    q = _toml_str
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = {q(str(root))}
state = {q(str(state))}
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = {q(str(address))}

# A restarted containerd reconnects to the shims of the running pods one after the other; one that
# does not answer within the load timeout is taken for dead and its containers are killed. The
# default 5 s is too short on a loaded node: a slow shim would cost its pod a restart. A dead shim
# (socket gone) still fails at once.
[timeouts]
  "io.containerd.timeout.shim.load" = "30s"
  "io.containerd.timeout.shim.cleanup" = "10s"

[ttrpc]
  address = {q(str(address) + ".ttrpc")}

[debug]
  level = {q(log_level)}

[{cri}]
  sandbox_image = {q(pause_image)}
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # never below containerd's own score: lowering it needs CAP_SYS_RESOURCE, which some hosts drop
  restrict_oom_score_adj = true
  max_container_log_line_size = 16384

[{cri}.cni]
  bin_dir = {q(CNI_BIN_DIR)}
  conf_dir = {q(str(cni_conf_dir))}
  max_conf_num = 1

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = {q(str(state / "runc"))}

[{cri}.registry]
  config_path = ""
"""


class Containerd:
    """One supervised containerd: `await start()`, use `address`, `await stop()`.

    `images_dir`: every ``*.tar`` in it is imported at start (the air-gap path), so the pause
    image named by `pause_image` should be there.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        netns: str | None = None,
        pause_image: str = PAUSE_IMAGE,
        cni_conf_dir: str | Path | None = None,
        pod_cidr: str | None = None,
        images_dir: str | Path | None = None,
        binary: str = "containerd",
        restart: bool = True,
        log_level: str = "info",
        ready_timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.netns = netns
        self.pause_image = pause_image
        self.cni_conf_dir = Path(cni_conf_dir) if cni_conf_dir else self.data_dir / "cni" / "net.d"
        self.pod_cidr = pod_cidr
        self.images_dir = Path(images_dir) if images_dir else None
        self.binary = binary
        self.restart_enabled = restart
        self.log_level = log_level
        self.ready_timeout = ready_timeout
        self.root = self.data_dir / "root"
        self.state = self.data_dir / "state"
        self.address = self.data_dir / "containerd.sock"
        self.config_path = self.data_dir / "containerd.toml"
        self.log_path = self.data_dir / "containerd.log"
        #: how many times the supervisor restarted a dead containerd
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._stopping = False
        self._ready = asyncio.Event()

    @property
    def pid(self) -> int | None:
        """PID of the running containerd (None when not running)."""
        if self._proc is None or self._proc.returncode is not None:
            return None
        return self._proc.pid

    def _netns_path(self) -> str | None:
        if self.netns is None:
            return None
        return self.netns if "/" in self.netns else f"/run/netns/{self.netns}"

    def _write_files(self) -> None:
        for d in (self.root, self.state, self.cni_conf_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            containerd_config(
                self.root, self.state, self.address, self.cni_conf_dir, self.pause_image, self.log_level
            )
        )
        if self.pod_cidr:
            conf = cni_conflist(self.pod_cidr, bridge_name(self.data_dir), self.data_dir / "cni" / "ipam")
            (self.cni_conf_dir / "10-kubelite.conflist").write_text(json.dumps(conf, indent=2))

    async def start(self) -> None:
        """Write the config, start containerd, wait until CRI answers, import images."""
        netns = self._netns_path()
        if netns is not None and not await asyncio.to_thread(os.path.exists, netns):
            raise ContainerdError(f"network namespace {self.netns!r} does not exist ({netns})")
        if self.pod_cidr:
            try:
                ipaddress.ip_network(self.pod_cidr, strict=False)
            except ValueError as err:
                raise ContainerdError(f"invalid pod CIDR {self.pod_cidr!r}: {err}") from err
        if len(str(self.address).encode()) > 107:
            raise ContainerdError(f"socket path {self.address} is too long for a unix socket: use a shorter data dir")
        await asyncio.to_thread(self._write_files)
        self._stopping = False
        await self._spawn()
        await self._wait_ready()
        if self.images_dir is not None:
            await self.import_images_dir(self.images_dir)
        self._monitor = asyncio.create_task(self._supervise(), name=f"containerd-supervisor:{self.data_dir}")

    async def _spawn(self) -> None:
        self._ready.clear()
        # A containerd left by a SIGKILLed agent gets SIGTERM (parent-death signal) and is still
        # shutting down: two daemons on one root and state dir would confuse the recovered sandboxes.
        await asyncio.to_thread(self._wait_previous_daemon_gone)
        with contextlib.suppress(FileNotFoundError):
            self.address.unlink()
        argv = [self.binary, "--config", str(self.config_path)]
        netns = self._netns_path()
        if netns is not None:
            argv = ["nsenter", f"--net={netns}", "--", *argv]
        logfile = await asyncio.to_thread(self.log_path.open, "ab")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logfile,
                stderr=logfile,
                preexec_fn=_die_with_parent,
            )
        except FileNotFoundError as err:
            raise ContainerdError(f"cannot run {argv[0]}: not installed") from err
        finally:
            logfile.close()
        log.info("containerd started (pid %d, socket %s)", self._proc.pid, self.address)

    async def _wait_ready(self) -> None:
        from kubelite.runtime.cri.client import CriRuntime

        deadline = time.monotonic() + self.ready_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.returncode is not None:
                raise ContainerdError(
                    f"containerd exited with code {self._proc.returncode}; see {self.log_path}"
                )
            if self.address.exists():
                client = CriRuntime(self.address)
                try:
                    await client.version(rpc_timeout=2.0)
                    self._ready.set()
                    return
                except Exception as err:  # noqa: BLE001 - any failure means "not yet"
                    last_error = err
                finally:
                    await client.close()
            await asyncio.sleep(0.05)
        raise ContainerdError(f"containerd did not answer CRI within {self.ready_timeout}s: {last_error}")

    async def wait_ready(self) -> None:
        """Wait until containerd answers (e.g. after the supervisor restarted it)."""
        await self._ready.wait()

    async def _supervise(self) -> None:
        """Restart containerd whenever it dies, with a short backoff."""
        backoff = 0.1
        while not self._stopping:
            proc = self._proc
            assert proc is not None
            code = await proc.wait()
            self._ready.clear()
            if self._stopping or not self.restart_enabled:
                return
            log.warning("containerd (pid %d) exited with %s; restarting", proc.pid, code)
            await asyncio.sleep(backoff)
            try:
                await self._spawn()
                await self._wait_ready()
                self.restarts += 1
                backoff = 0.1
            except ContainerdError as err:
                log.error("containerd restart failed: %s", err)
                backoff = min(backoff * 2, 10.0)

    async def import_images_dir(self, images_dir: Path) -> list[str]:
        """Import every image tar in `images_dir` (missing directory: nothing to do)."""
        from kubelite.runtime.cri.client import import_image_tar

        tars = await asyncio.to_thread(lambda: sorted(images_dir.glob("*.tar")) if images_dir.is_dir() else [])
        names: list[str] = []
        for tar in tars:
            names += await import_image_tar(tar, self.address)
        return names

    async def stop(self, remove_pods: bool = True) -> None:
        """Remove every pod (optional), stop containerd, kill leftover shims, unmount."""
        self._stopping = True
        if remove_pods and self.pid is not None:
            from kubelite.runtime.cri.client import CriRuntime

            client = CriRuntime(self.address)
            try:
                for sandbox in await client.list_pod_sandboxes():
                    await client.stop_pod_sandbox(sandbox.id)
                    await client.remove_pod_sandbox(sandbox.id)
            except Exception as err:  # noqa: BLE001 - best effort: shims are killed below
                log.warning("removing pods before stopping containerd failed: %s", err)
            finally:
                await client.close()
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        self._proc = None
        await asyncio.to_thread(self._cleanup_leftovers)

    def _shim_pids(self) -> list[int]:
        """PIDs of containerd shims started by this containerd (they name our socket)."""
        needle = str(self.address).encode()
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"containerd-shim" in cmdline and needle in cmdline:
                pids.append(int(entry))
        return pids

    def _previous_daemon_pids(self) -> list[int]:
        """PIDs of containerd daemons (not shims) running our config and not started by this object."""
        needle = str(self.config_path).encode()
        own = self._proc.pid if self._proc is not None else None
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == own:
                continue
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if needle in cmdline and b"containerd-shim" not in cmdline and cmdline.startswith((b"containerd", b"/")):
                pids.append(int(entry))
        return pids

    def _wait_previous_daemon_gone(self, limit: float = 10.0) -> None:
        deadline = time.monotonic() + limit
        while self._previous_daemon_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self._previous_daemon_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _cleanup_leftovers(self) -> None:
        shims = self._shim_pids()
        # a container's init is the shim's child: killing only the shim would orphan it (and with it
        # its PID namespace) to keep running after the node is gone
        for pid in _children_of(set(shims)) + shims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while self._shim_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        # unmount whatever containerd left under our directory (rootfs, netns, shm), deepest first
        prefix = str(self.data_dir) + "/"
        mounts = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mountpoint = line.split()[4].replace("\\040", " ")
                if mountpoint.startswith(prefix):
                    mounts.append(mountpoint)
        libc = ctypes.CDLL(None, use_errno=True)
        for mountpoint in sorted(mounts, key=len, reverse=True):
            libc.umount2(mountpoint.encode(), 2)  # MNT_DETACH
        with contextlib.suppress(FileNotFoundError):
            self.address.unlink()
