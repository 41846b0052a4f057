"""The one HTTP client of the API server: JSON REST verbs and watch streams.

Every kubelite component talks to the API through an `ApiClient`. It keeps one pool of keep-alive
connections (client/transport.py: large, since informers hold watch streams open while workers
issue many small calls), speaks JSON via orjson, authenticates with a bearer token or a client
certificate, and optionally rate-limits itself with a token bucket (`qps`/`burst`, as client-go).

Errors: a non-2xx answer becomes `ApiError` carrying the server's `Status` body; a server that
cannot be reached becomes `ApiError` with code 0 and reason "ConnectionError", so callers can
handle "retry later" in one place.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import errno
import os
import ssl
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import orjson
import yaml

from kubelite.api.resources import Resource
from kubelite.client.clock import TokenBucket
from kubelite.client.transport import HttpPool

#: seconds an idle pooled connection is kept open
KEEPALIVE_SECONDS = 60.0

#: Status reason for failures that never reached the server.
CONNECTION_ERROR = "ConnectionError"

PATCH_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}

_REASON_BY_CODE = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    406: "NotAcceptable", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}


class ApiError(Exception):
    """A failed API call, carrying the server's Status object (or one built to look like it)."""

    def __init__(self, status: dict[str, Any], code: int | None = None) -> None:
        self.status: dict[str, Any] = status
        self.code: int = int(code if code is not None else status.get("code") or 0)
        self.reason: str = str(status.get("reason") or _REASON_BY_CODE.get(self.code, "Unknown"))
        self.message: str = str(status.get("message") or self.reason)
        super().__init__(f"{self.code} {self.reason}: {self.message}")

    @classmethod
    def make(cls, code: int, reason: str, message: str, **details: Any) -> ApiError:
        status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": message, "reason": reason, "code": code}
        if details:
            status["details"] = details
        return cls(status, code)


def is_not_found(e: BaseException) -> bool:
    return isinstance(e, ApiError) and e.code == 404


def is_conflict(e: BaseException) -> bool:
    """409 because of a stale resourceVersion (not AlreadyExists, which is also a 409)."""
    return isinstance(e, ApiError) and e.code == 409 and e.reason != "AlreadyExists"


def is_already_exists(e: BaseException) -> bool:
    return isinstance(e, ApiError) and e.code == 409 and e.reason == "AlreadyExists"


def is_gone(e: BaseException) -> bool:
    """410: the requested resourceVersion was compacted away; the caller must re-list."""
    return isinstance(e, ApiError) and e.code == 410


def is_connection_error(e: BaseException) -> bool:
    return isinstance(e, ApiError) and e.reason == CONNECTION_ERROR


