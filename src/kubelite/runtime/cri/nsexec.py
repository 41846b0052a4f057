"""Interactive exec and port-forward by entering a container's namespaces from the node.

containerd's CRI answers Exec/Attach/PortForward with a URL on its own streaming server, which
listens on 127.0.0.1 *inside the node's network namespace* and speaks the SPDY/WebSocket
remotecommand protocols of older kubelets. kubelite's kubelet serves kubectl itself, so it
needs plain byte streams instead, and gets them without containerd's help:

- exec: ``nsenter`` into the container's mount, UTS, IPC, network and PID namespaces (and its
  root and working directory), with the container's environment, after moving itself into the
  container's cgroups so that the command counts against the container's limits. With a TTY
  the command gets a fresh pseudo-terminal as its controlling terminal.
- port-forward: a worker thread joins the pod's network namespace (``setns`` affects only the
  calling thread), creates and connects a TCP socket to 127.0.0.1:port there, and returns to
  its own namespace; a socket keeps the namespace it was created in, so the event loop can use
  it like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import fcntl
import os
import signal
import socket
import struct
import termios
from pathlib import Path

from kubelite.runtime.types import NotFoundError, RuntimeError_

_CLONE_NEWNET = 0x40000000


def _cgroup_procs_files(pid: int) -> list[str]:
    """The cgroup.procs files of every hierarchy `pid` belongs to (v1 controllers and v2)."""
    mounts: dict[str, str] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if not rfields:
                continue
            if rfields[0] == "cgroup2":
                mounts.setdefault("", fields[4])
            elif rfields[0] == "cgroup":
                for opt in rfields[2].split(","):
                    if opt not in ("rw", "ro", "relatime", "noexec", "nosuid", "nodev"):
                        mounts.setdefault(opt, fields[4])
    files = []
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            key = controllers.split(",")[0] if controllers else ""
            base = mounts.get(key)
            if base is not None:
                files.append(os.path.join(base, path.lstrip("/"), "cgroup.procs"))
    return files


def _read_environ(pid: int) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        key, sep, value = item.decode(errors="replace").partition("=")
        if sep:
            env[key] = value
    return env


class NsExecSession:
    """A command running inside a container (see the module docstring)."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader | None,
        stdin: asyncio.StreamWriter | None,
        master_fd: int | None,
        pump: asyncio.Task[None] | None,
    ) -> None:
        self._proc = proc
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin
        self._master_fd = master_fd
        self._pump = pump

    async def wait(self) -> int:
        code = await self._proc.wait()
        if self._pump is not None:
            await self._pump
        return 128 - code if code < 0 else code  # killed by signal N -> 128+N, like a shell

    def resize(self, width: int, height: int) -> None:
        if self._master_fd is not None:
            fcntl.ioctl(self._master_fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def close(self) -> None:
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(signal.SIGKILL)
            await self._proc.wait()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self.stdin is not None:
            self.stdin.close()
        if self._master_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._master_fd)
            self._master_fd = None


async def _pump_pty(master_fd: int, reader: asyncio.StreamReader) -> None:
    """Copy the pty's output into `reader`; EIO on the master means the terminal closed."""
    loop = asyncio.get_running_loop()
    readable = asyncio.Event()
    loop.add_reader(master_fd, readable.set)
    try:
        while True:
            await readable.wait()
            readable.clear()
            try:
                data = os.read(master_fd, 65536)
            except BlockingIOError:
                continue
            except OSError as err:
                if err.errno == errno.EIO:
                    break
                raise
            if not data:
                break
            reader.feed_data(data)
    finally:
        loop.remove_reader(master_fd)
        reader.feed_eof()


async def exec_in_container(pid: int, cmd: list[str], *, tty: bool, stdin: bool) -> NsExecSession:
    """Start `cmd` in the namespaces of the container whose init process is `pid`."""
    if not cmd:
        raise RuntimeError_("exec needs a command")
    try:
        procs_files, env = await asyncio.to_thread(lambda: (_cgroup_procs_files(pid), _read_environ(pid)))
    except (FileNotFoundError, ProcessLookupError) as err:
        raise NotFoundError(f"container process {pid} is gone") from err
    if tty:
        env.setdefault("TERM", "xterm")
    argv = ["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "--", *cmd]

    def enter_cgroups() -> None:
        for path in procs_files:
            try:
                with open(path, "w") as f:
                    f.write("0")
            except OSError:
                pass
        if tty:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    loop = asyncio.get_running_loop()
    if not tty:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            preexec_fn=enter_cgroups,
        )
        assert proc.stdout is not None and proc.stderr is not None
        return NsExecSession(proc, proc.stdout, proc.stderr, proc.stdin, None, None)
    master, slave = os.openpty()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=enter_cgroups,
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    os.set_blocking(master, False)
    reader = asyncio.StreamReader()
    pump = asyncio.create_task(_pump_pty(master, reader))
    writer: asyncio.StreamWriter | None = None
    if stdin:
        write_file = os.fdopen(os.dup(master), "wb", buffering=0)
        transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.streams.FlowControlMixin(loop=loop), write_file
        )
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return NsExecSession(proc, reader, None, writer, master, pump)


def _connect_in_netns(netns_path: str, port: int) -> socket.socket:
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(netns_path, os.O_RDONLY)
    except FileNotFoundError as err:
        os.close(own)
        raise NotFoundError(f"pod network namespace {netns_path} is gone") from err
    try:
        if libc.setns(target, _CLONE_NEWNET) != 0:
            raise RuntimeError_(f"setns({netns_path}) failed: {os.strerror(ctypes.get_errno())}")
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            if libc.setns(own, _CLONE_NEWNET) != 0:  # pragma: no cover - cannot happen with our fd
                raise RuntimeError_("could not return to the node's network namespace")
    finally:
        os.close(target)
        os.close(own)
    try:
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
    except OSError as err:
        sock.close()
        raise RuntimeError_(f"cannot connect to port {port} in the pod: {err.strerror or err}") from err
    return sock


async def connect_in_pod(pid: int, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to 127.0.0.1:`port` in the network namespace of process `pid`."""
    if not 0 < port < 65536:
        raise RuntimeError_(f"invalid port {port}")
    sock = await asyncio.to_thread(_connect_in_netns, f"/proc/{pid}/ns/net", port)
    return await asyncio.open_connection(sock=sock)
