"""Node network namespaces and leftovers: what `up` creates outside its data dir, and `down` removes.

Each node of `kubelite up` gets a network namespace ``kubelite-<node>`` (loopback up, nothing
else): its containerd runs there, so the CNI bridge, the pod addresses and the kube-proxy rules
live there, and the host's own network is not touched. The agent process itself stays in the
host's namespace: it talks to the API server on the host's loopback and to containerd over a
unix socket (which works across namespaces), and its kubelet server listens on the host, where
the API server can reach it for `kubectl logs/exec`. With `--host-network` containerd runs in
the host's namespace instead (a dedicated machine), and `down` removes the CNI bridge it made.

Everything here is blocking (subprocesses, /proc): call it with asyncio.to_thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import time
from pathlib import Path

from kubelite.network.netns import NetnsError, run

log = logging.getLogger(__name__)


def netns_exists(name: str) -> bool:
    return os.path.exists(f"/run/netns/{name}")


def ensure_netns(name: str) -> bool:
    """Create the namespace (loopback up) unless it exists; True if it was created."""
    created = False
    if not netns_exists(name):
        run(None, ["ip", "netns", "add", name])
        created = True
    try:
        run(name, ["ip", "link", "set", "lo", "up"])
    except NetnsError:
        if created:
            run(None, ["ip", "netns", "del", name], check=False)
        raise
    return created


def delete_netns(name: str) -> None:
    """Delete the namespace (its bridge, veths, routes and iptables rules go with it)."""
    if netns_exists(name):
        run(None, ["ip", "netns", "del", name], check=False)


def delete_link(name: str) -> None:
    """Remove a network interface of the host's namespace (the CNI bridge of a --host-network node)."""
    if os.path.exists(f"/sys/class/net/{name}"):
        run(None, ["ip", "link", "del", name], check=False)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def pid_alive(pid: int, needle: bytes = b"kubelite") -> bool:
    """True when `pid` runs and its command line mentions `needle` (a reused PID does not count)."""
    if pid <= 0:
        return False
    cmd = _cmdline(pid)
    return bool(cmd) and needle in cmd


def kill_leftover_runtime(data_dir: Path) -> int:
    """SIGKILL containerd and shims that were started for this data dir (after a crash); how many."""
    needle = str(data_dir.resolve() / "nodes").encode()
    victims = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        cmd = _cmdline(int(entry))
        if needle in cmd and b"containerd" in cmd.split(b"\0", 1)[0]:
            victims.append(int(entry))
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(_cmdline(p) for p in victims) and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(victims)


def mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mountpoint = line.split()[4].replace("\\040", " ")
            if mountpoint.startswith(prefix):
                found.append(mountpoint)
    return found


def unmount_under(path: Path) -> list[str]:
    """Detach every mount below `path`, deepest first; returns the ones still mounted."""
    libc = ctypes.CDLL(None, use_errno=True)
    for mountpoint in sorted(mounts_under(path), key=len, reverse=True):
        libc.umount2(mountpoint.encode(), 2)  # MNT_DETACH
    return mounts_under(path)
