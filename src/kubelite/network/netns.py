"""Small helpers to act inside a node's network namespace without touching the host's network.

Commands run with ``ip -n NS`` (ip's own) or ``nsenter --net=/run/netns/NS`` (everything else):
nsenter switches only the network namespace, so /sys and mounts stay the host's, which is all
iptables and sysctl need. `netns=None` means "this process's own namespace" (a real node).
Sockets are created inside a namespace by a short-lived thread that `setns()`es into it: a
socket stays in the namespace it was created in, and only that thread ever changed namespace.
"""

from __future__ import annotations

import asyncio
import ctypes
import ipaddress
import os
import socket
import subprocess
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000


class NetnsError(RuntimeError):
    """A network command failed; the message has the command and its stderr."""


def netns_path(netns: str) -> str:
    return netns if "/" in netns else f"/run/netns/{netns}"


def ns_argv(netns: str | None, argv: list[str]) -> list[str]:
    """argv run inside `netns` (unchanged for None)."""
    if netns is None:
        return argv
    if argv and argv[0] == "ip" and "/" not in netns:
        return ["ip", "-n", netns, *argv[1:]]
    return ["nsenter", f"--net={netns_path(netns)}", "--", *argv]


def run(netns: str | None, argv: list[str], *, input: str | None = None, check: bool = True,
        timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run a command in `netns`, synchronously (use `arun` on the event loop)."""
    full = ns_argv(netns, argv)
    try:
        proc = subprocess.run(full, input=input, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as err:
        raise NetnsError(f"{full[0]} is not installed") from err
    except subprocess.TimeoutExpired as err:
        raise NetnsError(f"{' '.join(full)} did not finish within {timeout}s") from err
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(full)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


async def arun(netns: str | None, argv: list[str], *, input: str | None = None, check: bool = True,
               limit: float = 60.0) -> tuple[int, str, str]:
    """Run a command in `netns` without blocking the event loop: (returncode, stdout, stderr)."""
    full = ns_argv(netns, argv)
    try:
        proc = await asyncio.create_subprocess_exec(
            *full, stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except FileNotFoundError as err:
        raise NetnsError(f"{full[0]} is not installed") from err
    try:
        out, err_b = await asyncio.wait_for(proc.communicate(input.encode() if input is not None else None),
                                            limit)
    except TimeoutError as err:
        proc.kill()
        await proc.wait()
        raise NetnsError(f"{' '.join(full)} did not finish within {limit}s") from err
    rc = proc.returncode if proc.returncode is not None else -1
    stdout, stderr = out.decode(errors="replace"), err_b.decode(errors="replace")
    if check and rc != 0:
        raise NetnsError(f"{' '.join(full)} failed ({rc}): {stderr.strip()}")
    return rc, stdout, stderr


def in_netns(netns: str | None, fn: Callable[[], T]) -> T:
    """Call `fn` on a fresh thread that has joined `netns` (blocking; see `ain_netns`)."""
    if netns is None:
        return fn()
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        try:
            fd = os.open(netns_path(netns), os.O_RDONLY)
        except OSError as err:
            error.append(NetnsError(f"network namespace {netns!r}: {err.strerror}"))
            return
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                error.append(NetnsError(f"setns({netns}): {os.strerror(e)}"))
                return
            result.append(fn())
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            error.append(err)
        finally:
            os.close(fd)
        # the thread ends here: its namespace goes with it, nothing else ever ran in it

    t = threading.Thread(target=target, name=f"netns:{netns}", daemon=True)
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]


async def ain_netns(netns: str | None, fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(in_netns, netns, fn)


def bound_socket(netns: str | None, kind: int, host: str, port: int) -> socket.socket:
    """A non-blocking IPv4 socket bound to host:port inside `netns` (TCP ones listening)."""
    def make() -> socket.socket:
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            if kind == socket.SOCK_STREAM:
                s.listen(128)
            s.setblocking(False)
        except BaseException:
            s.close()
            raise
        return s
    return in_netns(netns, make)


def ipv4_addresses(netns: str | None) -> list[tuple[str, str]]:
    """(interface, address/prefix) of the global IPv4 addresses in `netns`."""
    out = run(netns, ["ip", "-4", "-o", "addr", "show", "scope", "global"]).stdout
    result = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "inet":
            result.append((parts[1], parts[3]))
    return result


def node_address(netns: str | None, exclude: tuple[str, ...] = ("10.42.0.0/16", "10.43.0.0/16")) -> str | None:
    """The node's own address in `netns`: its first global IPv4 outside the pod and service CIDRs
    (the CNI bridge's gateway address is a pod-network address, not the node's)."""
    nets = [ipaddress.ip_network(c) for c in exclude]
    for _, cidr in ipv4_addresses(netns):
        ip = ipaddress.ip_interface(cidr).ip
        if not any(ip in n for n in nets):
            return str(ip)
    return None


SERVICE_DUMMY = "kube-svc0"
SERVICE_PEER = "kube-svc1"


def ensure_service_route(netns: str | None, service_cidr: str = "10.43.0.0/16") -> bool:
    """Give the node a route for the Service CIDR if it has none, so that traffic to a virtual IP
    reaches the nat/filter hooks (a node netns made by a test has no default route). The route
    points at an interface of its own (one end of a veth pair whose both ends stay in the node's
    namespace: kernels without the `dummy` module have veth): packets that no rule DNATs go
    nowhere, and the REJECT rules of Services without endpoints see them. True if it added one."""
    first = str(next(ipaddress.ip_network(service_cidr).hosts()))
    if run(netns, ["ip", "route", "get", first], check=False).returncode == 0:
        return False
    if run(netns, ["ip", "link", "show", SERVICE_DUMMY], check=False).returncode != 0:
        run(netns, ["ip", "link", "add", SERVICE_DUMMY, "type", "veth", "peer", "name", SERVICE_PEER])
    run(netns, ["ip", "link", "set", SERVICE_PEER, "up"])
    run(netns, ["ip", "link", "set", SERVICE_DUMMY, "up"])
    run(netns, ["ip", "route", "replace", service_cidr, "dev", SERVICE_DUMMY])
    return True
