"""The kubelet server over real HTTPS and WebSockets, with the sim runtime or a host stand-in.

The stand-in (`HostRuntime`) is the sim runtime whose exec runs a real process on this machine
and whose port-forward connects to a real TCP server on 127.0.0.1: the bytes kubectl would see
go through real pipes and sockets, only the namespaces are missing (test_server_e2e has those).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubelite.kubelet import spdy, streaming
from kubelite.kubelet.server import (
    KubeletServer,
    PodRef,
    allow_all,
    bearer_token_authenticator,
    log_options,
)
from kubelite.runtime.sim import SimRuntime
from kubelite.runtime.types import ContainerConfig, PodSandboxConfig


class HostExecSession:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        assert proc.stdout is not None
        self.stdout: asyncio.StreamReader = proc.stdout
        self.stderr: asyncio.StreamReader | None = proc.stderr
        self.stdin: asyncio.StreamWriter | None = proc.stdin
        self.resized: list[tuple[int, int]] = []

    async def wait(self) -> int:
        return await self.proc.wait()

    def resize(self, width: int, height: int) -> None:
        self.resized.append((width, height))

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


class HostRuntime(SimRuntime):
    """Sim runtime with real exec (a host process) and real port-forward (to 127.0.0.1)."""

    def __init__(self) -> None:
        super().__init__(start_latency=0)
        self.sessions: list[HostExecSession] = []

    async def exec_stream(self, container_id: str, cmd: list[str], *, tty: bool = False,
                          stdin: bool = False) -> Any:
        self._container(container_id)
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        session = HostExecSession(proc)
        self.sessions.append(session)
        return session

    async def port_forward(self, sandbox_id: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self._sandbox(sandbox_id)
        from kubelite.runtime.types import RuntimeError_
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError as err:
            raise RuntimeError_(f"cannot connect to port {port} in the pod: {err.strerror}") from err


class Node:
    """A KubeletServer over a runtime, with one pod `default/web` (container `app`)."""

    def __init__(self, runtime: SimRuntime, server: KubeletServer, ref: PodRef) -> None:
        self.runtime = runtime
        self.server = server
        self.ref = ref
        self.base = f"https://127.0.0.1:{server.port}"
        self.ssl = ssl.create_default_context(cafile=str(server.tls_cert_dir / "kubelet.crt"))
        self.ssl.check_hostname = False  # the cert is self-signed; we pin it as the CA

    def session(self, headers: dict[str, str] | None = None) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(headers=headers or {})


async def _make_pod(rt: SimRuntime, name: str = "web", annotations: dict[str, str] | None = None) -> PodRef:
    await rt.pull_image("busybox")
    cfg = PodSandboxConfig(name=name, uid=f"uid-{name}", namespace="default")
    sid = await rt.run_pod_sandbox(cfg)
    cid = await rt.create_container(sid, ContainerConfig(name="app", image="busybox", annotations=annotations or {}),
                                    cfg)
    await rt.start_container(cid)
    return PodRef(uid=cfg.uid, sandbox_id=sid, containers={"app": cid}, name=name, namespace="default")


@pytest_asyncio.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    rt = HostRuntime()
    ref = await _make_pod(rt)
    pods = {("default", "web"): ref}
    server = KubeletServer(rt, lambda ns, n: pods.get((ns, n)), host="127.0.0.1", port=0,
                           tls_cert_dir=tmp_path / "tls", authenticate=bearer_token_authenticator("s3cret"))
    await server.start()
    n = Node(rt, server, ref)
    n.pods = pods  # type: ignore[attr-defined]
    try:
        yield n
    finally:
        await server.stop()
        for s in rt.sessions:
            await s.close()


AUTH = {"Authorization": "Bearer s3cret"}


async def _get(node: Node, path: str, headers: dict[str, str] | None = AUTH) -> tuple[int, str, bytes]:
    async with node.session(headers) as s, s.get(node.base + path, ssl=node.ssl) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.read()


# ------------------------------------------------------------------ auth, health


async def test_requests_without_credentials_are_unauthorized_but_healthz_answers(node: Node) -> None:
    status, ctype, body = await _get(node, "/containerLogs/default/web/app", headers=None)
    assert status == 401 and ctype == "application/json"
    assert orjson.loads(body)["reason"] == "Unauthorized"
    status, _, body = await _get(node, "/containerLogs/default/web/app", headers={"Authorization": "Bearer no"})
    assert status == 401
    assert (await _get(node, "/healthz", headers=None))[::2] == (200, b"ok")


def test_a_server_without_any_authentication_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ca_file"):
        KubeletServer(SimRuntime(), lambda ns, n: None, tls_cert_dir=tmp_path)


def _ca_and_client(tmp: Path) -> tuple[Path, Path, Path]:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .sign(ca_key, hashes.SHA256()))
    (tmp / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp / "client.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "client.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return tmp / "ca.crt", tmp / "client.crt", tmp / "client.key"


async def test_client_certificates_signed_by_the_cluster_ca_are_accepted(tmp_path: Path) -> None:
    ca, crt, key = await asyncio.to_thread(_ca_and_client, tmp_path)
    rt = SimRuntime(start_latency=0)
    ref = await _make_pod(rt)
    server = KubeletServer(rt, lambda ns, n: ref, host="127.0.0.1", port=0, tls_cert_dir=tmp_path / "tls",
                           ca_file=ca)
    await server.start()
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # as the apiserver proxy does
        url = f"https://127.0.0.1:{server.port}/containerLogs/default/web/app"
        async with aiohttp.ClientSession() as s, s.get(url, ssl=ctx) as r:
            assert r.status == 401
        ctx.load_cert_chain(str(crt), str(key))
        async with aiohttp.ClientSession() as s, s.get(url, ssl=ctx) as r:
            assert r.status == 200
            assert await r.text() == "sim: container app started\n"
    finally:
        await server.stop()


# ------------------------------------------------------------------ logs


async def test_logs_are_plain_text_with_tail_and_timestamps(node: Node) -> None:
    status, ctype, body = await _get(node, "/containerLogs/default/web/app")
    assert (status, body) == (200, b"sim: container app started\n")
    assert ctype.startswith("text/plain")
    status, _, body = await _get(node, "/containerLogs/default/web/app?tailLines=0")
    assert (status, body) == (200, b"")
    _, _, body = await _get(node, "/containerLogs/default/web/app?timestamps=true")
    stamp, _, rest = body.partition(b" ")
    assert rest == b"sim: container app started\n" and stamp.endswith(b"Z") and b"T" in stamp


async def test_follow_streams_until_the_container_exits(node: Node) -> None:
    ref = await _make_pod(node.runtime, "job", {"kubelite.io/sim-exit-code": "2", "kubelite.io/sim-exit-after": "0.3s"})
    node.pods[("default", "job")] = ref  # type: ignore[attr-defined]
    status, _, body = await _get(node, "/containerLogs/default/job/app?follow=true")
    assert status == 200
    assert body == b"sim: container app started\nsim: container app exited with code 2\n"


@pytest.mark.parametrize("path, code, message", [
    ("/containerLogs/default/nope/app", 404, 'pod "nope" not found'),
    ("/containerLogs/default/web/other", 400, 'container "other" in pod "web" is waiting to start'),
    ("/containerLogs/default/web/app?previous=true", 400, 'previous terminated container "app" in pod "web"'),
    ("/containerLogs/default/web/app?tailLines=abc", 400, "invalid value for tailLines"),
    ("/containerLogs/default/web/app?sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z", 400, "at most one"),
    ("/containerLogs/default/web/app?sinceTime=yesterday", 400, "sinceTime"),
    ("/containerLogs/default/web/app?follow=maybe", 400, "invalid value for follow"),
])
async def test_bad_log_requests_get_a_status(node: Node, path: str, code: int, message: str) -> None:
    status, ctype, body = await _get(node, path)
    assert status == code and ctype == "application/json"
    doc = orjson.loads(body)
    assert doc["kind"] == "Status" and doc["code"] == code and message in doc["message"]


def test_log_options_map_the_query() -> None:
    opts, previous = log_options({"follow": "true", "tailLines": "10", "timestamps": "1", "sinceSeconds": "5",
                                  "limitBytes": "100", "previous": "false"}, now_ns=10_000_000_000)
    assert (opts.follow, opts.tail, opts.timestamps, opts.since_ns, opts.limit_bytes, previous) == (
        True, 10, True, 5_000_000_000, 100, False)
    opts, _ = log_options({"sinceTime": "2024-01-01T00:00:01Z"}, now_ns=0)
    assert opts.since_ns == 1704067201_000_000_000


# ------------------------------------------------------------------ exec


async def _exec(node: Node, query: str, send: list[bytes] = (), protocol: str = streaming.V5,  # type: ignore[assignment]
                path: str = "/exec/default/web/app") -> tuple[str | None, dict[int, bytes], dict[str, Any] | None, int | None]:
    """Run one exec; returns (protocol, output per channel, status, close code)."""
    out: dict[int, bytes] = {}
    status = None
    async with node.session(AUTH) as s, s.ws_connect(node.base + path + "?" + query, ssl=node.ssl,
                                                      protocols=[protocol]) as ws:
        for m in send:
            await ws.send_bytes(m)
        async for msg in ws:
            assert msg.type == aiohttp.WSMsgType.BINARY
            channel, payload = streaming.parse_frame(msg.data)
            if channel == streaming.STATUS:
                status = orjson.loads(payload)
            else:
                out[channel] = out.get(channel, b"") + payload
        return ws.protocol, out, status, ws.close_code


async def test_exec_streams_stdout_and_stderr_and_reports_success(node: Node) -> None:
    query = urlencode([("command", "sh"), ("command", "-c"), ("command", "echo out; echo err >&2"),
                       ("stdout", "true"), ("stderr", "true")])
    proto, out, status, code = await _exec(node, query)
    assert proto == streaming.V5
    assert out == {1: b"out\n", 2: b"err\n"}
    assert status == {"metadata": {}, "status": "Success"}
    assert code == 1000


async def test_exec_exit_code_is_reported_as_non_zero_exit_code(node: Node) -> None:
    query = urlencode([("command", "sh"), ("command", "-c"), ("command", "exit 3"), ("stdout", "1")])
    _, _, status, code = await _exec(node, query)
    assert status is not None and status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert code == 1000


async def test_exec_stdin_reaches_the_process_and_v5_close_ends_it(node: Node) -> None:
    _, out, status, _ = await _exec(node, "command=cat&stdin=true&stdout=true&stderr=true",
                                    send=[streaming.frame(0, b"hello "), streaming.frame(0, b"world"),
                                          streaming.frame(4, b'{"Width":80,"Height":24}'),
                                          streaming.close_frame(0)])
    assert out == {1: b"hello world"}
    assert status is not None and status["status"] == "Success"
    assert node.runtime.sessions[-1].resized == [(80, 24)]  # type: ignore[attr-defined]


async def test_v4_is_accepted_too(node: Node) -> None:
    proto, out, status, _ = await _exec(node, "command=echo&command=v4&stdout=true", protocol=streaming.V4)
    assert proto == streaming.V4 and out == {1: b"v4\n"} and status is not None and status["status"] == "Success"


async def test_exec_in_an_unknown_container_fails_on_the_status_channel(node: Node) -> None:
    _, out, status, code = await _exec(node, "command=ls&stdout=true", path="/exec/default/web/nope")
    assert out == {} and code == 1000
    assert status is not None and status["status"] == "Failure"
    assert 'container "nope" in pod "web"' in status["message"]
    _, _, status, _ = await _exec(node, "stdout=true")
    assert status is not None and "at least one command" in status["message"]


async def test_exec_with_the_sim_runtime(tmp_path: Path) -> None:
    rt = SimRuntime(start_latency=0)
    ref = await _make_pod(rt)
    server = KubeletServer(rt, lambda ns, n: ref, host="127.0.0.1", port=0, tls_cert_dir=tmp_path, authenticate=allow_all)
    await server.start()
    try:
        node = Node(rt, server, ref)
        _, out, status, _ = await _exec(node, "command=echo&command=hi&stdout=true&stderr=true")
        assert out == {1: b"hi\n"} and status == {"metadata": {}, "status": "Success"}
        _, _, status, _ = await _exec(node, "command=false&stdout=true&stderr=true")
        assert status is not None and status["details"]["causes"][0]["message"] == "1"
    finally:
        await server.stop()


async def test_unsupported_stream_protocols_and_plain_requests_are_refused(node: Node) -> None:
    async with node.session(AUTH) as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await s.ws_connect(node.base + "/exec/default/web/app?command=ls&stdout=true", ssl=node.ssl,
                               protocols=["channel.k8s.io"])
        assert err.value.status == 400
        async with s.post(node.base + "/exec/default/web/app?command=ls", ssl=node.ssl) as r:
            assert r.status == 400 and "WebSocket" in (await r.json())["message"]


async def test_attach_shows_new_output_and_refuses_stdin(node: Node) -> None:
    # (the exit comes late enough for the attach to be in place first, even on a loaded machine)
    ref = await _make_pod(node.runtime, "att", {"kubelite.io/sim-exit-code": "0", "kubelite.io/sim-exit-after": "2s"})
    node.pods[("default", "att")] = ref  # type: ignore[attr-defined]
    _, out, status, _ = await _exec(node, "stdout=true", path="/attach/default/att/app")
    assert out == {1: b"sim: container app exited with code 0\n"}
    assert status == {"metadata": {}, "status": "Success"}
    _, _, status, _ = await _exec(node, "stdin=true&stdout=true", path="/attach/default/att/app")
    assert status is not None and "stdin is not supported" in status["message"]


# ------------------------------------------------------------------ port-forward


class SpdyClient:
    """kubectl's side of port-forward: SPDY/3.1 inside WebSocket binary messages."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.codec = spdy.Codec()
        self.next_id = 1
        self.frames: list[spdy.Frame] = []

    async def send(self, frame: spdy.Frame) -> None:
        await self.ws.send_bytes(self.codec.encode(frame))

    async def open_pair(self, port: int, request_id: int) -> tuple[int, int]:
        err, data = self.next_id, self.next_id + 2
        self.next_id += 4
        await self.send(spdy.SynStream(err, {"streamtype": ["error"], "port": [str(port)],
                                             "requestid": [str(request_id)]}))
        await self.send(spdy.DataFrame(err, b"", fin=True))  # kubectl half-closes the error stream at once
        await self.send(spdy.SynStream(data, {"streamtype": ["data"], "port": [str(port)],
                                              "requestid": [str(request_id)]}))
        return err, data

    async def until(self, done: Any) -> None:
        while not done():
            msg = await self.ws.receive()
            assert msg.type == aiohttp.WSMsgType.BINARY, msg
            self.frames += self.codec.feed(msg.data)

    def fins(self) -> set[int]:
        return {f.stream_id for f in self.frames if isinstance(f, spdy.DataFrame) and f.fin}

    def data(self, sid: int) -> bytes:
        return b"".join(f.data for f in self.frames if isinstance(f, spdy.DataFrame) and f.stream_id == sid)


