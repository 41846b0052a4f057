"""The kubelet's HTTPS server: container logs, exec, attach, port-forward and stats.

kubectl never reaches a node directly: the API server proxies pods/log, pods/exec, pods/attach
and pods/portforward here (see kubelite.apiserver.proxy), to the paths the real kubelet serves:

    GET /containerLogs/{ns}/{pod}/{container}?follow&tailLines&timestamps&previous&sinceSeconds&...
    GET /exec/{ns}/{pod}/{container}?command=..&stdin&stdout&stderr&tty   (WebSocket, v5/v4.channel.k8s.io)
    GET /attach/{ns}/{pod}/{container}?stdout&stderr&tty                   (WebSocket, same protocol)
    GET /portForward/{ns}/{pod}                                            (WebSocket, SPDY/3.1+portforward.k8s.io)
    GET /stats/summary    GET /metrics/resource    GET /healthz

The server knows pods only through `pod_lookup(namespace, name) -> PodRef | None`, supplied by the
kubelet's pod workers, and reaches containers only through the `Runtime`.

Authentication: TLS with the node's serving certificate (`tls_cert_dir/kubelet.crt` + `.key`,
self-signed and created on first start when absent). With `ca_file` (the cluster CA) client
certificates are verified during the handshake and any request presenting one is accepted: the
API server presents its admin client certificate. Without `ca_file`, pass `authenticate` (an
async callable deciding per request, e.g. `bearer_token_authenticator(token)`); passing neither
is refused at construction. Everything but /healthz is authenticated.

Errors before a stream starts are `Status` JSON (the API server relays them as they are). Once
an exec/attach WebSocket is open, failures go on channel 3 as a Failure status (kubectl prints
`error: <message>`): refusing the upgrade instead would make kubectl retry with SPDY, which the
API server does not proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from kubelite.kubelet import spdy, streaming
from kubelite.kubelet.stats import StatsCollector, to_resource_metrics
from kubelite.runtime.logs import parse_timestamp_ns
from kubelite.runtime.types import (
    ContainerState,
    LogOptions,
    NotFoundError,
    Runtime,
    RuntimeError_,
    UnsupportedError,
)

log = logging.getLogger(__name__)

PORT_FORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
#: after the pod closed its side of a forwarded connection, how long the client gets to close its own
PORT_FORWARD_LINGER_SECONDS = 1.0
CERT_FILE = "kubelet.crt"
KEY_FILE = "kubelet.key"

Authenticator = Callable[[web.Request], Awaitable[bool]]


@dataclass(slots=True)
class PodRef:
    """What the server needs to find a pod's processes in the runtime."""

    uid: str
    sandbox_id: str
    #: container name -> id of its current (latest) container
    containers: dict[str, str] = field(default_factory=dict)
    #: container name -> id of the container it replaced (for `kubectl logs --previous`)
    previous: dict[str, str] = field(default_factory=dict)
    name: str = ""
    namespace: str = ""


PodLookup = Callable[[str, str], PodRef | None]


class BadRequest(Exception):
    """A request the server refuses with 4xx and a clear message."""

    def __init__(self, message: str, code: int = 400, reason: str = "BadRequest") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


def _status(message: str, code: int, reason: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    return web.Response(status=code, body=orjson.dumps(body), content_type="application/json")


def bearer_token_authenticator(token: str) -> Authenticator:
    """Accept requests carrying `Authorization: Bearer <token>`."""
    expected = token.encode()

    async def check(request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].strip().encode(), expected)

    return check


async def allow_all(request: web.Request) -> bool:
    """No authentication at all: for tests and simulated nodes only."""
    return True


def _has_verified_client_cert(request: web.Request) -> bool:
    # with CERT_OPTIONAL + a CA, the handshake fails for a bad certificate, so one present is verified
    transport = request.transport
    return bool(transport is not None and transport.get_extra_info("peercert"))


