"""ApiClient behaviour that needs no server: kubeconfig parsing, bad input, unreachable servers."""

from __future__ import annotations

import base64
import socket
from pathlib import Path

import pytest
import yaml

from kubelite.api.resources import NODES, PODS
from kubelite.client.rest import ApiClient, ApiError, is_connection_error


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_kubeconfig(path: Path, server: str, user: dict[str, object], cluster_extra: dict[str, object] | None = None,
                     ) -> None:
    cluster: dict[str, object] = {"server": server}
    cluster.update(cluster_extra or {})
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "main",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "main", "context": {"cluster": "c", "user": "u"}},
                     {"name": "other", "context": {"cluster": "c", "user": "u", "namespace": "x"}}],
    }))


async def test_kubeconfig_token_and_insecure_flag_are_used(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    write_kubeconfig(cfg, "https://127.0.0.1:6443", {"token": "sekret"}, {"insecure-skip-tls-verify": True})
    client = ApiClient.from_kubeconfig(str(cfg))
    assert client.server == "https://127.0.0.1:6443" and client.token == "sekret"
    await client.close()


def test_kubeconfig_with_a_ca_that_is_not_pem_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    write_kubeconfig(cfg, "https://127.0.0.1:6443", {"token": "t"},
                     {"certificate-authority-data": base64.b64encode(b"not a certificate").decode()})
    with pytest.raises(ValueError, match="cannot set up TLS"):
        ApiClient.from_kubeconfig(str(cfg))


def test_kubeconfig_problems_are_clear_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read kubeconfig"):
        ApiClient.from_kubeconfig(str(tmp_path / "missing"))
    bad = tmp_path / "bad"
    bad.write_text("a: [unclosed")
    with pytest.raises(ValueError, match="not valid YAML"):
        ApiClient.from_kubeconfig(str(bad))
    cfg = tmp_path / "config"
    write_kubeconfig(cfg, "https://127.0.0.1:6443", {"token": "t"})
    with pytest.raises(ValueError, match="no context named 'nope'"):
        ApiClient.from_kubeconfig(str(cfg), context="nope")
    assert ApiClient.from_kubeconfig(str(cfg), context="other").server == "https://127.0.0.1:6443"


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="http"):
        ApiClient("ftp://x")


async def test_bad_call_arguments_are_rejected_before_any_request() -> None:
    client = ApiClient(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ValueError):
        await client.get(PODS, "a/b", "default")
    with pytest.raises(ValueError, match="patch_type"):
        await client.patch(PODS, "a", {}, "default", patch_type="yaml")
    with pytest.raises(ValueError, match="namespace"):
        await client.create(PODS, {"metadata": {"name": "x"}})
    with pytest.raises(ValueError, match="field_manager"):
        await client.patch(NODES, "n", {}, patch_type="apply")
    await client.close()


async def test_an_unreachable_server_is_an_api_error_with_code_0() -> None:
    async with ApiClient(f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(ApiError) as e:
            await client.get(PODS, "web", "default")
        assert is_connection_error(e.value) and e.value.code == 0
        with pytest.raises(ApiError) as e:
            async for _ in client.watch(PODS):
                pass
        assert is_connection_error(e.value)


async def test_a_full_unix_socket_backlog_is_waited_out_not_an_error(tmp_path: Path) -> None:
    """A unix socket whose accept queue is full refuses a connect at once (EAGAIN); TCP would
    resend its SYN. The client waits and retries, so a busy local API server is slow, not down."""
    import asyncio

    path = str(tmp_path / "api.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(0)
    fillers = []
    try:
        while True:  # fill the accept queue: the next connect would fail with EAGAIN
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(path)
            except BlockingIOError:
                s.close()
                break
            fillers.append(s)
        client = ApiClient(f"unix://{path}", request_timeout=10)
        request = asyncio.ensure_future(client.get(NODES, "n1"))
        await asyncio.sleep(0.3)
        assert not request.done()  # still retrying, not failed

        def serve() -> None:
            listener.settimeout(5)
            for _ in fillers:  # the queued connections first, then the client's retry
                listener.accept()[0].close()
            conn, _ = listener.accept()
            conn.settimeout(5)
            assert conn.recv(65536).startswith(b"GET /api/v1/nodes/n1")
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
                         b'{"kind": "Node"}')
            conn.close()

        await asyncio.to_thread(serve)
        assert await asyncio.wait_for(request, 10) == {"kind": "Node"}
        await client.close()
    finally:
        for s in fillers:
            s.close()
        listener.close()
