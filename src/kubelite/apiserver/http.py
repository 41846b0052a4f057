"""The API server's own HTTP/1.1 server: llhttp (httptools) for parsing, one write per answer.

Why not aiohttp's server: py-spy put aiohttp at ~23 % of the API server's CPU in the
10,000-pod scale run (building a BaseRequest, a multidict of headers, a payload stream, a
Response with its own header multidict, the StreamWriter) for requests whose own work is a
few hundred microseconds. What the handlers need is small: method, path, query, headers, the
whole body, the transport (client certificates; watches write to it directly), and an answer
of status, content type, headers and body. This module gives exactly that.

Connections that ask for an upgrade (kubectl exec, attach and port-forward dial a new
connection and upgrade it to WebSocket) are handed to aiohttp's server at their first
request, with the bytes read so far: its WebSocket support is a solved problem kept.

One request at a time per connection (clients do not pipeline; if one does, the next request
waits its turn); a slow reader of a big answer stops the next answer until its buffer drains;
idle connections close after KEEPALIVE seconds, as aiohttp's did.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote

import httptools
from aiohttp import web
from multidict import MultiDict, MultiDictProxy

log = logging.getLogger(__name__)

#: seconds an idle keep-alive connection stays open (aiohttp's default)
KEEPALIVE = 75.0
#: a request body larger than this is not kept (the handler answers 413)
MAX_BODY_KEPT = 3 * 1024 * 1024 + 1024
#: requests parsed ahead of the one being served before the connection stops reading
MAX_QUEUED = 8
#: answers larger than this are written apart from their head (no concatenated copy)
SPLIT_WRITE = 64 * 1024
#: a request slower than this (seconds, headers parsed to answer written) logs one warning line
#: naming where its time went (Kubernetes' request trace threshold is 5 s as well)
SLOW_REQUEST = 5.0
#: a request still in progress after this many seconds is logged once as stuck, naming the phase
#: it is in (it logs its slow-request line too when it ends, if it ever does)
STUCK_REQUEST = 30.0

#: the request the current task serves: the store wrapper (metrics.TimedStore) adds its calls'
#: time to it. Each request runs in its own task, so setting it never leaks to another request.
current_request: contextvars.ContextVar[Request | None] = contextvars.ContextVar("kubelite_request", default=None)

#: methods that change nothing (a late one does no harm)
_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))

_REASONS = {s.value: s.phrase.encode("latin-1") for s in HTTPStatus}


class Headers(dict[str, str]):
    """Request headers by lower-cased name; a repeated header's values joined with ", "."""

    __slots__ = ()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return dict.get(self, key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self, key.lower())

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key.lower() if isinstance(key, str) else key)

    def add(self, name: str, value: str) -> None:
        """One more header line (`name` already lower-cased)."""
        if dict.__contains__(self, name):
            value = f"{dict.__getitem__(self, name)}, {value}"
        dict.__setitem__(self, name, value)


