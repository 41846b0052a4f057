"""ApiClient.watch reads newline-delimited events however the server's chunks cut them: several
events in one chunk, one event over several chunks, blank lines, and a last event with no newline."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from kubelite.api.resources import PODS
from kubelite.client.rest import ApiClient

from .test_transport import Scripted, read_request


def event(kind: str, name: str) -> bytes:
    return orjson.dumps({"type": kind, "object": {"kind": "Pod", "metadata": {"name": name}}})


async def test_events_are_read_whatever_the_chunking(tmp_path: Path) -> None:
    sock = str(tmp_path / "w.sock")
    a, b, c, d, e = (event("ADDED", n) for n in "abcde")
    pieces = [
        a + b"\n" + b + b"\n",  # two whole events in one chunk
        c[:10], c[10:] + b"\n",  # one event over two chunks, the second ending the line
        b"\n",  # a blank line (a keep-alive)
        d + b"\n" + e[:7], e[7:],  # whole then partial; the last event has no newline
    ]

    async def stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in pieces:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.01)  # separate reads, so the client sees the chunks as cut
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async with Scripted(sock, stream):
        client = ApiClient(f"unix://{sock}", request_timeout=5)
        try:
            got = [(ev.type, ev.object["metadata"]["name"])
                   async for ev in client.watch(PODS, "default", timeout_seconds=30)]
        finally:
            await client.close()
    assert got == [("ADDED", n) for n in "abcde"]