async def _echo_server() -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # until the client half-closes
        writer.write(b"echo:" + data)
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, srv.sockets[0].getsockname()[1]


async def test_port_forward_relays_bytes_both_ways_with_fins_and_pings(node: Node) -> None:
    srv, port = await _echo_server()
    try:
        async with node.session(AUTH) as s, s.ws_connect(node.base + "/portForward/default/web", ssl=node.ssl,
                                                          protocols=["SPDY/3.1+portforward.k8s.io"]) as ws:
            assert ws.protocol == "SPDY/3.1+portforward.k8s.io"
            c = SpdyClient(ws)
            await c.send(spdy.Ping(1))
            err, data = await c.open_pair(port, 0)
            await c.send(spdy.DataFrame(data, b"hello"))
            await c.send(spdy.DataFrame(data, b"", fin=True))
            err2, data2 = await c.open_pair(port, 1)  # a second local connection, same session
            await c.send(spdy.DataFrame(data2, b"two", fin=True))
            await c.until(lambda: {err, data, err2, data2} <= c.fins())
            assert spdy.Ping(1) in c.frames
            replies = {f.stream_id for f in c.frames if isinstance(f, spdy.SynReply)}
            assert replies == {err, data, err2, data2}
            assert c.data(data) == b"echo:hello" and c.data(data2) == b"echo:two"
            assert c.data(err) == b"" and c.data(err2) == b""
    finally:
        srv.close()
        await srv.wait_closed()