class Request:
    """One HTTP request as the handlers see it, from this server or (upgrades) from aiohttp's."""

    __slots__ = ("method", "path", "raw_path", "query_string", "headers", "version", "body", "transport",
                 "body_too_large", "aiohttp", "complete", "_parts", "_size", "_waiter", "_query", "_state", "_conn",
                 "started", "phase", "seat_seconds", "body_seconds", "store_seconds", "store_calls", "write_seconds",
                 "queued_seconds", "phase_started", "verb", "resource", "namespace", "name", "code", "reported")

    def __init__(self, method: str, raw_path: str, query_string: str, headers: Headers,
                 version: tuple[int, int], body: bytes, transport: asyncio.BaseTransport | None,
                 body_too_large: bool = False) -> None:
        self.method = method
        self.raw_path = raw_path
        self.path = unquote(raw_path) if "%" in raw_path else raw_path
        self.query_string = query_string
        self.headers = headers
        self.version = version
        self.body = body
        self.transport = transport
        self.body_too_large = body_too_large
        #: the aiohttp request this one was made from (upgraded connections), else None
        self.aiohttp: web.BaseRequest | None = None
        #: whether the whole body has arrived (handlers start at the end of the headers, as
        #: aiohttp's did: a request holds its priority level's seat while its body arrives)
        self.complete = True
        self._parts: list[bytes] = []
        self._size = 0
        self._waiter: asyncio.Future[None] | None = None
        self._query: MultiDictProxy[str] | None = None
        self._state: dict[Any, Any] | None = None
        self._conn: HttpConnection | None = None
        # the slow-request trace (docs/apiserver.md, "Slow requests"): plain floats and references
        # to strings that exist anyway, so a fast request pays a few attribute stores
        #: perf_counter when the headers were parsed
        self.started = time.perf_counter()
        #: what the request is doing now: queued, seat, body, handler, store, write
        self.phase = "queued"
        #: perf_counter when the waiting phase (seat, body, store, write) began: a stuck line counts it
        self.phase_started = self.started
        #: headers parsed to the handler's start (behind an earlier request of its connection)
        self.queued_seconds = 0.0
        self.seat_seconds = 0.0
        self.body_seconds = 0.0
        self.store_seconds = 0.0
        self.store_calls = 0
        self.write_seconds = 0.0
        self.verb = ""
        self.resource = ""
        self.namespace: str | None = None
        self.name: str | None = None
        self.code = 0
        #: already logged as stuck (in progress past the stuck limit)
        self.reported = False

    @classmethod
    async def from_aiohttp(cls, request: web.BaseRequest) -> Request:
        """The same view of a request aiohttp's server parsed (a connection handed to it)."""
        headers = Headers()
        for k, v in request.headers.items():
            headers.add(k.lower(), v)
        too_large = False
        try:
            body = await request.read() if request.can_read_body else b""
        except web.HTTPRequestEntityTooLarge:
            body, too_large = b"", True
        raw = request.raw_path
        path, _, qs = raw.partition("?")
        out = cls(request.method, path, qs, headers, (request.version.major, request.version.minor), body,
                  request.transport, too_large)
        out.aiohttp = request
        return out

    @property
    def query(self) -> MultiDictProxy[str]:
        if self._query is None:
            self._query = MultiDictProxy(MultiDict(parse_qsl(self.query_string, keep_blank_values=True)))
        return self._query

    @property
    def path_qs(self) -> str:
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    @property
    def content_length(self) -> int | None:
        v = self.headers.get("content-length")
        try:
            return int(v) if v is not None else None
        except ValueError:
            return None

    async def read(self) -> bytes:
        if not self.complete:
            if self._waiter is None:
                self._waiter = asyncio.get_running_loop().create_future()
            phase, self.phase = self.phase, "body"
            t = self.phase_started = time.perf_counter()
            try:
                await self._waiter
            finally:
                self.body_seconds += time.perf_counter() - t
                self.phase = phase
        return self.body

    def _add_body(self, data: bytes) -> None:
        self._size += len(data)
        if self._size <= MAX_BODY_KEPT:
            self._parts.append(data)
        else:
            self.body_too_large = True
            self._parts.clear()

    def _finish_body(self, error: BaseException | None = None) -> None:
        parts = self._parts
        self.body = parts[0] if len(parts) == 1 else b"".join(parts)
        self._parts = []
        self.complete = True
        if self._waiter is not None and not self._waiter.done():
            if error is not None:
                self._waiter.set_exception(error)
            else:
                self._waiter.set_result(None)

    def __getitem__(self, key: Any) -> Any:
        if self._state is None:
            raise KeyError(key)
        return self._state[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._state is None:
            self._state = {}
        self._state[key] = value

    def get(self, key: Any, default: Any = None) -> Any:
        return self._state.get(key, default) if self._state is not None else default

    def trace(self, total: float, outcome: str, now: float | None = None) -> str:
        """The slow-request line: what the request was and where its `total` seconds went; `now`
        for a request in progress (the phase it is in counts up to now)."""
        seat, body, store, write = self.seat_seconds, self.body_seconds, self.store_seconds, self.write_seconds
        if now is not None:
            current = now - self.phase_started
            if self.phase == "seat":
                seat += current
            elif self.phase == "body":
                body += current
            elif self.phase == "store":
                store += current
            elif self.phase == "write":
                write += current
        if not self.resource:
            what = self.path
        elif self.name:
            what = f"{self.resource} {self.namespace}/{self.name}" if self.namespace else f"{self.resource} {self.name}"
        else:
            what = f"{self.resource} in {self.namespace}" if self.namespace else self.resource
        accounted = self.queued_seconds + seat + body + store + write
        return (f"{self.verb or self.method.lower()} {what} (user agent {self.headers.get('user-agent', '')!r}): "
                f"{total:.3f}s: queued on its connection {self.queued_seconds:.3f}s, "
                f"priority seat {seat:.3f}s, body {body:.3f}s, store {store:.3f}s in {self.store_calls} call(s), "
                f"handler {max(0.0, total - accounted):.3f}s, write {write:.3f}s; {outcome}")


class Answer:
    """A whole answer: status, content type, extra headers (a mapping or a multidict), body."""

    __slots__ = ("status", "body", "content_type", "headers")

    def __init__(self, body: bytes, status: int = 200, content_type: str = "application/json",
                 headers: Mapping[str, str] | None = None) -> None:
        self.body = body
        self.status = status
        self.content_type = content_type
        self.headers = headers

    def to_aiohttp(self) -> web.Response:
        resp = web.Response(body=self.body, status=self.status, headers=self.headers)
        resp.headers["Content-Type"] = self.content_type
        return resp


class Stream:
    """A chunked answer being written (watches, log streams). `transport` takes already framed
    chunks directly (the watch cache's live lines); `write` frames and waits for the buffer."""

    __slots__ = ("transport", "status", "_conn", "_aiohttp")

    def __init__(self, transport: asyncio.BaseTransport | None, conn: HttpConnection | None,
                 aiohttp_response: web.StreamResponse | None, status: int = 200) -> None:
        self.transport = transport
        self.status = status
        self._conn = conn
        self._aiohttp = aiohttp_response

    async def write(self, data: bytes) -> None:
        if not data:
            return
        if self._aiohttp is not None:
            await self._aiohttp.write(data)
            return
        tr: Any = self.transport
        if tr is None or tr.is_closing():
            raise ConnectionResetError("the client went away")
        tr.write(b"%x\r\n%b\r\n" % (len(data), data))
        if self._conn is not None:
            await self._conn.drain()

    @property
    def aiohttp_response(self) -> web.StreamResponse | None:
        return self._aiohttp


#: what a handler returns
Reply = Answer | Stream | web.StreamResponse


async def open_stream(request: Request, headers: Mapping[str, str], status: int = 200) -> Stream:
    """Send the head of a chunked answer; the body follows through the returned Stream."""
    if request.aiohttp is not None:
        resp = web.StreamResponse(status=status, headers=headers)
        resp.enable_chunked_encoding()
        await resp.prepare(request.aiohttp)
        return Stream(request.transport, None, resp, status)
    conn = request._conn
    assert conn is not None
    conn.begin_stream(status, headers)
    return Stream(request.transport, conn, None, status)


_date_cache: tuple[int, bytes] = (0, b"")


def _date() -> bytes:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True).encode("ascii"))
    return _date_cache[1]


