"""Time limits of the client's HTTP pool, kept by one watchdog timer per pool instead of a timer per
request or per streamed piece: a short limit is kept even while longer ones are pending, a stream
whose server goes silent fails, and a stream read slowly (its pieces buffered) does not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kubelite.client.transport import HttpPool

from .test_transport import Scripted, answer, read_request

#: a guard so that a broken limit fails the test instead of hanging it (not a timing assertion)
GUARD = 20


@pytest.fixture
def sock(tmp_path: Path) -> str:
    return str(tmp_path / "d.sock")


@pytest.fixture
async def pool(sock: str) -> AsyncIterator[HttpPool]:
    p = HttpPool(host="localhost", port=80, unix_path=sock)
    yield p
    await p.close()


async def silent_on(path: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request at once, but never one for `path`."""
    while True:
        head, _ = await read_request(reader)
        if head.split(b" ")[1] == path:
            await asyncio.sleep(3600)
        writer.write(answer(b"ok"))
        await writer.drain()


async def test_a_short_limit_is_kept_while_a_longer_one_is_pending(sock: str, pool: HttpPool) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await silent_on(b"/silent", reader, writer)

    async with Scripted(sock, handler):
        long = asyncio.create_task(pool.request("GET", "/silent", time_limit=3600))
        await asyncio.sleep(0.05)  # the long limit is the first one the watchdog knows
        async with asyncio.timeout(GUARD):
            with pytest.raises(TimeoutError):
                await pool.request("GET", "/silent", time_limit=0.2)
            # the pool still works, and the long request is still waiting (its limit not reached)
            assert (await pool.request("GET", "/fine", time_limit=5)).body == b"ok"
        assert not long.done()
        long.cancel()
        with pytest.raises(asyncio.CancelledError):
            await long


async def test_many_requests_in_turn_each_get_their_answer_and_the_limit_still_holds(
        sock: str, pool: HttpPool) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await silent_on(b"/silent", reader, writer)

    async with Scripted(sock, handler) as server:
        async with asyncio.timeout(GUARD):
            for _ in range(200):  # each ends well within its limit: nothing may fire for them
                assert (await pool.request("GET", "/x", time_limit=0.5)).body == b"ok"
            assert server.connections == 1
            await asyncio.sleep(0.6)  # past the limits of all of them: an old deadline must not fire
            assert (await pool.request("GET", "/x", time_limit=0.5)).body == b"ok"
            with pytest.raises(TimeoutError):
                await pool.request("GET", "/silent", time_limit=0.2)


async def test_a_stream_whose_server_goes_silent_fails_after_its_read_timeout(sock: str, pool: HttpPool) -> None:
    async def one_piece_then_silence(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nline1\n\r\n")
        await writer.drain()
        await asyncio.sleep(3600)

    async with Scripted(sock, one_piece_then_silence):
        async with asyncio.timeout(GUARD):
            with pytest.raises(TimeoutError):
                async with pool.stream("GET", "/watch", read_timeout=0.3) as resp:
                    pieces = resp.chunks()
                    assert await anext(pieces) == b"line1\n"
                    await anext(pieces)


async def test_a_stream_read_slowly_does_not_time_out_while_its_pieces_wait_for_it(
        sock: str, pool: HttpPool) -> None:
    async def three_pieces(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(3):
            writer.write(b"6\r\nline%d\n\r\n" % i)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with Scripted(sock, three_pieces):
        got = []
        async with pool.stream("GET", "/watch", read_timeout=0.2) as resp:
            async for piece in resp.chunks():
                got.append(piece)
                await asyncio.sleep(0.3)  # longer than the read timeout, but nothing is waited for
        assert b"".join(got) == b"line0\nline1\nline2\n"
