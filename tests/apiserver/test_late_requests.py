"""A request its client gave up on before the server read it is never run (the scale stall's lost
pod status). Under heavy load (docs/scale.md, "A stall seen by two helpers") kubelets' status
PATCHes sat unread on their connections past the client's 60 s time limit; each client closed its
connection and sent the pod's newer status on another one; the server then read the old request
(its bytes and the close arrive together) and ran it after the newer one: the pod's status went back
to ContainerCreating, for good. Here a real `kubelite server` (uvloop, as deployed) is stopped with
SIGSTOP, which is what a CPU-starved server looks like to its clients."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest

from kubelite.api.resources import CONFIGMAPS
from kubelite.client.rest import ApiClient
from kubelite.testing.server import KubeliteServer


@pytest.fixture(scope="module")
def plain_server() -> Iterator[KubeliteServer]:
    srv = KubeliteServer(control_plane=False).start()
    try:
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture
async def client(plain_server: KubeliteServer) -> AsyncIterator[ApiClient]:
    c = ApiClient.from_kubeconfig(str(plain_server.local_kubeconfig))
    yield c
    await c.close()


def patch_request(token: str, name: str, data: dict[str, str]) -> bytes:
    body = orjson.dumps({"data": data})
    return (f"PATCH /api/v1/namespaces/default/configmaps/{name} HTTP/1.1\r\nHost: localhost\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/merge-patch+json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def test_a_request_whose_client_closed_before_it_was_read_is_not_run(
        plain_server: KubeliteServer, client: ApiClient) -> None:
    await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "status"},
                                     "data": {"phase": "Pending"}}, "default")
    pid = plain_server.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # the server gets no CPU: nothing it has not read yet is read
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:  # the old write, then its client gives up
            s.connect(str(plain_server.data_dir / "apiserver.sock"))
            s.sendall(patch_request(plain_server.token, "status", {"phase": "ContainerCreating"}))
    finally:
        os.kill(pid, signal.SIGCONT)
    # the newer write, sent again by its client after the old one failed
    await client.patch(CONFIGMAPS, "status", {"data": {"phase": "Running"}}, "default")
    # a later write from the same kind of connection as the old one: the old request was read
    # (and dropped or run) before this one
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(plain_server.data_dir / "apiserver.sock"))
        s.sendall(patch_request(plain_server.token, "status", {"probe": "done"}))
        assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
    cm = await client.get(CONFIGMAPS, "status", "default")
    assert cm["data"] == {"phase": "Running", "probe": "done"}
    (dropped,) = [line for line in plain_server.log().splitlines() if "request dropped: " in line]
    assert "request dropped: patch /api/v1/namespaces/default/configmaps/status (user agent ''): " in dropped
    assert dropped.endswith("; not started: the client had gone")