def _head(status: int, headers: Iterable[tuple[str, str]], extra: bytes) -> bytes:
    lines = [b"HTTP/1.1 %d %s\r\nDate: %s\r\n" % (status, _REASONS.get(status, b"Unknown"), _date())]
    for k, v in headers:  # UTF-8, as aiohttp and Go write them (a Warning may quote any field name)
        lines.append(f"{k}: {v}\r\n".encode())
    lines.append(extra)
    return b"".join(lines)


class HttpConnection(asyncio.Protocol):
    """One client connection (TCP, TLS or unix socket)."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._raw: bytearray | None = bytearray()  # bytes of the first request, for a hand-over
        self._url = b""
        self._headers = Headers()
        self._incoming: Request | None = None  # the request whose body is arriving
        self._queue: deque[tuple[Request, bool]] = deque()
        self._current: asyncio.Task[None] | None = None
        self._current_streams = False
        self._serving: Request | None = None  # the request `_current` serves (the stuck check)
        self._requests = 0  # requests started on this connection
        self._upgrade = False
        self._closed = False
        self._reading = True
        self._can_write: asyncio.Future[None] | None = None
        self.last_active = time.monotonic()

    # -- the transport's callbacks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._incoming is not None:
            self._incoming._finish_body(ConnectionResetError("the client went away before the end of its body"))
            self._incoming = None
        if self._current is None:  # else kept until its request ends (HttpServer's stuck check)
            self.server.connections.discard(self)
        if self._can_write is not None and not self._can_write.done():
            self._can_write.set_result(None)
        if self._current is not None and (self._current_streams or (
                self._serving is not None and self._serving.phase == "seat")):
            # a watch whose client left: nothing more to send it. A request still waiting for its
            # priority level's seat has done nothing yet: its client gave up (its time limit), so
            # it must neither take a seat from a live one nor write what its client took for failed
            # (Kubernetes cancels the request's context when its client goes)
            self._current.cancel()

    def pause_writing(self) -> None:
        if self._can_write is None or self._can_write.done():
            self._can_write = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._can_write is not None and not self._can_write.done():
            self._can_write.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._raw is not None:
            self._raw += data
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # the headers asked for an upgrade: handled below
        except httptools.HttpParserError as e:
            self._bad_request(f"malformed HTTP request: {e}")
            return
        if self._upgrade:
            self._hand_over()

    # -- the parser's callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = Headers()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.add(name.decode("latin-1").lower(), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        headers = self._headers
        if dict.__contains__(headers, "upgrade"):
            self._upgrade = True
            return
        parser = self._parser
        version = parser.get_http_version()
        expect = headers.get("expect")
        if expect is not None and expect.lower() == "100-continue" and self.transport is not None and version == "1.1":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        raw_path, _, qs = self._url.decode("latin-1").partition("?")
        major, _, minor = version.partition(".")
        request = Request(parser.get_method().decode("ascii"), raw_path, qs, headers,
                          (int(major or 1), int(minor or 1)), b"", self.transport)
        request.complete = False
        request._conn = self
        self._incoming = request
        keep_alive = parser.should_keep_alive()
        if self._current is None:
            self._start(request, keep_alive)
        else:
            self._queue.append((request, keep_alive))
            if len(self._queue) >= MAX_QUEUED and self._reading and self.transport is not None:
                self.transport.pause_reading()
                self._reading = False

    def on_body(self, body: bytes) -> None:
        if self._incoming is not None:
            self._incoming._add_body(body)

    def on_message_complete(self) -> None:
        if self._upgrade:
            return
        self._raw = None  # past the first request: never handed over any more
        if self._incoming is not None:
            self._incoming._finish_body()
            self._incoming = None

    # -- serving ------------------------------------------------------------------------------------

    def _start(self, request: Request, keep_alive: bool) -> None:
        self._requests += 1
        self._current_streams = False
        self._current = asyncio.get_running_loop().create_task(self._serve(request, keep_alive))

    async def _serve(self, request: Request, keep_alive: bool) -> None:
        """Answer one request, then start the next. Whatever fails on the way closes the connection:
        a connection left with a request that never ends would hold every later one of its client."""
        current_request.set(request)
        self._serving = request
        request.queued_seconds = time.perf_counter() - request.started
        request.phase = "handler"
        outcome = "answered"
        try:
            if self._requests == 1 and request.method not in _SAFE_METHODS:
                # The first request of a connection may have waited unread (accept queue, a starved
                # server) while its client gave up and closed: then its bytes and the close are read
                # together, the close one loop turn later. Look once more before running a write.
                await asyncio.sleep(0)
            tr = self.transport
            if self._closed or tr is None or tr.is_closing():
                # Its client closed the connection before the request started: nothing can answer
                # it, and its client took it for failed (a time limit) and may have sent a newer
                # write since on another connection. Run late, a kubelet's stale pod status
                # overwrote the newer one (docs/apiserver.md, "Slow requests").
                outcome = "not started: the client had gone"
                self._close()
                return
            expect = request.headers.get("expect")
            if expect is not None and expect.lower() != "100-continue":
                reply: Reply = Answer(f"Unknown Expect: {expect}".encode(), 417, "text/plain")
            else:
                reply = await self.server.handler(request)
            request.code = reply.status
            if self._closed:
                outcome = "the client had gone: answer not sent"
                return
            request.phase = "write"
            written = request.phase_started = time.perf_counter()
            self._write_reply(request, reply, keep_alive)
            if not keep_alive:
                self._close()
                return
            if self._can_write is not None and not self._can_write.done():
                await self._can_write
            request.write_seconds = time.perf_counter() - written
        except asyncio.CancelledError:
            outcome = "cancelled: the client had gone"
            if not self._closed:
                raise
            return
        except ConnectionResetError:  # the client left while its answer was being written
            outcome = "the client went away during the answer"
            self._close()
            return
        except Exception:  # noqa: BLE001 - the handler answers its own errors; this is a last resort
            outcome = "failed"
            log.exception("unhandled error serving %s %s", request.method, request.path)
            self._close()
            return
        finally:
            self._serving = None
            if self._closed:
                self.server.connections.discard(self)
            self.last_active = time.monotonic()
            total = time.perf_counter() - request.started
            if outcome.startswith("not started"):
                log.warning("request dropped: %s", request.trace(total, outcome))
            elif total > self.server.slow_request and not self._current_streams and request.verb != "watch":
                log.warning("slow request: %s", request.trace(total, f"{outcome} {request.code or ''}".rstrip()))
        self._next()

    def _next(self) -> None:
        self._current = None
        if self._closed:
            return
        if self._queue:
            request, keep_alive = self._queue.popleft()
            self._start(request, keep_alive)
        if not self._reading and len(self._queue) < MAX_QUEUED and self.transport is not None:
            self.transport.resume_reading()
            self._reading = True

    def begin_stream(self, status: int, headers: Mapping[str, str]) -> None:
        """Write the head of a chunked answer (open_stream)."""
        assert self.transport is not None
        self._current_streams = True
        self.transport.write(_head(status, headers.items(), b"Transfer-Encoding: chunked\r\n\r\n"))

    async def drain(self) -> None:
        if self._can_write is not None and not self._can_write.done():
            await self._can_write
        if self._closed:
            raise ConnectionResetError("the client went away")

    def _write_reply(self, request: Request, reply: Reply, keep_alive: bool) -> None:
        tr = self.transport
        assert tr is not None
        if isinstance(reply, Stream):
            if not tr.is_closing():
                tr.write(b"0\r\n\r\n")
            return
        if isinstance(reply, Answer):
            status, body = reply.status, reply.body
            pairs: list[tuple[str, str]] = [("Content-Type", reply.content_type)]
            if reply.headers:
                pairs.extend(reply.headers.items())
        elif isinstance(reply, web.Response):
            status = reply.status
            raw = reply.body
            body = bytes(raw) if isinstance(raw, (bytes, bytearray, memoryview)) else (
                b"" if raw is None else str(raw).encode())
            pairs = [(k, v) for k, v in reply.headers.items() if k.lower() not in ("content-length",
                                                                                      "transfer-encoding")]
        else:  # another kind of aiohttp response (a WebSocket): only aiohttp's server can write it
            log.error("cannot write a %s on this connection", type(reply).__name__)
            self._close()
            return
        extra = b"Content-Length: %d\r\n%s\r\n" % (len(body), b"" if keep_alive else b"Connection: close\r\n")
        head = _head(status, pairs, extra)
        if request.method == "HEAD":
            tr.write(head)
        elif len(body) > SPLIT_WRITE:
            tr.write(head)
            tr.write(body)
        else:
            tr.write(head + body)

    def _bad_request(self, message: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            body = message.encode()
            self.transport.write(_head(400, [("Content-Type", "text/plain")],
                                       b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body)
        self._close()

    def _hand_over(self) -> None:
        """Give the connection to aiohttp's server (an upgrade: WebSocket), with what was read."""
        if self._raw is None or self._current is not None or self._queue or self.transport is None:
            self._bad_request("an upgrade must be the first request on its connection")
            return
        proto = self.server.fallback()
        data = bytes(self._raw)
        self._raw = None
        self.server.connections.discard(self)
        self.transport.set_protocol(proto)
        proto.connection_made(self.transport)
        proto.data_received(data)

    def _close(self) -> None:
        self._closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def close_if_idle(self, now: float) -> None:
        if self._current is None and not self._queue and now - self.last_active > KEEPALIVE:
            self._close()

    def report_stuck(self, now: float, limit: float) -> None:
        """Log (once) the request this connection serves if it has been in progress over `limit`
        seconds: a request that never ends would otherwise never log its slow-request line."""
        request = self._serving
        if request is None or request.reported or self._current_streams or request.verb == "watch":
            return  # a stream (watch, logs) lasts as long as its client wants
        age = now - request.started
        if age > limit:
            request.reported = True
            log.warning("stuck request, still %s: %s", request.phase,
                        request.trace(age, "in progress" + (" (its client has gone)" if self._closed else ""), now))


