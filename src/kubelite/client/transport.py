"""HTTP/1.1 to one API server: a pool of keep-alive connections, whole answers and streamed ones.

Why not aiohttp's client: it costs ~250-350 us of CPU per small request (its request and response
objects, URL building, tracing hooks, cookie jar and timeout machinery), about four times what the
API server spends on the HTTP of the same request. A kubelite component only ever talks to one
server, with a few fixed headers and JSON bodies, so what it needs is small: connections kept
open and reused, requests written as one buffer, answers parsed by httptools (the llhttp parser of
Node.js, as a well-kept binding). Measured on this machine against the same server, the same PATCH
costs the client ~50-100 us (docs/client.md has the figures).

The shapes follow HTTP/1.1 (RFC 9112): one exchange at a time per connection; a body framed by
Content-Length, chunked transfer coding, or the end of the connection; a connection reused only when
the answer allows it (`should_keep_alive`). A request that fails on a reused connection before any byte
of the answer arrived is sent again once on a new connection when its method is idempotent (the server
may have closed the idle connection as we wrote), as Go's net/http and aiohttp do.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import cast

import httptools

#: methods that may be sent again after a reused connection was found closed (RFC 9110 9.2.2)
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

#: a streamed answer stops reading from the socket while this much is buffered and unread
STREAM_HIGH_WATER = 1 << 20

INF = math.inf

#: a body larger than this is written as a second buffer instead of being copied behind the head
COPY_LIMIT = 1 << 16


class ConnectionClosed(ConnectionError):
    """The connection ended (or broke) before the answer was complete."""


class ProtocolError(ConnectionError):
    """The server's bytes are not an HTTP/1.1 answer."""