@dataclass(slots=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK (ERROR is raised as ApiError)
    object: dict[str, Any]


def _params(**kw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in kw.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def _load_cert_chain(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """ssl only loads client certificates from files: write them to a private temp dir briefly."""
    with tempfile.TemporaryDirectory(prefix="kubelite-client-") as tmp:
        cert_path, key_path = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        for path, data in ((cert_path, cert_pem), (key_path, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        ctx.load_cert_chain(cert_path, key_path)



#: how often a request that got 429 TooManyRequests is retried (client-go's default)
MAX_429_RETRIES = 10


def _retry_after(header: str | None) -> float:
    """Seconds to wait before retrying a 429: the Retry-After header (integer seconds), 1 to 10."""
    try:
        return float(min(10, max(1, int(header or "1"))))
    except ValueError:
        return 1.0


class ApiClient:
    """An asynchronous client of a Kubernetes-compatible API server (see module docstring).

    `server` is `https://host:port`, `http://host:port`, or `unix:///path/to.sock`.
    """

    def __init__(
        self,
        server: str,
        *,
        token: str | None = None,
        ca_file: str | None = None,
        ca_data: bytes | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        verify: bool = True,
        user_agent: str = "kubelite",
        qps: float = 0,
        burst: int = 0,
        cert_data: bytes | None = None,
        key_data: bytes | None = None,
        request_timeout: float = 60.0,
        pool_size: int = 1000,
    ) -> None:
        self._unix_path: str | None = None
        if server.startswith("unix://"):
            self._unix_path = server[len("unix://"):]
            server = "http://localhost"
        if not server.startswith(("http://", "https://")):
            raise ValueError(f"server must be an http(s):// or unix:// URL, got {server!r}")
        self.server = server.rstrip("/")
        self.token = token
        self.user_agent = user_agent
        self.request_timeout = request_timeout
        self._pool_size = pool_size
        self._ssl: ssl.SSLContext | bool | None = None
        if self.server.startswith("https://"):
            try:
                self._ssl = self._ssl_context(ca_file, ca_data, cert_file, key_file, cert_data, key_data, verify)
            except (ssl.SSLError, OSError) as e:
                raise ValueError(f"cannot set up TLS for {server}: {e}") from None
        self._limiter = TokenBucket(qps, burst or max(1, int(qps))) if qps > 0 else None
        self._pool: HttpPool | None = None
        self._closed = False

    @staticmethod
    def _ssl_context(ca_file: str | None, ca_data: bytes | None, cert_file: str | None, key_file: str | None,
                     cert_data: bytes | None, key_data: bytes | None, verify: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=ca_file, cadata=ca_data.decode() if ca_data else None)
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if cert_file and key_file:
            ctx.load_cert_chain(cert_file, key_file)
        elif cert_data and key_data:
            _load_cert_chain(ctx, cert_data, key_data)
        elif bool(cert_file) != bool(key_file) or bool(cert_data) != bool(key_data):
            raise ValueError("a client certificate needs both the certificate and the key")
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    @classmethod
    def from_kubeconfig(cls, path: str, context: str | None = None, **kw: Any) -> ApiClient:
        """Build a client from a kubeconfig file (its current-context unless `context` is given)."""
        try:
            with open(path, "rb") as f:
                config = yaml.safe_load(f) or {}
        except OSError as e:
            raise ValueError(f"cannot read kubeconfig {path}: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise ValueError(f"kubeconfig {path} is not valid YAML: {e}") from None
        if not isinstance(config, dict):
            raise ValueError(f"kubeconfig {path} is not a mapping")
        base = os.path.dirname(os.path.abspath(path))

        def named(section: str, name: str) -> dict[str, Any]:
            for entry in config.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") == name:
                    inner = entry.get(section[:-1]) or {}
                    return inner if isinstance(inner, dict) else {}
            raise ValueError(f"kubeconfig {path}: no {section[:-1]} named {name!r}")

        ctx_name = context or config.get("current-context")
        if not ctx_name:
            raise ValueError(f"kubeconfig {path} has no current-context; pass context=")
        ctx = named("contexts", ctx_name)
        cluster = named("clusters", str(ctx.get("cluster", "")))
        user = named("users", str(ctx["user"])) if ctx.get("user") else {}
        if not cluster.get("server"):
            raise ValueError(f"kubeconfig {path}: cluster of context {ctx_name!r} has no server")

        def file_path(value: Any) -> str | None:
            return None if not value else (value if os.path.isabs(value) else os.path.join(base, value))

        def data(value: Any) -> bytes | None:
            return base64.b64decode(value) if value else None

        for unsupported in ("exec", "auth-provider", "username"):
            if user.get(unsupported):
                raise ValueError(f"kubeconfig {path}: user {unsupported!r} authentication is not supported "
                                 "(use a token or a client certificate)")
        token = user.get("token")
        if not token and user.get("tokenFile"):
            try:
                with open(str(file_path(user["tokenFile"])), encoding="utf-8") as tf:
                    token = tf.read().strip()
            except OSError as e:
                raise ValueError(f"kubeconfig {path}: cannot read tokenFile: {e.strerror}") from None
        args: dict[str, Any] = {
            "token": token,
            "ca_file": file_path(cluster.get("certificate-authority")),
            "ca_data": data(cluster.get("certificate-authority-data")),
            "cert_file": file_path(user.get("client-certificate")),
            "key_file": file_path(user.get("client-key")),
            "cert_data": data(user.get("client-certificate-data")),
            "key_data": data(user.get("client-key-data")),
            "verify": not cluster.get("insecure-skip-tls-verify", False),
        }
        args.update(kw)
        return cls(str(cluster["server"]), **args)

    # -- plumbing ---------------------------------------------------------------------------------

    def _get_pool(self) -> HttpPool:
        if self._closed:
            raise RuntimeError("ApiClient is closed")
        if self._pool is None:
            url = urlsplit(self.server)
            context = self._ssl if isinstance(self._ssl, ssl.SSLContext) else None
            tls = context is not None
            headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            # idle connections are kept a minute (under the server's 75 s): a controller or a sim
            # fleet that writes in bursts would otherwise pay a new TLS handshake per burst, on
            # both sides (up to a tenth of the controller manager's time in the scale bench)
            self._pool = HttpPool(host=url.hostname or "localhost", port=url.port or (443 if tls else 80),
                                  unix_path=self._unix_path, ssl_context=context,
                                  limit=self._pool_size, keepalive=KEEPALIVE_SECONDS, headers=headers)
        return self._pool

    async def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    @staticmethod
    def _error_from(code: int, body: bytes, method: str, path: str) -> ApiError:
        try:
            status = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            status = None
        if isinstance(status, dict) and status.get("kind") == "Status":
            return ApiError(status, code)
        text = body[:200].decode(errors="replace").strip() if body else ""
        reason = _REASON_BY_CODE.get(code, "Unknown")
        return ApiError.make(code, reason, f"{method} {path}: {text or reason}")

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      body: Any = None, content_type: str = "application/json",
                      request_timeout: float | None = None) -> Any:
        """One JSON request; returns the decoded answer or raises ApiError."""
        raw = await self.request_raw(method, path, params=params, body=body, content_type=content_type,
                                     request_timeout=request_timeout)
        if not raw:
            return {}
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ApiError.make(500, "InternalError", f"{method} {path}: the server answered non-JSON") from None

    async def request_raw(self, method: str, path: str, *, params: dict[str, str] | None = None,
                          body: Any = None, content_type: str = "application/json",
                          request_timeout: float | None = None) -> bytes:
        """One request whose answer body is returned as bytes (e.g. pods/log).

        A 429 (the server's priority and fairness queue was full) is retried after its Retry-After,
        up to MAX_429_RETRIES times within the request's timeout, as client-go does: the server did
        not process the request, so every verb may be retried."""
        data = None if body is None else (body if isinstance(body, bytes) else orjson.dumps(body))
        headers = {"Content-Type": content_type} if data is not None else None
        target = _target(path, params)
        timeout = request_timeout or self.request_timeout
        deadline = time.monotonic() + timeout
        for attempt in range(MAX_429_RETRIES + 1):
            if self._limiter is not None:
                await self._limiter.wait()
            pool = self._get_pool()
            try:
                resp = await pool.request(method, target, headers=headers, body=data,
                                          time_limit=max(0.001, deadline - time.monotonic()))
                if resp.status < 400:
                    return resp.body
                wait = _retry_after(resp.headers.get("retry-after")) if resp.status == 429 else None
                if wait is None or attempt == MAX_429_RETRIES or time.monotonic() + wait >= deadline:
                    raise self._error_from(resp.status, resp.body, method, path)
            except OSError as e:  # TimeoutError included; ConnectionClosed and ProtocolError too
                # A unix socket whose accept queue is full refuses at once (EAGAIN with uvloop,
                # ENOTCONN with asyncio's own loop), where TCP would quietly resend its SYN: nothing
                # was sent, so wait a little and try again.
                if not self._unix_path or e.errno not in (errno.EAGAIN, errno.ENOTCONN) \
                        or attempt == MAX_429_RETRIES:
                    raise ApiError.make(0, CONNECTION_ERROR, f"{method} {path}: {type(e).__name__}: {e}") from e
                wait = min(1.0, 0.02 * 2 ** attempt)
                if time.monotonic() + wait >= deadline:
                    raise ApiError.make(0, CONNECTION_ERROR, f"{method} {path}: {type(e).__name__}: {e}") from e
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # the last attempt returns or raises

    # -- verbs ------------------------------------------------------------------------------------

    @staticmethod
    def _ns(res: Resource, namespace: str | None) -> str | None:
        if res.namespaced:
            return namespace
        return None

    async def get(self, res: Resource, name: str, namespace: str | None = None, *,
                  subresource: str | None = None) -> dict[str, Any]:
        _check_name(name)
        result: dict[str, Any] = await self.request(
            "GET", _quote(res.path(self._ns(res, namespace), name, subresource)))
        return result

    async def list(self, res: Resource, namespace: str | None = None, *, label_selector: str | None = None,
                   field_selector: str | None = None, resource_version: str | None = None,
                   limit: int | None = None, continue_token: str | None = None) -> dict[str, Any]:
        params = _params(labelSelector=label_selector or None, fieldSelector=field_selector or None,
                         resourceVersion=resource_version, limit=limit, **{"continue": continue_token or None})
        result: dict[str, Any] = await self.request("GET", _quote(res.path(self._ns(res, namespace))),
                                                    params=params)
        return result

    async def create(self, res: Resource, obj: dict[str, Any], namespace: str | None = None, *,
                     subresource: str | None = None, name: str | None = None) -> dict[str, Any]:
        ns = self._ns(res, namespace or (obj.get("metadata") or {}).get("namespace"))
        if res.namespaced and not ns:
            raise ValueError(f"creating {res.plural} needs a namespace")
        if subresource and not name:
            raise ValueError(f"creating {res.plural}/{subresource} needs the parent object's name")
        result: dict[str, Any] = await self.request("POST", _quote(res.path(ns, name, subresource)), body=obj)
        return result

    async def replace(self, res: Resource, obj: dict[str, Any], namespace: str | None = None, *,
                      subresource: str | None = None) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        name = meta.get("name")
        if not name:
            raise ValueError("replace needs obj.metadata.name")
        ns = self._ns(res, namespace or meta.get("namespace"))
        if res.namespaced and not ns:
            raise ValueError(f"replacing {res.plural} needs a namespace")
        result: dict[str, Any] = await self.request("PUT", _quote(res.path(ns, name, subresource)), body=obj)
        return result

    async def patch(self, res: Resource, name: str, patch: dict[str, Any] | builtins.list[Any],
                    namespace: str | None = None, *, patch_type: str = "merge", subresource: str | None = None,
                    field_manager: str | None = None, force: bool | None = None) -> dict[str, Any]:
        _check_name(name)
        try:
            content_type = PATCH_CONTENT_TYPES[patch_type]
        except KeyError:
            raise ValueError(f"patch_type must be one of {sorted(PATCH_CONTENT_TYPES)}, got {patch_type!r}") from None
        if patch_type == "apply" and not field_manager:
            raise ValueError("an apply patch needs field_manager")
        params = _params(fieldManager=field_manager, force=force)
        result: dict[str, Any] = await self.request(
            "PATCH", _quote(res.path(self._ns(res, namespace), name, subresource)), params=params,
            body=patch, content_type=content_type)
        return result

    async def delete(self, res: Resource, name: str, namespace: str | None = None, *,
                     grace_period_seconds: int | None = None, propagation_policy: str | None = None,
                     preconditions: dict[str, Any] | None = None) -> dict[str, Any]:
        _check_name(name)
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if preconditions:
            options["preconditions"] = preconditions
        result: dict[str, Any] = await self.request(
            "DELETE", _quote(res.path(self._ns(res, namespace), name)), body=options)
        return result

    async def watch(self, res: Resource, namespace: str | None = None, *, resource_version: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None,
                    allow_bookmarks: bool = True, timeout_seconds: int | None = None,
                    ) -> AsyncIterator[WatchEvent]:
        """Stream change events; ends when the server closes the stream.

        An ERROR event raises ApiError (410 = the resourceVersion is too old: re-list). Leaving the
        `async for` early closes the connection.
        """
        params = _params(watch=True, resourceVersion=resource_version or None,
                         allowWatchBookmarks=True if allow_bookmarks else None,
                         labelSelector=label_selector or None, fieldSelector=field_selector or None,
                         timeoutSeconds=timeout_seconds)
        path = _quote(res.path(self._ns(res, namespace)))
        if self._limiter is not None:
            await self._limiter.wait()
        pool = self._get_pool()
        # No total timeout: a watch lives as long as the server keeps it; a read timeout well past
        # the server's own timeoutSeconds catches dead peers.
        read_timeout = (timeout_seconds + 60) if timeout_seconds else None
        try:
            async with pool.stream("GET", _target(path, params), read_timeout=read_timeout,
                                   connect_timeout=30) as resp:
                if resp.status >= 400:
                    raise self._error_from(resp.status, await resp.read(), "GET", path)
                buf = bytearray()
                async for chunk in resp.chunks():
                    if not buf and chunk.endswith(b"\n"):  # whole lines (the usual): no copying
                        for line in chunk.split(b"\n"):
                            if line:
                                event = _decode_event(line, path)
                                if event is not None:
                                    yield event
                        continue
                    start = len(buf)
                    buf.extend(chunk)
                    nl = buf.find(b"\n", start)
                    while nl >= 0:
                        line = bytes(buf[:nl])
                        del buf[:nl + 1]
                        event = _decode_event(line, path)
                        if event is not None:
                            yield event
                        nl = buf.find(b"\n")
                event = _decode_event(bytes(buf), path)
                if event is not None:
                    yield event
        except OSError as e:  # TimeoutError included
            raise ApiError.make(0, CONNECTION_ERROR, f"watch {path}: {type(e).__name__}: {e}") from e


def _decode_event(line: bytes, path: str) -> WatchEvent | None:
    line = line.strip()
    if not line:
        return None
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise ApiError.make(500, "InternalError", f"watch {path}: undecodable event {line[:100]!r}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("object"), dict):
        raise ApiError.make(500, "InternalError", f"watch {path}: malformed event {line[:100]!r}")
    etype = str(raw.get("type", ""))
    if etype == "ERROR":
        raise ApiError(raw["object"])
    return WatchEvent(etype, raw["object"])


def _check_name(name: str) -> None:
    if not name or not isinstance(name, str) or "/" in name or name in (".", ".."):
        raise ValueError(f"invalid object name {name!r}")


def _quote(path: str) -> str:
    return quote(path, safe="/:@")


def _target(path: str, params: dict[str, str] | None) -> str:
    """The request target: the (already quoted) path and the query, every reserved character escaped."""
    return f"{path}?{urlencode(params, quote_via=quote, safe='')}" if params else path