class HttpServer:
    """The listeners' shared state: the handler, the aiohttp server for upgrades, the connections."""

    def __init__(self, handler: Callable[[Request], Awaitable[Reply]], fallback: Callable[[], asyncio.Protocol]) -> None:
        self.handler = handler
        self.fallback = fallback
        self.connections: set[HttpConnection] = set()
        #: seconds after which a request logs its slow-request line (inf: never)
        self.slow_request = SLOW_REQUEST
        #: seconds after which a request still in progress is logged as stuck
        self.stuck_request = STUCK_REQUEST
        self._servers: list[asyncio.AbstractServer] = []
        self._sweeper: asyncio.Task[None] | None = None

    def protocol(self) -> HttpConnection:
        return HttpConnection(self)

    async def listen(self, sock: Any, ssl_context: Any = None) -> None:
        loop = asyncio.get_running_loop()
        self._servers.append(await loop.create_server(self.protocol, sock=sock, ssl=ssl_context, backlog=1024))
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="http idle connections")

    async def _sweep(self) -> None:
        last_idle_check = time.monotonic()
        while True:
            await asyncio.sleep(min(KEEPALIVE / 5, self.stuck_request / 3))
            now = time.monotonic()
            if now - last_idle_check >= KEEPALIVE / 5:
                last_idle_check = now
                for conn in list(self.connections):
                    conn.close_if_idle(now)
            started = time.perf_counter()
            for conn in list(self.connections):
                conn.report_stuck(started, self.stuck_request)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for s in self._servers:
            s.close()
        for conn in list(self.connections):
            if conn._current is not None:
                conn._current.cancel()
            conn._close()
        for s in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(s.wait_closed(), 1.0)
        self._servers.clear()