async def test_port_forward_to_a_closed_port_reports_on_the_error_stream(node: Node) -> None:
    srv, port = await _echo_server()
    srv.close()
    await srv.wait_closed()
    async with node.session(AUTH) as s, s.ws_connect(node.base + "/portForward/default/web", ssl=node.ssl,
                                                      protocols=["SPDY/3.1+portforward.k8s.io"]) as ws:
        c = SpdyClient(ws)
        err, data = await c.open_pair(port, 0)
        await c.until(lambda: {err, data} <= c.fins())
        message = c.data(err).decode()
        assert f"error forwarding port {port} to pod default/web" in message and "cannot connect" in message


async def test_port_forward_to_an_unknown_pod_is_not_found(node: Node) -> None:
    async with node.session(AUTH) as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await s.ws_connect(node.base + "/portForward/default/ghost", ssl=node.ssl,
                               protocols=["SPDY/3.1+portforward.k8s.io"])
        assert err.value.status == 404


# ------------------------------------------------------------------ stats


async def test_stats_summary_reports_node_and_pod_usage(node: Node) -> None:
    status, ctype, body = await _get(node, "/stats/summary")
    assert status == 200 and ctype == "application/json"
    doc = orjson.loads(body)
    assert doc["node"]["cpu"]["usageNanoCores"] >= 0
    assert doc["node"]["memory"]["workingSetBytes"] > 0
    (pod,) = doc["pods"]
    assert pod["podRef"] == {"name": "web", "namespace": "default", "uid": "uid-web"}
    (ctr,) = pod["containers"]
    assert ctr["name"] == "app"
    assert ctr["memory"]["workingSetBytes"] == 1 << 20  # what the sim runtime says a container uses
    assert "usageNanoCores" in ctr["cpu"]
    status, _, text = await _get(node, "/metrics/resource")
    assert status == 200
    assert b'container_memory_working_set_bytes{container="app",namespace="default",pod="web"} 1048576' in text
