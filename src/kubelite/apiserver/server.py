"""The API server process: TLS, authentication, routing, bootstrap objects, lifecycle.

`ApiServer(config)` with `start()` / `stop()` is what `kubelite server` runs and what
`kubelite up` embeds. `config.post_start` is the hook for the scheduler and controllers that
run beside the apiserver in the same process: each is an async callable that receives the
local kubeconfig path once the server answers; it runs as a task and is cancelled on stop().

Besides HTTPS, the server listens on a unix socket, `DATA_DIR/apiserver.sock` (mode 0600), for
the components that run on its own host (the embedded scheduler and controllers, `kubelite
scheduler` / `controller-manager` beside it, `kubelite up`'s nodes). Same HTTP, same bearer-token
authentication, no TLS: the kernel already keeps the bytes on this host, and TLS was ~150 us of
CPU per request on each side. `DATA_DIR/kubeconfig-local.yaml` names it (`unix://...`); kubectl
cannot use that one and keeps `kubeconfig.yaml`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from kubelite.api.resources import ENDPOINTS, ENDPOINTSLICES, NAMESPACES, PODS, RESOURCES, SERVICES, Resource
from kubelite.apiserver import adapters, discovery, errors, metricsapi, objects
from kubelite.apiserver.allocator import ServiceAllocator
from kubelite.apiserver.certs import KUBERNETES_SERVICE_IP, Identity, ensure_identity, write_kubeconfig
from kubelite.apiserver.errors import ApiError
from kubelite.apiserver.http import SLOW_REQUEST, STUCK_REQUEST, Answer, HttpServer, Reply, Request, Stream
from kubelite.apiserver.metrics import Metrics, TimedStore
from kubelite.apiserver.metricsapi import MetricsApi
from kubelite.apiserver.priority import RETRY_AFTER_SECONDS, FlowControl, FlowControlConfig
from kubelite.apiserver.proxy import KubeletProxy
from kubelite.apiserver.rest import (
    JSON,
    MAX_BODY,
    USER_KEY,
    Options,
    Rest,
    Target,
    json_response,
    node_name_of,
    parse_path,
)
from kubelite.apiserver.watchcache import WatchCache, decode
from kubelite.storage import Store, StoreUnavailableError, open_store

log = logging.getLogger(__name__)

ANONYMOUS_PATHS = frozenset(("/healthz", "/livez", "/readyz", "/version", "/version/"))
BOOTSTRAP_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PostStart = Callable[[Path], Awaitable[None]]
#: AF_UNIX paths are limited to 108 bytes with the terminating NUL
MAX_UNIX_PATH = 107


@dataclass
class ServerConfig:
    data_dir: Path
    bind_address: str = "127.0.0.1"
    port: int = 6443
    #: datastore URL; default sqlite:///<data_dir>/state.db
    datastore: str | None = None
    #: admin bearer token; default: generated once and kept in <data_dir>/token
    token: str | None = None
    #: seconds between BOOKMARK events for watchers that allow them
    bookmark_interval: float = 5.0
    #: host written into the kubeconfig (default: the bind address, or 127.0.0.1)
    advertise_host: str | None = None
    #: extra names/IPs for the serving certificate
    extra_sans: list[str] = field(default_factory=list)
    #: async callables started (as tasks) once the server answers; receive the kubeconfig path
    post_start: list[PostStart] = field(default_factory=list)
    #: an already-open store to use instead of opening `datastore` (embedding, tests)
    store: Store | None = None
    #: ring size of each resource's watch cache history
    watch_history: int = 20000
    #: API priority and fairness: concurrency per priority level, queues (see priority.py)
    flow_control: FlowControlConfig = field(default_factory=FlowControlConfig)
    #: also listen on DATA_DIR/apiserver.sock for components on this host (see the module docstring)
    local_socket: bool = True
    #: a request slower than this many seconds logs one warning line naming where its time went
    #: (docs/apiserver.md, "Slow requests"); one still in progress after `stuck_request` is logged too
    slow_request: float = SLOW_REQUEST
    stuck_request: float = STUCK_REQUEST

    def __post_init__(self) -> None:
        if not self.slow_request > 0 or not self.stuck_request > 0:
            raise ValueError("the slow and stuck request thresholds must be > 0 seconds")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    groups: tuple[str, ...]


class ApiServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.flow_control = FlowControl(config.flow_control)
        self.metrics.registry.register(self.flow_control)
        self.identity: Identity | None = None
        self.store: Store | None = None
        self.caches: dict[str, WatchCache] = {}
        self.allocator = ServiceAllocator()
        self.rest: Rest | None = None
        self.proxy: KubeletProxy | None = None
        self.metrics_api: MetricsApi | None = None
        self.runner: web.BaseRunner | None = None
        self.http: HttpServer | None = None
        self.port = config.port
        self._post_tasks: list[asyncio.Task[None]] = []
        self._owns_store = config.store is None
        self._discovery: discovery.DiscoveryCache | None = None
        self._listening_local = False
        self.ready = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        host = self.config.advertise_host or ("127.0.0.1" if self.config.bind_address in ("0.0.0.0", "::")
                                              else self.config.bind_address)
        return f"https://{host}:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.config.data_dir / "kubeconfig.yaml"

    @property
    def socket_path(self) -> Path:
        return self.config.data_dir / "apiserver.sock"

    @property
    def local_kubeconfig(self) -> Path:
        """The kubeconfig for components on this host: the unix socket if it is listening, else HTTPS."""
        return self.config.data_dir / "kubeconfig-local.yaml"

    async def start(self) -> None:
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        family = socket.AF_INET6 if ":" in cfg.bind_address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((cfg.bind_address, cfg.port))
        except OSError:
            sock.close()
            raise
        sock.listen(1024)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self.identity = await asyncio.to_thread(ensure_identity, cfg.data_dir, cfg.bind_address, self.port,
                                                cfg.token, cfg.extra_sans, cfg.advertise_host)
        inner = cfg.store or await open_store(cfg.datastore or f"sqlite:///{cfg.data_dir / 'state.db'}")
        self.store = TimedStore(inner, self.metrics)  # type: ignore[assignment]
        assert self.store is not None
        for r in RESOURCES:
            if r.group == "events.k8s.io" or "watch" not in r.verbs:
                continue
            prefix = r.storage_prefix()
            if prefix not in self.caches:
                self.caches[prefix] = WatchCache(self.store, prefix, cfg.watch_history, cfg.bookmark_interval,
                                                 index_fn=node_name_of if r is PODS else None)
        await asyncio.gather(*(c.start() for c in self.caches.values()))
        self.proxy = KubeletProxy(None, (str(self.identity.admin_cert), str(self.identity.admin_key)),
                                  self.identity.token)
        self.rest = Rest(self.store, self.caches, self.allocator, cfg.bookmark_interval,
                         on_watch=self.metrics.watch_delta)
        self.proxy.rest = self.rest
        self.metrics_api = MetricsApi(self.rest, self.proxy)
        svc_cache = self.caches[SERVICES.storage_prefix()]
        self.allocator.load(svc_cache.values())
        await self._bootstrap()
        self._discovery = discovery.DiscoveryCache(f"{cfg.advertise_host or cfg.bind_address}:{self.port}")

        # kubelite's own HTTP server (apiserver/http.py) on every listener; aiohttp's low-level
        # server takes the connections that upgrade (exec, attach, port-forward over WebSocket).
        loop = asyncio.get_running_loop()

        def make_request(message: Any, payload: Any, protocol: Any, writer: Any,
                         task: asyncio.Task[None]) -> web.BaseRequest:
            return web.BaseRequest(message, payload, protocol, writer, task, loop,
                                   client_max_size=MAX_BODY + 1024)

        lowlevel = web.Server(self._serve_upgraded, request_factory=make_request, access_log=None,  # type: ignore[arg-type]
                              max_field_size=65536)
        self.runner = web.ServerRunner(lowlevel, handle_signals=False, shutdown_timeout=1.0)
        await self.runner.setup()
        self.http = HttpServer(self.handle, lowlevel)
        self.http.slow_request = cfg.slow_request
        self.http.stuck_request = cfg.stuck_request
        # the local socket and its kubeconfig first: whoever sees HTTPS answer finds both ready
        local_url = await self._listen_local()
        await asyncio.to_thread(write_kubeconfig, self.identity, local_url or self.url, self.local_kubeconfig)
        await self.http.listen(sock, self._ssl_context())
        self.ready.set()
        log.info("kubelite apiserver listening on %s%s (datastore %s)", self.url,
                 f" and {local_url}" if local_url else "", cfg.datastore or "sqlite")
        for hook in cfg.post_start:
            self._post_tasks.append(asyncio.create_task(self._run_hook(hook), name=f"post-start {hook!r}"))

    async def _listen_local(self) -> str | None:
        """The unix socket for components on this host; None when it cannot be had (the local
        kubeconfig then names HTTPS, so those components still work)."""
        path = self.socket_path
        if not self.config.local_socket:
            return None
        if len(str(path).encode()) > MAX_UNIX_PATH:
            log.warning("%s is too long for a unix socket: local components use HTTPS", path)
            return None
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left by a server that died: nothing listens on it any more
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(path))
            os.chmod(path, 0o600)  # before listen(): nobody else can connect in between
            sock.listen(1024)
            sock.setblocking(False)
            assert self.http is not None
            await self.http.listen(sock)
        except OSError as e:
            sock.close()
            log.warning("cannot listen on %s (%s): local components use HTTPS", path, e)
            return None
        self._listening_local = True
        return f"unix://{path}"

    async def _run_hook(self, hook: PostStart) -> None:
        try:
            await hook(self.local_kubeconfig)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failing component must not take the apiserver down
            log.exception("post-start hook %r failed", hook)

    async def stop(self) -> None:
        for t in self._post_tasks:
            t.cancel()
        for t in self._post_tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for c in self.caches.values():
            await c.stop()
        if self.http is not None:
            await self.http.close()
        if self.runner is not None:
            await self.runner.cleanup()
        if self._listening_local:
            with contextlib.suppress(OSError):
                self.socket_path.unlink()
            self._listening_local = False
        if self.proxy is not None:
            await self.proxy.close()
        if self.store is not None and self._owns_store:
            await self.store.close()

    def _ssl_context(self) -> ssl.SSLContext:
        assert self.identity is not None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.identity.serving_cert), str(self.identity.serving_key))
        ctx.load_verify_locations(str(self.identity.ca_cert))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    async def _bootstrap(self) -> None:
        """The namespaces and the `kubernetes` Service every cluster has from the start."""
        assert self.rest is not None
        for ns in BOOTSTRAP_NAMESPACES:
            with contextlib.suppress(ApiError):
                await self.rest.create_object(NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace",
                                                                  "metadata": {"name": ns}}, Options())
        await self._reconcile_kubernetes_service()

    async def advertised_ip(self) -> str:
        """The IP the `kubernetes` Service's endpoints point at: --advertise-host (resolved when it
        is a name), else the bind address, else 127.0.0.1 for a wildcard bind."""
        host = self.config.advertise_host or self.config.bind_address
        if host in ("0.0.0.0", "::", "", "localhost"):
            return "127.0.0.1"
        try:
            return str(ipaddress.ip_address(host.strip("[]")))
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError:
            log.warning("cannot resolve advertised host %r; the kubernetes endpoints use 127.0.0.1", host)
            return "127.0.0.1"
        v4 = [i[4][0] for i in infos if i[0] == socket.AF_INET]
        return str(v4[0] if v4 else infos[0][4][0]) if infos else "127.0.0.1"

    async def _reconcile_kubernetes_service(self) -> None:
        """`default/kubernetes`: the Service (10.43.0.1:443), its Endpoints and its EndpointSlice,
        pointing at this apiserver's advertised address and port, as kube-apiserver keeps them."""
        assert self.rest is not None
        ip = await self.advertised_ip()
        ports = [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": self.port}]
        svc = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "kubernetes", "namespace": "default",
                            "labels": {"component": "apiserver", "provider": "kubernetes"}},
               "spec": {"type": "ClusterIP", "clusterIP": KUBERNETES_SERVICE_IP, "sessionAffinity": "None",
                        "ports": ports}}

        def fix_service(cur: dict[str, Any]) -> dict[str, Any]:
            cur.setdefault("spec", {})["ports"] = ports
            return cur

        await self._ensure(SERVICES, svc, lambda cur: (cur.get("spec") or {}).get("ports") == ports, fix_service)

        subsets = [{"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": self.port, "protocol": "TCP"}]}]
        ep = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {
            "name": "kubernetes", "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}}, "subsets": subsets}
        await self._ensure(ENDPOINTS, ep, lambda cur: cur.get("subsets") == subsets,
                           lambda cur: {**cur, "subsets": subsets})

        family = "IPv6" if ":" in ip else "IPv4"
        endpoints = [{"addresses": [ip], "conditions": {"ready": True}}]
        slice_ports = [{"name": "https", "port": self.port, "protocol": "TCP"}]
        es = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": "kubernetes", "namespace": "default",
                           "labels": {"kubernetes.io/service-name": "kubernetes"}},
              "addressType": family, "endpoints": endpoints, "ports": slice_ports}

        def slice_ok(cur: dict[str, Any]) -> bool:
            return (cur.get("addressType") == family and cur.get("ports") == slice_ports
                    and [e.get("addresses") for e in cur.get("endpoints") or []] == [[ip]])

        await self._ensure(ENDPOINTSLICES, es, slice_ok,
                           lambda cur: {**cur, "addressType": family, "endpoints": endpoints, "ports": slice_ports})

    async def _ensure(self, res: Resource, want: dict[str, Any], good: Callable[[dict[str, Any]], bool],
                      fix: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Create `want`, or fix the stored object when `good` says it is out of date."""
        assert self.rest is not None and self.store is not None
        meta = want["metadata"]
        kv = await self.store.get(res.storage_key(meta.get("namespace"), meta["name"]))
        try:
            if kv is None:
                await self.rest.create_object(res, meta.get("namespace"), want, Options())
            elif not good(decode(kv.value, kv.mod_revision)):
                await self.rest.modify(res, meta.get("namespace"), meta["name"], None, Options(), fix)
        except ApiError as e:  # another apiserver sharing the store got there first, or a bad object
            log.warning("bootstrap of %s default/%s: %s", res.plural, meta["name"], e)

    # ------------------------------------------------------------------ requests
    def authenticate(self, request: Request) -> User | None:
        assert self.identity is not None
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[7:].strip()
            if hmac.compare_digest(token.encode(), self.identity.token.encode()):
                return User("admin", ("system:masters", "system:authenticated"))
            return None
        transport = request.transport
        cert = transport.get_extra_info("peercert") if transport is not None else None
        if cert:
            cn = ""
            orgs: list[str] = []
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        orgs.append(v)
            if cn:
                return User(cn, (*orgs, "system:authenticated"))
        return None

    async def _serve_upgraded(self, request: web.BaseRequest) -> web.StreamResponse:
        """aiohttp's entry, for connections handed to it (upgrades): `Expect: 100-continue` as
        its router would answer it, then `handle`; the connection closes after this request."""
        expect = request.headers.get("Expect")
        if expect is not None:
            if expect.lower() != "100-continue":
                return web.Response(status=417, text=f"Unknown Expect: {expect}")
            if request.version >= (1, 1):
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                request.writer.output_size = 0
        reply = await self.handle(await Request.from_aiohttp(request))
        if isinstance(reply, Answer):
            resp: web.StreamResponse = reply.to_aiohttp()
        elif isinstance(reply, Stream):
            assert reply.aiohttp_response is not None
            resp = reply.aiohttp_response
        else:
            resp = reply
        if not resp.prepared:
            resp.force_close()
        return resp

    async def handle(self, request: Request) -> Reply:
        start = time.perf_counter()
        verb, resource = request.method.lower(), ""
        try:
            path = request.path
            if path in ANONYMOUS_PATHS:
                resp = await self.handle_public(request, path)
            else:
                user = self.authenticate(request)
                if user is None:
                    raise errors.unauthorized()
                request[USER_KEY] = user
                t = parse_path(path)
                if t is None:
                    resp = await self.handle_nonresource(request, path, user)
                else:
                    resource = t.res.plural + (f"/{t.sub}" if t.sub else "")
                    verb = self._verb(request, t)
                    request.verb, request.resource, request.namespace, request.name = verb, resource, t.namespace, \
                        t.name
                    level = self.flow_control.level(t.res.plural, t.namespace, t.name, t.sub, verb)
                    if level is None:
                        resp = await self.handle_resource(request, t, verb)
                    else:
                        request.phase = "seat"
                        seat = request.phase_started = time.perf_counter()
                        try:
                            await level.acquire()
                        finally:
                            request.seat_seconds = time.perf_counter() - seat
                            request.phase = "handler"
                        try:
                            resp = await self.handle_resource(request, t, verb)
                        finally:
                            level.release()
        except ApiError as e:
            resp = json_response(e.status(), e.code,
                                 {"Retry-After": str(RETRY_AFTER_SECONDS)} if e.code == 429 else None)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except StoreUnavailableError as e:  # the datastore, not a bug here: one line, not a traceback
            log.warning("datastore unavailable serving %s %s: %s", request.method, request.path, e)
            resp = json_response(errors.internal(str(e) or type(e).__name__).status(), 500)
        except Exception as e:  # noqa: BLE001 - never a traceback to the client
            log.exception("internal error serving %s %s", request.method, request.path)
            resp = json_response(errors.internal(str(e) or type(e).__name__).status(), 500)
        self.metrics.observe(verb, resource, resp.status, time.perf_counter() - start)
        return resp

    @staticmethod
    def _verb(request: Request, t: Target) -> str:
        m = request.method
        if m == "GET":
            if request.query.get("watch") in ("true", "1") or "/watch/" in request.path:
                return "watch"
            return "list" if t.name is None else "get"
        return {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if t.name else "deletecollection"}.get(m, m.lower())

    async def handle_public(self, request: Request, path: str) -> Reply:
        assert self._discovery is not None
        if path.startswith("/version"):
            return web.Response(body=self._discovery.version, content_type=JSON)
        return web.Response(text="ok", content_type="text/plain")

    async def handle_nonresource(self, request: Request, path: str, user: User) -> Reply:
        d = self._discovery
        assert d is not None
        path = path.rstrip("/") or "/"
        method = request.method
        if path.startswith(metricsapi.PREFIX + "/"):
            assert self.metrics_api is not None
            return await self.metrics_api.handle(request, path)
        if method == "GET":
            if path in ("/api", "/apis"):
                ct = discovery.wants_aggregated(request.headers.get("Accept", ""))
                if ct is not None:
                    body = (d.agg_core if path == "/api" else d.agg_apis)[ct]
                    return web.Response(body=body, headers={"Content-Type": ct, "Vary": "Accept"})
                return web.Response(body=d.api if path == "/api" else d.apis, content_type=JSON,
                                    headers={"Vary": "Accept"})
            if path == "/api/v1":
                return web.Response(body=d.lists["v1"], content_type=JSON)
            parts = path.strip("/").split("/")
            if parts[0] == "apis" and len(parts) == 2 and parts[1] in d.groups:
                return web.Response(body=d.groups[parts[1]], content_type=JSON)
            if parts[0] == "apis" and len(parts) == 3 and f"{parts[1]}/{parts[2]}" in d.lists:
                return web.Response(body=d.lists[f"{parts[1]}/{parts[2]}"], content_type=JSON)
            if path == "/metrics":
                return web.Response(body=self.metrics.render(), content_type="text/plain",
                                    charset="utf-8")
            if path == "/openapi/v3":
                return json_response(adapters.openapi_v3_paths())
            if path.startswith("/openapi/v3/"):
                gv_path = path[len("/openapi/v3/"):]
                gv = gv_path[len("api/"):] if gv_path.startswith("api/") else gv_path[len("apis/"):]
                doc = adapters.openapi_v3_document(gv)
                if doc is not None:
                    return json_response(doc)
        if method == "POST" and path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
            return await self._ssar(request)
        if method == "POST" and path in ("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                         "/apis/authentication.k8s.io/v1beta1/selfsubjectreviews"):
            return json_response({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                                  "metadata": {"creationTimestamp": objects.now_iso()},
                                  "status": {"userInfo": {"username": user.name, "groups": list(user.groups)}}},
                                 201)
        if self._looks_like_resource(path):
            raise errors.route_not_found(path)
        raise errors.route_not_found(path)

    @staticmethod
    def _looks_like_resource(path: str) -> bool:
        return path.startswith(("/api/", "/apis/"))

    async def _ssar(self, request: Request) -> Reply:
        assert self.rest is not None
        body = await self.rest.read_body(request)
        review: dict[str, Any] = {}
        if body.strip():
            decoded = self.rest.decode_object(body, request.headers.get("Content-Type", "application/json"))
            review = decoded
        return json_response({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                              "metadata": {"creationTimestamp": None}, "spec": review.get("spec") or {},
                              "status": {"allowed": True, "reason": "kubelite allows every authenticated user"}},
                             201)

    async def handle_resource(self, request: Request, t: Target, verb: str) -> Reply:
        rest = self.rest
        assert rest is not None and self.proxy is not None
        res: Resource = t.res
        m = request.method
        if t.sub in ("log", "exec", "attach", "portforward"):
            if m not in ("GET", "POST"):
                raise errors.method_not_allowed()
            assert t.namespace is not None and t.name is not None
            return await self.proxy.handle(request, t.namespace, t.name, t.sub)
        if res.plural == "bindings":
            if m != "POST" or t.name is not None:
                raise errors.method_not_allowed()
            return await rest.binding_resource(request, t)
        sub = res.subresource(t.sub) if t.sub else None
        allowed = sub.verbs if sub is not None else res.verbs
        needed = {"list": "list", "watch": "watch", "get": "get", "create": "create", "update": "update",
                  "patch": "patch", "delete": "delete", "deletecollection": "deletecollection"}.get(verb)
        if needed is None or needed not in allowed:
            raise errors.method_not_allowed()
        if m == "GET":
            if t.name is None or (t.sub is None and (request.query.get("watch") in ("true", "1")
                                                     or "/watch/" in request.path)):
                return await rest.list_or_watch(request, t)
            return await rest.get(request, t)
        if m == "POST":
            if t.name is None:
                return await rest.create(request, t)
            return await rest.post_sub(request, t)
        if m == "PUT" and t.name is not None:
            return await rest.update(request, t)
        if m == "PATCH" and t.name is not None:
            return await rest.patch(request, t)
        if m == "DELETE":
            if t.name is None:
                return await rest.delete_collection(request, t)
            return await rest.delete(request, t)
        raise errors.method_not_allowed()


async def run_server(config: ServerConfig, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or forever): what `kubelite server` does."""
    server = ApiServer(config)
    await server.start()
    try:
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        await server.stop()


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)
