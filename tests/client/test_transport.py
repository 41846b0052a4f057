"""The client's HTTP/1.1 connection pool against a scripted server on a unix socket: what goes over
the wire (connections kept and reused, answers framed every way HTTP/1.1 allows, retries only where
they are safe, time limits, the pool's size)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from kubelite.client.rest import ApiClient, ApiError, is_connection_error
from kubelite.client.transport import ConnectionClosed, HttpPool

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class Scripted:
    """A unix-socket server; `handler(reader, writer, connection_number)` serves each connection."""

    def __init__(self, path: str, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.server: asyncio.AbstractServer | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            await self.handler(reader, writer, self.connections)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open_now -= 1
            writer.close()

    async def __aenter__(self) -> Scripted:
        self.server = await asyncio.start_unix_server(self._serve, self.path)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """(request head, body) of the next request on the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length) if length else b""


def answer(body: bytes, *extra: str, status: str = "200 OK") -> bytes:
    headers = "".join(f"{h}\r\n" for h in extra)
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode() + body


async def keep_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
    while True:
        head, body = await read_request(reader)
        writer.write(answer(b"echo:" + head.split(b" ")[1] + b":" + body))
        await writer.drain()


@pytest.fixture
def sock(tmp_path: Path) -> str:
    return str(tmp_path / "s.sock")


@pytest.fixture
async def pool(sock: str) -> AsyncIterator[HttpPool]:
    p = HttpPool(host="localhost", port=80, unix_path=sock, headers={"Authorization": "Bearer t"})
    yield p
    await p.close()


async def test_sequential_requests_share_one_kept_alive_connection(sock: str, pool: HttpPool) -> None:
    async with Scripted(sock, keep_answering) as server:
        for i in range(20):
            resp = await pool.request("POST", f"/x/{i}", body=b"b%d" % i, time_limit=5)
            assert (resp.status, resp.body) == (200, b"echo:/x/%d:b%d" % (i, i))
        assert server.connections == 1


async def test_the_request_carries_the_fixed_headers_and_its_body(sock: str, pool: HttpPool) -> None:
    seen: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        head, body = await read_request(reader)
        seen.append(head + body)
        writer.write(answer(b"{}"))

    async with Scripted(sock, record):
        await pool.request("PATCH", "/a?b=c%20d", headers={"Content-Type": "application/merge-patch+json"},
                           body=b'{"x":1}', time_limit=5)
    text = seen[0].decode()
    assert text.startswith("PATCH /a?b=c%20d HTTP/1.1\r\n")
    for line in ("Host: localhost", "Authorization: Bearer t", "Content-Type: application/merge-patch+json",
                 "Content-Length: 7"):
        assert line in text.split("\r\n")
    assert text.endswith('\r\n\r\n{"x":1}')


async def test_connection_close_and_http_1_0_answers_are_not_reused(sock: str, pool: HttpPool) -> None:
    async def close_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(answer(b"ok", "Connection: close"))
        await writer.drain()

    async with Scripted(sock, close_each) as server:
        for _ in range(3):
            assert (await pool.request("GET", "/", time_limit=5)).body == b"ok"
        assert server.connections == 3


async def test_chunked_and_eof_delimited_bodies_are_read_whole(sock: str, pool: HttpPool) -> None:
    async def chunked_then_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nX-A: 2\r\n\r\n")
        for piece in (b"hello ", b"chunked ", b"world"):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        await writer.drain()

    async with Scripted(sock, chunked_then_eof):
        first = await pool.request("GET", "/1", time_limit=5)
        assert first.body == b"hello chunked world" and first.headers["x-a"] == "1, 2"
        assert (await pool.request("GET", "/2", time_limit=5)).body == b"until the end"


async def test_an_idle_connection_closed_by_the_server_is_retried_only_for_idempotent_methods(
        sock: str, pool: HttpPool) -> None:
    async def answer_once_then_drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(answer(b"first"))
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the next request arrives on the kept connection...
        # ...and the server drops it unanswered, as one whose idle timeout just fired

    async with Scripted(sock, answer_once_then_drop) as server:
        await pool.request("GET", "/", time_limit=5)
        assert (await pool.request("GET", "/", time_limit=5)).body == b"first"  # sent again, new connection
        assert server.connections == 2
        with pytest.raises(ConnectionClosed):  # a POST may have been processed: not sent twice
            await pool.request("POST", "/", body=b"x", time_limit=5)
        assert server.connections == 2