class Response:
    """A whole answer: status, headers (lower-case names) and body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class _Connection(asyncio.Protocol):
    """One connection and the one exchange in flight on it (httptools calls the on_* methods)."""

    def __init__(self, arm: Callable[[float], None] | None = None) -> None:
        self.parser = httptools.HttpResponseParser(self)
        #: the pool's watchdog: called with a new deadline (loop time) so that it fires by then
        self._arm = arm
        #: loop time by which the exchange in flight (or the wait for a streamed piece) fails with
        #: TimeoutError; inf: none. Checked by the pool's one watchdog timer, not a timer of its own.
        self.deadline = INF
        #: a streamed answer: seconds a wait for the next piece may last (None: no limit)
        self.read_timeout: float | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.received = False  # any byte of the current answer
        #: exchanges sent on this connection (a time limit's message says whether it was new)
        self.exchanges = 0
        self._headers: dict[str, str] = {}
        self._headers_done: asyncio.Future[None] | None = None
        self._message_done: asyncio.Future[None] | None = None
        self._body: list[bytes] = []
        self._complete = False
        self._keep_alive = False
        self._error: BaseException | None = None
        # streamed answers
        self._streaming = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._chunk_waiter: asyncio.Future[None] | None = None

    # -- exchange -------------------------------------------------------------------------------

    def send(self, data: bytes, body: bytes | None, streaming: bool) -> None:
        loop = asyncio.get_running_loop()
        self._headers = {}
        self._body = []
        self._complete = False
        self._error = None
        self.received = False
        self._streaming = streaming
        self.deadline = INF
        self.read_timeout = None  # a stream's is set once its head has come (StreamedResponse)
        self.exchanges += 1
        self._headers_done = loop.create_future()
        self._message_done = loop.create_future()
        assert self.transport is not None
        if body is not None and len(body) > COPY_LIMIT:
            self.transport.writelines((data, body))
        else:
            self.transport.write(data + body if body else data)

    async def answer(self) -> Response:
        assert self._message_done is not None
        await self._message_done
        return Response(self.parser.get_status_code(), self._headers, b"".join(self._body))

    async def head(self) -> tuple[int, dict[str, str]]:
        assert self._headers_done is not None
        await self._headers_done
        return self.parser.get_status_code(), self._headers

    async def next_chunk(self) -> bytes | None:
        """The next piece of a streamed body; None at its end."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._complete:
                return None
            loop = asyncio.get_running_loop()
            if self.read_timeout is not None:  # the wait is limited; reading what is buffered is not
                self.deadline = loop.time() + self.read_timeout
                if self._arm is not None:
                    self._arm(self.deadline)
            self._chunk_waiter = loop.create_future()
            try:
                await self._chunk_waiter
            finally:
                self._chunk_waiter = None
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._paused and self._buffered < STREAM_HIGH_WATER // 2 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    def expire(self, now: float) -> float:
        """The watchdog's check: fail the exchange with TimeoutError if it is still waiting past its
        deadline; the deadline still to watch (inf: nothing to watch)."""
        deadline = self.deadline
        if deadline == INF or self.closed:
            return INF
        if self._streaming and self._headers_done is not None and self._headers_done.done():
            waiting = self._chunk_waiter is not None  # only a wait for a piece counts, not reading
        else:
            waiting = self._message_done is not None and not self._message_done.done()
        if not waiting:
            return INF  # a stream that waits again sets (and arms) a new deadline
        if deadline > now:
            return deadline
        self.deadline = INF
        self._fail(TimeoutError(f"no answer within the time limit ({self.read_timeout}s without data)"
                                if self._streaming else
                                "no answer within the time limit (request sent on a new connection)"
                                if self.exchanges == 1 else
                                f"no answer within the time limit (request sent on a connection reused "
                                f"{self.exchanges - 1} time(s))"))
        return INF

    @property
    def reusable(self) -> bool:
        return self._complete and self._keep_alive and not self.closed and self._error is None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not registered subclasses

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolError("the server switched protocols"))
        except httptools.HttpParserError as e:
            self._fail(ProtocolError(f"the server's answer is not HTTP/1.1: {e}"))

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        done = self._headers_done
        if done is not None and done.done() and not self._complete and self._error is None \
                and "content-length" not in self._headers and "chunked" not in self._headers.get(
                    "transfer-encoding", "").lower():
            self.on_message_complete()  # a body delimited by the end of the connection
            return
        if not self._complete:
            message = f"the server closed the connection{f': {exc}' if exc else ''}"
            errno = getattr(exc, "errno", None)  # e.g. ENOTCONN: a unix socket that never connected
            self._fail(ConnectionClosed(errno, message) if errno else ConnectionClosed(message))

    # -- httptools callbacks ----------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = self._headers.get(key)
        self._headers[key] = text if previous is None else f"{previous}, {text}"

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self._headers = {}  # an interim answer; the real one follows
            return
        if self._headers_done is not None and not self._headers_done.done():
            self._headers_done.set_result(None)

    def on_body(self, body: bytes) -> None:
        if not self._streaming:
            self._body.append(body)
            return
        self._chunks.append(body)
        self._buffered += len(body)
        self._wake()
        if self._buffered > STREAM_HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if 100 <= self.parser.get_status_code() < 200:
            return
        self._complete = True
        self._keep_alive = self.parser.should_keep_alive()  # read inside the callback: llhttp resets after it
        for fut in (self._headers_done, self._message_done):
            if fut is not None and not fut.done():
                fut.set_result(None)
        self._wake()

    def _wake(self) -> None:
        if self._chunk_waiter is not None and not self._chunk_waiter.done():
            self._chunk_waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        self._error = error
        for fut in (self._headers_done, self._message_done):
            if fut is not None and not fut.done():
                fut.set_exception(error)
                fut.exception()  # retrieved: nobody may be waiting on both
        self._wake()
        if self.transport is not None:
            self.transport.close()


class StreamedResponse:
    """An answer whose body is read piece by piece (a watch)."""

    def __init__(self, status: int, headers: dict[str, str], conn: _Connection, read_timeout: float | None) -> None:
        self.status = status
        self.headers = headers
        self._conn = conn
        conn.read_timeout = read_timeout

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's pieces as they come; TimeoutError when a wait for the next one lasts longer than
        the read timeout (the pool's watchdog checks it: no timer per piece)."""
        next_chunk = self._conn.next_chunk
        while True:
            chunk = await next_chunk()
            if chunk is None:
                return
            yield chunk

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])