def ensure_serving_cert(cert_dir: Path, host: str) -> tuple[Path, Path]:
    """Reuse `kubelet.crt`/`kubelet.key` in `cert_dir`, or create a self-signed pair (blocking)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    cert_path, key_path = cert_dir / CERT_FILE, cert_dir / KEY_FILE
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    cert_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    hostname = socket.gethostname()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{hostname}@kubelite-kubelet")])
    sans: list[x509.GeneralName] = [x509.DNSName(hostname), x509.DNSName("localhost"),
                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    with contextlib.suppress(ValueError):
        if host and host not in ("0.0.0.0", "::", "127.0.0.1"):
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _bool(query: Any, name: str) -> bool:
    value = query.get(name)
    if value is None:
        return False
    if value.lower() in ("", "1", "true", "t", "yes"):
        return True
    if value.lower() in ("0", "false", "f", "no"):
        return False
    raise BadRequest(f"invalid value for {name}: {value!r} (want true or false)")


def _int(query: Any, name: str, minimum: int) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"invalid value for {name}: {value!r} (want an integer)") from None
    if number < minimum:
        raise BadRequest(f"{name} must be at least {minimum}, got {number}")
    return number


def log_options(query: Any, now_ns: int) -> tuple[LogOptions, bool]:
    """LogOptions and `previous` from a /containerLogs query (BadRequest for bad values)."""
    since_seconds = _int(query, "sinceSeconds", 1)
    since_time = query.get("sinceTime")
    if since_seconds is not None and since_time:
        raise BadRequest("at most one of sinceTime or sinceSeconds may be specified")
    since_ns: int | None = None
    if since_seconds is not None:
        since_ns = now_ns - since_seconds * 1_000_000_000
    elif since_time:
        try:
            since_ns = parse_timestamp_ns(since_time)
        except ValueError:
            raise BadRequest(f"invalid value for sinceTime: {since_time!r} (want RFC 3339)") from None
    tail = _int(query, "tailLines", 0) if query.get("tailLines", "") not in ("-1",) else None
    options = LogOptions(
        follow=_bool(query, "follow"),
        tail=tail,
        timestamps=_bool(query, "timestamps"),
        since_ns=since_ns,
        limit_bytes=_int(query, "limitBytes", 1),
    )
    return options, _bool(query, "previous")


class KubeletServer:
    """The node's streaming and stats endpoint (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        pod_lookup: PodLookup,
        *,
        host: str = "0.0.0.0",
        port: int = 10250,
        tls_cert_dir: str | Path,
        ca_file: str | Path | None = None,
        authenticate: Authenticator | None = None,
        node_name: str = "",
    ) -> None:
        if ca_file is None and authenticate is None:
            raise ValueError("KubeletServer needs ca_file (verify client certificates) or authenticate "
                             "(e.g. bearer_token_authenticator(token), or allow_all for tests)")
        self.runtime = runtime
        self.pod_lookup = pod_lookup
        self.host = host
        self.port = port
        self.tls_cert_dir = Path(tls_cert_dir)
        self.ca_file = Path(ca_file) if ca_file is not None else None
        self._authenticate = authenticate
        self.stats = StatsCollector(runtime, node_name or socket.gethostname())
        self._runner: web.AppRunner | None = None
        self._streams: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle
    def _ssl_context(self, cert: Path, key: Path) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert), str(key))
        if self.ca_file is not None:
            ctx.load_verify_locations(cafile=str(self.ca_file))
            ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    async def start(self) -> None:
        cert, key = await asyncio.to_thread(ensure_serving_cert, self.tls_cert_dir, self.host)
        ctx = await asyncio.to_thread(self._ssl_context, cert, key)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self._logs)
        app.router.add_route("*", "/exec/{ns}/{pod}/{container}", self._exec)
        app.router.add_route("*", "/attach/{ns}/{pod}/{container}", self._attach)
        app.router.add_route("*", "/portForward/{ns}/{pod}", self._port_forward)
        app.router.add_get("/stats/summary", self._summary)
        app.router.add_get("/metrics/resource", self._resource_metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.SockSite(self._runner, sock, ssl_context=ctx)
        await site.start()
        log.info("kubelet server listening on https://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        for task in list(self._streams):
            task.cancel()
        for task in list(self._streams):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ plumbing
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        if request.path != "/healthz":
            ok = False
            if self.ca_file is not None and _has_verified_client_cert(request):
                ok = True
            elif self._authenticate is not None:
                ok = await self._authenticate(request)
            if not ok:
                return _status("Unauthorized", 401, "Unauthorized")
        try:
            return await handler(request)
        except BadRequest as err:
            return _status(str(err), err.code, err.reason)
        except web.HTTPException:
            raise
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as err:  # a bug or an unexpected runtime failure: a Status, not a traceback
            log.exception("kubelet server: %s %s failed", request.method, request.path)
            return _status(f"kubelet: {err}", 500, "InternalError")

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    def _pod(self, ns: str, name: str) -> PodRef:
        ref = self.pod_lookup(ns, name)
        if ref is None:
            raise BadRequest(f'pod "{name}" not found on this node', 404, "NotFound")
        return ref

    def _container_id(self, ns: str, name: str, container: str) -> str:
        ref = self._pod(ns, name)
        cid = ref.containers.get(container)
        if not cid:
            raise BadRequest(f'container "{container}" in pod "{name}" is waiting to start')
        return cid

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._streams.add(task)
            task.add_done_callback(self._streams.discard)

    # ------------------------------------------------------------------ logs
    async def _logs(self, request: web.Request) -> web.StreamResponse:
        ns, name, container = (request.match_info[k] for k in ("ns", "pod", "container"))
        options, previous = log_options(request.query, self.stats._clock())
        ref = self._pod(ns, name)
        if previous:
            cid = ref.previous.get(container)
            if not cid:
                raise BadRequest(f'previous terminated container "{container}" in pod "{name}" not found')
        else:
            cid = self._container_id(ns, name, container)
        try:
            status = await self.runtime.container_status(cid)
        except NotFoundError:
            raise BadRequest(f'container "{container}" in pod "{name}" not found', 404, "NotFound") from None
        if status.state == ContainerState.CREATED:
            raise BadRequest(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')
        self._track()
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        chunks = self.runtime.read_logs(cid, options)
        try:
            async for chunk in chunks:
                await resp.write(chunk)
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client went away (or we are stopping): stop following
        except Exception as err:  # the response has started: all we can do is end it
            log.warning("logs of %s/%s/%s ended early: %s", ns, name, container, err)
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await resp.write_eof()
        return resp

    # ------------------------------------------------------------------ exec / attach
    def _stream_protocol(self, request: web.Request) -> str:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise BadRequest("exec and attach are served over WebSocket only (v5.channel.k8s.io); "
                             "SPDY upgrades are not supported")
        proto = streaming.requested_protocol(request)
        if proto is None:
            raise BadRequest(f"unsupported stream protocol(s) "
                             f"{request.headers.get('Sec-WebSocket-Protocol', '')!r}; "
                             f"this kubelet speaks {', '.join(streaming.PROTOCOLS)}")
        return proto

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        ns, name, container = (request.match_info[k] for k in ("ns", "pod", "container"))
        proto = self._stream_protocol(request)
        q = request.query
        cmd = q.getall("command", [])
        problem: str | None = None
        flags = {"stdin": False, "stdout": False, "stderr": False, "tty": False}
        try:
            flags = {k: _bool(q, k) for k in flags}
            if not cmd:
                raise BadRequest("you must specify at least one command for the container")
            if not (flags["stdin"] or flags["stdout"] or flags["stderr"]):
                raise BadRequest("you must specify at least 1 of stdin, stdout, stderr")
            if flags["tty"] and flags["stderr"]:
                flags["stderr"] = False  # a terminal merges stderr into stdout, like the real kubelet
            cid = self._container_id(ns, name, container)
        except BadRequest as err:
            problem = str(err)
        self._track()
        ws = await streaming.open_websocket(request)
        if problem is not None:
            await streaming.send_status_and_close(ws, streaming.failure_status(problem, "BadRequest", 400))
            return ws
        try:
            session = await self.runtime.exec_stream(cid, list(cmd), tty=flags["tty"], stdin=flags["stdin"])
        except Exception as err:  # RuntimeError_, or e.g. OSError from nsenter: a status, not a traceback
            if not isinstance(err, RuntimeError_):
                log.warning("exec in %s/%s/%s failed: %r", ns, name, container, err)
            msg = str(err) or type(err).__name__
            await streaming.send_status_and_close(ws, streaming.failure_status(
                f"cannot exec in container {container} of pod {name}: {msg}"))
            return ws
        await streaming.bridge(ws, session, list(cmd), protocol=proto, tty=flags["tty"],
                               stdout=flags["stdout"], stderr=flags["stderr"])
        return ws

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        """Attach shows the container's output from now on (from its log); stdin is not supported:
        the runtime does not expose a running container's stdin."""
        ns, name, container = (request.match_info[k] for k in ("ns", "pod", "container"))
        self._stream_protocol(request)
        problem: str | None = None
        try:
            if _bool(request.query, "stdin"):
                raise BadRequest("attach with stdin is not supported by this kubelet (output only)")
            cid = self._container_id(ns, name, container)
        except BadRequest as err:
            problem = str(err)
        self._track()
        ws = await streaming.open_websocket(request)
        if problem is not None:
            await streaming.send_status_and_close(ws, streaming.failure_status(problem, "BadRequest", 400))
            return ws
        chunks = self.runtime.read_logs(cid, LogOptions(follow=True, tail=0))
        await streaming.stream_output(ws, chunks)
        return ws

    # ------------------------------------------------------------------ port-forward
    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        ns, name = request.match_info["ns"], request.match_info["pod"]
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise BadRequest("port-forward is served over WebSocket only (SPDY/3.1+portforward.k8s.io)")
        offered = {p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")}
        if PORT_FORWARD_PROTOCOL not in offered:
            raise BadRequest(f"unsupported port-forward protocol(s) "
                             f"{request.headers.get('Sec-WebSocket-Protocol', '')!r}; want {PORT_FORWARD_PROTOCOL}")
        ref = self._pod(ns, name)
        self._track()
        ws = web.WebSocketResponse(protocols=(PORT_FORWARD_PROTOCOL,), autoping=True, max_msg_size=0)
        await ws.prepare(request)
        forwarder = _PortForwarder(self.runtime, ref, f"{ns}/{name}", ws)
        await forwarder.run()
        return ws

    # ------------------------------------------------------------------ stats
    async def _summary(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(await self.stats.summary()), content_type="application/json")

    async def _resource_metrics(self, request: web.Request) -> web.Response:
        text = to_resource_metrics(await self.stats.summary())
        return web.Response(text=text, content_type="text/plain", charset="utf-8")


class _PortForwarder:
    """One kubectl port-forward session: pairs of SPDY streams (error + data) per connection.

    kubectl opens, for every local connection, an `error` stream and a `data` stream that share
    a `requestid` and name the pod `port`. Once both exist we connect to 127.0.0.1:port in the
    pod's network namespace and copy bytes both ways. When the pod closes its side we FIN the
    data stream and, after the client closed its side too (or PORT_FORWARD_LINGER_SECONDS), FIN
    the error stream, which is what kubectl waits for before closing the local connection.
    Failures are written as text on the error stream.
    """

    def __init__(self, runtime: Runtime, ref: PodRef, pod_name: str, ws: web.WebSocketResponse) -> None:
        self.runtime = runtime
        self.ref = ref
        self.pod_name = pod_name
        self.ws = ws
        self.session = spdy.ServerSession(self._send, self._on_stream)
        self._pending: dict[str, dict[str, spdy.Stream]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def _send(self, data: bytes) -> None:
        if not self.ws.closed:
            await self.ws.send_bytes(data)

    def _spawn(self, coro: Any) -> None:
        async def guarded() -> None:
            try:
                await coro
            except (ConnectionError, RuntimeError) as err:  # the WebSocket went away mid-write
                log.debug("port-forward to %s: %s", self.pod_name, err)

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_stream(self, stream: spdy.Stream) -> None:
        kind, request_id = stream.header("streamtype"), stream.header("requestid")
        if kind not in ("error", "data") or request_id is None:
            self._spawn(stream.reset(spdy.RstStatus.PROTOCOL_ERROR))
            return
        pair = self._pending.setdefault(request_id, {})
        if kind in pair:
            self._spawn(stream.reset(spdy.RstStatus.STREAM_IN_USE))
            return
        pair[kind] = stream
        if kind == "error":
            self._spawn(self._drain(stream))  # the client sends nothing on it; read its FIN
        if "error" in pair and "data" in pair:
            del self._pending[request_id]
            self._spawn(self._forward(pair["error"], pair["data"]))

    @staticmethod
    async def _drain(stream: spdy.Stream) -> None:
        while await stream.read():
            pass

    async def _forward(self, error: spdy.Stream, data: spdy.Stream) -> None:
        port_text = data.header("port") or ""
        try:
            try:
                port = int(port_text)
                if not 0 < port < 65536:
                    raise ValueError
            except ValueError:
                raise RuntimeError_(f"invalid port {port_text!r}") from None
            try:
                reader, writer = await self.runtime.port_forward(self.ref.sandbox_id, port)
            except UnsupportedError as err:
                raise RuntimeError_(str(err)) from None
            except OSError as err:
                raise RuntimeError_(f"cannot connect to port {port}: {err.strerror or err}") from None
        except RuntimeError_ as err:
            await error.write(f"error forwarding port {port_text} to pod {self.pod_name}, uid {self.ref.uid}: "
                              f"{err}".encode())
            await error.close()
            await data.close()
            self._forget(error, data)
            return
        up = asyncio.create_task(self._client_to_pod(data, writer))
        down = asyncio.create_task(self._pod_to_client(reader, data))
        try:
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if down in done:
                await asyncio.wait({up}, timeout=PORT_FORWARD_LINGER_SECONDS)
            else:
                await down
        finally:
            for task in (up, down):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            with contextlib.suppress(Exception):
                await data.close()
                await error.close()
            self._forget(error, data)

    def _forget(self, *streams: spdy.Stream) -> None:
        for stream in streams:
            self.session.remove(stream)

    @staticmethod
    async def _client_to_pod(data: spdy.Stream, writer: asyncio.StreamWriter) -> None:
        while chunk := await data.read():
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()

    @staticmethod
    async def _pod_to_client(reader: asyncio.StreamReader, data: spdy.Stream) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(spdy.MAX_DATA_CHUNK):
                await data.write(chunk)
        await data.close()

    async def run(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.BINARY:
                    continue
                try:
                    await self.session.feed(msg.data)
                except spdy.SpdyError as err:
                    log.info("port-forward to %s: %s", self.pod_name, err)
                    with contextlib.suppress(Exception):
                        await self.session.send_frame(spdy.GoAway(0, 1))
                    break
        finally:
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if not self.ws.closed:
                with contextlib.suppress(Exception):
                    await self.ws.close(code=aiohttp.WSCloseCode.OK)