async def test_a_silent_server_hits_the_time_limit_and_the_connection_is_dropped(sock: str, pool: HttpPool) -> None:
    async def silent_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        if n == 1:
            await read_request(reader)
            await asyncio.sleep(30)
        await keep_answering(reader, writer, n)

    async with Scripted(sock, silent_first) as server:
        with pytest.raises(TimeoutError, match=r"no answer within the time limit \(request sent on a new connection\)"):
            await pool.request("GET", "/slow", time_limit=0.3)
        assert (await pool.request("GET", "/next", time_limit=5)).body == b"echo:/next:"
        assert server.connections == 2  # the half-used connection was not reused


async def test_the_pool_never_opens_more_than_its_limit(sock: str) -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await read_request(reader)
            await asyncio.sleep(0.02)
            writer.write(answer(b"ok"))

    small = HttpPool(host="localhost", port=80, unix_path=sock, limit=2)
    try:
        async with Scripted(sock, slow) as server:
            results = await asyncio.gather(*(small.request("GET", "/", time_limit=10) for _ in range(12)))
        assert all(r.body == b"ok" for r in results)
        assert server.most_open == 2 and server.connections == 2
    finally:
        await small.close()


async def test_a_full_pool_serves_its_waiters_in_order_a_busy_caller_cannot_starve_them(sock: str) -> None:
    """A caller that sends its next request as soon as its answer came (a kubelet's status writer)
    must not take the released connection from a caller already waiting for one: that one would
    wait until the busy caller stops, past its time limit under a long burst."""
    order: list[str] = []
    small = HttpPool(host="localhost", port=80, unix_path=sock, limit=1)

    async def busy() -> None:
        for i in range(20):
            await small.request("GET", f"/busy/{i}", time_limit=10)
            order.append(f"busy{i}")

    async def waiter() -> None:
        await small.request("GET", "/waiter", time_limit=10)
        order.append("waiter")

    try:
        async with Scripted(sock, keep_answering):
            busy_task = asyncio.create_task(busy())
            await asyncio.sleep(0)  # busy holds the only connection
            await asyncio.gather(busy_task, waiter())
        assert order.index("waiter") <= 2, order  # right after the exchange it waited behind
    finally:
        await small.close()


async def test_a_waiter_that_gives_up_passes_its_turn_on(sock: str) -> None:
    """A waiter whose time limit ends while it waits for a connection must not keep the connection
    (or the slot) it was handed: the next waiter gets it, and the pool stays usable."""
    release = asyncio.Event()

    async def held_then_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        head, _ = await read_request(reader)
        if b"/held" in head:
            await release.wait()
        writer.write(answer(b"ok"))
        await keep_answering(reader, writer, n)

    small = HttpPool(host="localhost", port=80, unix_path=sock, limit=1)
    try:
        async with Scripted(sock, held_then_answering):
            held = asyncio.create_task(small.request("GET", "/held", time_limit=10))
            await asyncio.sleep(0.05)
            with pytest.raises(TimeoutError, match=r"no connection within the time limit \(1 open of 1"):
                await small.request("GET", "/gives-up", time_limit=0.1)  # waits for the only connection
            later = asyncio.create_task(small.request("GET", "/later", time_limit=10))
            await asyncio.sleep(0.05)
            release.set()
            assert (await held).body == b"ok"
            assert (await later).body == b"echo:/later:"
            assert (await small.request("GET", "/again", time_limit=10)).body == b"echo:/again:"
    finally:
        await small.close()


async def test_a_stream_delivers_pieces_as_they_come_and_leaving_early_closes_it(sock: str, pool: HttpPool) -> None:
    release = asyncio.Event()

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"6\r\nline1\n\r\n")
        await writer.drain()
        await release.wait()
        writer.write(b"6\r\nline2\n\r\n")
        await writer.drain()
        await reader.read()  # until the client hangs up

    async with Scripted(sock, endless) as server:
        async with pool.stream("GET", "/watch") as resp:
            assert resp.status == 200
            pieces = resp.chunks()
            assert await anext(pieces) == b"line1\n"  # before the server sent the rest
            release.set()
            assert await anext(pieces) == b"line2\n"
        await asyncio.sleep(0.05)
        assert server.open_now == 0  # the unfinished stream's connection was closed


async def test_api_client_maps_transport_failures_to_connection_errors(sock: str) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()

    async with Scripted(sock, garbage):
        client = ApiClient(f"unix://{sock}", request_timeout=5)
        with pytest.raises(ApiError) as e:
            await client.request("GET", "/api")
        assert is_connection_error(e.value) and "not HTTP/1.1" in e.value.message
        await client.close()
