"""The API server's own HTTP/1.1 server (kubelite.apiserver.http), over a real socket.

Each test speaks raw HTTP to an HttpServer on loopback, so what is checked is what a client
reads on the wire: framing, keep-alive, order, 100-continue, streams, upgrades, bad input.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from kubelite.apiserver import http
from kubelite.apiserver.http import Answer, HttpServer, Reply, Request, open_stream


class Served:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.bodies: list[bytes] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.stream_ended = asyncio.Event()
        self.upgraded: list[str] = []


async def handler(served: Served, request: Request) -> Reply:
    served.requests.append(request)
    if request.path == "/slow-body":
        served.started.set()  # before the body has arrived
        body = await request.read()
        served.bodies.append(body)
        return Answer(b'{"got":%d}' % len(body), 201)
    if request.path == "/hold":
        served.started.set()
        await served.release.wait()
        return Answer(b"held")
    if request.path == "/warn":  # a header value beyond latin-1 (a Warning quoting a field name)
        return Answer(b"{}", 200, "application/json", {"Warning": '299 - "unknown field \\"spec.日本\\""'})
    if request.path == "/broken":  # a reply this server cannot write
        return Answer(None, 200)  # type: ignore[arg-type]
    if request.path == "/stream":
        stream = await open_stream(request, {"Content-Type": "application/json"})
        await stream.write(b"one\n")
        await stream.write(b"two\n")
        if request.query.get("forever") == "1":
            try:
                await asyncio.Event().wait()
            finally:
                served.stream_ended.set()
        return stream
    body = await request.read()
    served.bodies.append(body)
    return Answer(b"%s %s q=%s len=%d big=%d" % (request.method.encode(), request.path.encode(),
                                                  request.query.get("q", "").encode(), len(body),
                                                  request.body_too_large), 200, "text/plain",
                  {"X-Seen": request.headers.get("x-custom", "")})


@pytest.fixture
async def lean() -> AsyncIterator[tuple[HttpServer, int, Served]]:
    served = Served()

    async def upgraded(request: web.BaseRequest) -> web.StreamResponse:
        served.upgraded.append(request.path)
        return web.Response(text="aiohttp took it")

    lowlevel = web.Server(upgraded, access_log=None)
    runner = web.ServerRunner(lowlevel, handle_signals=False)
    await runner.setup()
    srv = HttpServer(lambda r: handler(served, r), lowlevel)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    await srv.listen(sock)
    try:
        yield srv, sock.getsockname()[1], served
    finally:
        await srv.close()
        await runner.cleanup()


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    async with asyncio.timeout(10):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in headers:
            return status, headers, await reader.readexactly(int(headers["content-length"]))
        body = b""
        while True:  # chunked
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, headers, body
            body += chunk[:-2]


async def test_keep_alive_answers_in_order_with_lengths_and_headers(lean: Any) -> None:
    _, port, served = lean
    reader, writer = await connect(port)
    writer.write(b"GET /a%20b?q=x%2By&q=2 HTTP/1.1\r\nHost: h\r\nX-Custom: one\r\n\r\n")
    status, headers, body = await read_answer(reader)
    assert (status, body) == (200, b"GET /a b q=x+y len=0 big=0")
    assert headers["content-type"] == "text/plain" and headers["x-seen"] == "one" and "date" in headers
    # two requests in one write (pipelined): two answers, in order, on the same connection
    writer.write(b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                 b"PUT /q HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert (await read_answer(reader))[2] == b"POST /p q= len=5 big=0"
    assert (await read_answer(reader))[2] == b"PUT /q q= len=5 big=0"
    assert served.bodies[-2:] == [b"hello", b"abcde"]
    assert [r.headers.get("HOST") for r in served.requests] == ["h", "h", "h"]
    writer.close()


async def test_connection_close_and_http10_close_after_the_answer(lean: Any) -> None:
    _, port, _ = lean
    for request in (b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", b"GET /x HTTP/1.0\r\n\r\n"):
        reader, writer = await connect(port)
        writer.write(request)
        status, headers, _ = await read_answer(reader)
        assert status == 200 and headers.get("connection") == "close"
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # the server closed it
        writer.close()


async def test_handler_starts_before_the_body_and_100_continue_is_sent(lean: Any) -> None:
    _, port, served = lean
    reader, writer = await connect(port)
    writer.write(b"POST /slow-body HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nExpect: 100-continue\r\n\r\n")
    async with asyncio.timeout(5):
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        await served.started.wait()  # the handler runs with no body yet
    writer.write(b"abc")
    await asyncio.sleep(0.05)
    writer.write(b"def")
    status, _, body = await read_answer(reader)
    assert (status, body, served.bodies) == (201, b'{"got":6}', [b"abcdef"])
    writer.close()


async def test_an_oversized_body_is_flagged_not_kept(lean: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "MAX_BODY_KEPT", 10)
    _, port, served = lean
    reader, writer = await connect(port)
    writer.write(b"POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n01234567890")
    assert (await read_answer(reader))[2] == b"POST /big q= len=0 big=1"
    writer.close()


async def test_malformed_request_gets_400_and_close(lean: Any) -> None:
    _, port, served = lean
    reader, writer = await connect(port)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    status, headers, _ = await read_answer(reader)
    assert status == 400 and headers["connection"] == "close"
    async with asyncio.timeout(5):
        assert await reader.read() == b""
    assert served.requests == []
    writer.close()


async def test_stream_is_chunked_and_a_client_leaving_ends_it(lean: Any) -> None:
    _, port, served = lean
    reader, writer = await connect(port)
    writer.write(b"GET /stream HTTP/1.1\r\nHost: h\r\n\r\n")
    status, headers, body = await read_answer(reader)
    assert (status, headers["transfer-encoding"], body) == (200, "chunked", b"one\ntwo\n")
    # the connection is still good for the next request
    writer.write(b"GET /after HTTP/1.1\r\nHost: h\r\n\r\n")
    assert (await read_answer(reader))[2] == b"GET /after q= len=0 big=0"
    # an endless stream ends (its handler is cancelled) when the client goes away
    writer.write(b"GET /stream?forever=1 HTTP/1.1\r\nHost: h\r\n\r\n")
    async with asyncio.timeout(5):
        await reader.readuntil(b"two\n\r\n")
    writer.close()
    async with asyncio.timeout(5):
        await served.stream_ended.wait()


async def test_upgrade_first_request_goes_to_aiohttp_later_one_is_refused(lean: Any) -> None:
    _, port, served = lean
    reader, writer = await connect(port)
    writer.write(b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    status, _, body = await read_answer(reader)
    assert (status, body, served.upgraded) == (200, b"aiohttp took it", ["/ws"])
    writer.close()

    reader, writer = await connect(port)
    writer.write(b"GET /first HTTP/1.1\r\nHost: h\r\n\r\n")
    await read_answer(reader)
    writer.write(b"GET /ws2 HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    status, _, body = await read_answer(reader)
    assert status == 400 and b"first request" in body
    assert served.upgraded == ["/ws"]
    writer.close()


async def test_idle_connections_close_busy_ones_stay(lean: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    srv, port, served = lean
    monkeypatch.setattr(http, "KEEPALIVE", 0.3)
    idle_reader, idle_writer = await connect(port)
    idle_writer.write(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
    await read_answer(idle_reader)
    busy_reader, busy_writer = await connect(port)
    busy_writer.write(b"GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
    await served.started.wait()
    await asyncio.sleep(0.4)
    for conn in list(srv.connections):  # what the server's sweep does every KEEPALIVE/5
        conn.close_if_idle(time.monotonic())
    async with asyncio.timeout(5):
        assert await idle_reader.read() == b""
    served.release.set()
    assert (await read_answer(busy_reader))[2] == b"held"
    idle_writer.close()
    busy_writer.close()


async def test_header_values_beyond_latin1_are_written_as_utf8(lean: Any) -> None:
    _, port, _ = lean
    reader, writer = await connect(port)
    writer.write(b"GET /warn HTTP/1.1\r\nHost: h\r\n\r\n")
    async with asyncio.timeout(10):
        head = await reader.readuntil(b"\r\n\r\n")
    assert 'Warning: 299 - "unknown field \\"spec.日本\\""'.encode() in head
    writer.close()


async def test_a_reply_that_cannot_be_written_closes_the_connection(lean: Any,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Not a connection that never answers again (its client would wait out its time limit)."""
    _, port, _ = lean
    reader, writer = await connect(port)
    writer.write(b"GET /broken HTTP/1.1\r\nHost: h\r\n\r\n")
    async with asyncio.timeout(10):
        assert await reader.read() == b""
    assert any("unhandled error serving GET /broken" in r.getMessage() for r in caplog.records)
    writer.close()