class HttpPool:
    """Keep-alive connections to one server (unix socket, TCP or TLS), at most `limit` open at once."""

    def __init__(self, *, host: str, port: int, unix_path: str | None = None, ssl_context: ssl.SSLContext | None = None,
                 limit: int = 1000, keepalive: float = 60.0, headers: dict[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self.unix_path = unix_path
        self.ssl_context = ssl_context
        self.limit = limit
        self.keepalive = keepalive
        authority = "localhost" if unix_path else (host if ":" not in host else f"[{host}]") + f":{port}"
        fixed = {"Host": authority, **(headers or {})}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode("latin-1")
        self._idle: deque[_Connection] = deque()
        self._all: set[_Connection] = set()
        #: callers waiting for a connection, oldest first; each is woken with a released connection
        #: (handed over) or None (a slot is reserved for it: it opens a new connection)
        self._waiters: deque[asyncio.Future[_Connection | None]] = deque()
        #: slots given to woken waiters that have not opened their connection yet
        self._reserved = 0
        self._closed = False
        #: one timer for the time limits of every exchange (_arm)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = INF

    # -- requests -------------------------------------------------------------------------------

    def _encode(self, method: str, target: str, headers: dict[str, str] | None, body: bytes | None) -> bytes:
        head = b"%s %s HTTP/1.1\r\n%s" % (method.encode("ascii"), target.encode("ascii"), self._fixed)
        if headers:
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("latin-1")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            head += b"Content-Length: %d\r\n" % (len(body) if body else 0)
        return head + b"\r\n"

    async def request(self, method: str, target: str, *, headers: dict[str, str] | None = None,
                      body: bytes | None = None, time_limit: float | None = None) -> Response:
        """Send one request and read its whole answer; TimeoutError after `time_limit` seconds.

        The limit costs no timer of its own (a uvloop timer per request was ~5 % of a component's
        CPU): the exchange's deadline is left on its connection, where the pool's one watchdog timer
        finds it (_arm); only a wait for a connection (none idle) runs under asyncio.timeout_at."""
        data = self._encode(method, target, headers, body)
        deadline = INF if time_limit is None else asyncio.get_running_loop().time() + time_limit
        for attempt in (0, 1):
            taken = self._take_idle()
            if taken is not None:
                conn, reused = taken, True
            else:
                try:
                    async with asyncio.timeout_at(None if deadline == INF else deadline):
                        conn, reused = await self._acquire()
                except TimeoutError as e:  # never sent: say so (the server never saw it)
                    if e.errno is not None:
                        raise  # the system's (a TCP connect that timed out)
                    raise TimeoutError(f"no connection within the time limit ({len(self._all)} open of "
                                       f"{self.limit}, {len(self._waiters)} waiting)") from None
            try:
                conn.send(data, body, streaming=False)
                if deadline != INF:
                    conn.deadline = deadline
                    if deadline < self._timer_at:
                        self._arm(deadline)
                response = await conn.answer()
            except BaseException as e:
                if self._failed(conn, e, reused, method, attempt):
                    continue
                raise
            self._release(conn)
            return response
        raise AssertionError("unreachable")  # the second attempt returns or raises

    @asynccontextmanager
    async def stream(self, method: str, target: str, *, headers: dict[str, str] | None = None,
                     read_timeout: float | None = None, connect_timeout: float | None = None,
                     ) -> AsyncIterator[StreamedResponse]:
        """Send one request; the answer's body is read as it comes (no total time limit). Leaving the
        block before the end of the body closes the connection."""
        data = self._encode(method, target, headers, None)
        conn: _Connection | None = None
        for attempt in (0, 1):
            async with asyncio.timeout(connect_timeout):
                conn, reused = await self._acquire()
            try:
                conn.send(data, None, streaming=True)
                async with asyncio.timeout(read_timeout):
                    status, response_headers = await conn.head()
                break
            except BaseException as e:
                if self._failed(conn, e, reused, method, attempt):
                    continue
                raise
        assert conn is not None
        try:
            yield StreamedResponse(status, response_headers, conn, read_timeout)
        except BaseException:
            self._discard(conn)
            raise
        if conn.reusable:
            self._release(conn)
        else:
            self._discard(conn)

    def _failed(self, conn: _Connection, error: BaseException, reused: bool, method: str, attempt: int) -> bool:
        """Drop the connection of a failed exchange (cut short, it is in an unknown state); whether
        the request may be sent again on a new one: a reused connection found closed before any byte
        of the answer, an idempotent method, the first attempt (module docstring)."""
        self._discard(conn)
        return (isinstance(error, ConnectionClosed) and reused and not conn.received and method in IDEMPOTENT
                and attempt == 0)

    # -- time limits ----------------------------------------------------------------------------

    def _arm(self, deadline: float) -> None:
        """Make the watchdog fire by `deadline` (loop time). It is re-armed lazily: an exchange that
        ends leaves it as it is, and a firing that finds nothing expired sets it to the earliest
        deadline still pending, so it fires about once per time limit, not once per exchange."""
        if deadline >= self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = asyncio.get_running_loop().call_at(deadline, self._watchdog)

    def _watchdog(self) -> None:
        self._timer, self._timer_at = None, INF
        now = asyncio.get_running_loop().time()
        earliest = INF
        for conn in list(self._all):
            deadline = conn.expire(now)
            if deadline < earliest:
                earliest = deadline
        if earliest != INF and not self._closed:
            self._arm(earliest)

    # -- the pool -------------------------------------------------------------------------------

    def _take_idle(self) -> _Connection | None:
        """The most recently used idle connection still fit for use (the least likely to have been
        closed by the server), or None."""
        if self._closed or not self._idle:
            return None
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if conn.closed or now - conn.idle_since > self.keepalive:
                self._discard(conn)
                continue
            return conn
        return None

    async def _acquire(self) -> tuple[_Connection, bool]:
        """An idle connection, a new one while under the limit, else the next one released, in the
        order the callers came. A released connection is handed to the oldest waiter, never left
        for whoever asks first: a caller that sends its next request as soon as its answer came
        (a status writer's loop) took it back before the woken waiter ran, and the waiter, back
        at the end of the queue, could wait past its time limit while the pool was busy."""
        if self._closed:
            raise RuntimeError("the HTTP client is closed")
        idle = self._take_idle()
        if idle is not None:
            return idle, True
        if not self._waiters and len(self._all) + self._reserved < self.limit:
            return await self._open(), False
        waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            handed = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():  # woken, then cancelled: the turn passes on
                given = waiter.result()
                if given is not None:
                    self._release(given)
                elif not self._closed:
                    self._reserved -= 1
                    self._wake_one()
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise
        if self._closed:
            raise RuntimeError("the HTTP client is closed")
        if handed is not None:
            return handed, True
        self._reserved -= 1
        return await self._open(), False

    async def _open(self) -> _Connection:
        conn = _Connection(self._arm)
        self._all.add(conn)
        try:
            await self._connect(conn)
        except BaseException:
            self._discard(conn)
            raise
        return conn

    async def _connect(self, conn: _Connection) -> None:
        loop = asyncio.get_running_loop()
        if self.unix_path:
            await loop.create_unix_connection(lambda: conn, self.unix_path)
        else:
            await loop.create_connection(lambda: conn, self.host, self.port, ssl=self.ssl_context,
                                         server_hostname=self.host if self.ssl_context else None)

    def _release(self, conn: _Connection) -> None:
        if not conn.reusable or self._closed:
            self._discard(conn)
            return
        conn.idle_since = time.monotonic()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)  # handed over: no newcomer can take it first
                return
        self._idle.append(conn)

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        if conn in self._all:
            self._all.discard(conn)
            self._wake_one()

    def _wake_one(self) -> None:
        """A slot came free: the oldest waiter may open a connection in it (reserved until it does)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._reserved += 1
                waiter.set_result(None)
                return

    async def close(self) -> None:
        """Close every connection, the idle ones and those in use (their exchanges fail)."""
        self._closed = True
        for conn in list(self._all):
            conn.close()
        self._all.clear()
        self._idle.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._timer_at = None, INF
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        await asyncio.sleep(0)  # let the transports finish closing
